"""The profile against the sandbox world (the change service's world, clock held at 08:30)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.core.clock import sim_now
from bot.core.models import Customer
from bot.core.runtime import Runtime
from bot.parcels import Registered, register
from bot.parcels.sandbox_arrival import sandbox_parcel
from tests.changes.conftest import build


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Runtime]:
    rt = build(tmp_path)
    yield rt
    rt.engine.dispose()


def first_customer(rt: Runtime, locale: str = "en") -> int:
    with rt.sessions() as session:
        found = session.scalar(select(Customer.id).where(Customer.locale == locale).order_by(Customer.id))
        assert found is not None
        return found


def new_parcel(rt: Runtime, customer_id: int) -> Registered:
    with rt.sessions() as session:
        customer = session.get(Customer, customer_id)
        assert customer is not None
        parcel, now = sandbox_parcel(session, customer, sim_now(session)), sim_now(session)
    return register(rt, parcel, now=now)
