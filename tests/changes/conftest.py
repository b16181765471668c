"""The change service against the sandbox world in a temporary database, its clock held still at 08:30."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.core.clock import start_clock
from bot.core.models import AuditLog, Shipment, ShipmentStatus
from bot.core.runtime import Runtime
from tests import worlds
from tests.conftest import T0, make_settings


def build(tmp_path: Path, **settings: object) -> Runtime:
    url = worlds.fresh_sqlite(tmp_path / "changes.db", world_speed=1, built_at=T0)
    rt = Runtime.build(make_settings(url, **settings))
    with rt.sessions() as session, session.begin():
        start_clock(session, sim_start=T0 + timedelta(minutes=90), speed=1)
    return rt


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Runtime]:
    rt = build(tmp_path)
    yield rt
    rt.engine.dispose()


def parcel(rt: Runtime, status: ShipmentStatus, *, returnable: bool = False) -> Shipment:
    """The first sandbox parcel in `status` (delivered ones: with a returnable item, if asked)."""
    with rt.sessions() as session:
        for shipment in session.scalars(select(Shipment).where(Shipment.status == status, Shipment.carrier == "sandbox",
                                                               Shipment.locker_id.is_(None)).order_by(Shipment.id)):
            if returnable and not any(item.get("returnable") for item in shipment.items):
                continue
            session.expunge(shipment)
            return shipment
    raise AssertionError(f"no sandbox parcel {status}")


def audit(rt: Runtime, shipment_id: int) -> list[str]:
    """What was recorded about the shipment: the carrier's change, our re-planning."""
    with rt.sessions() as session:
        return list(session.scalars(select(AuditLog.action).where(AuditLog.entity_id == str(shipment_id))
                                    .order_by(AuditLog.id)))
