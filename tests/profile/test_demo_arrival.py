"""The demo's "a new parcel arrives" button and command: a sandbox parcel through the intake, profile applied."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from bot.__main__ import _new_parcel
from bot.core.models import Customer, Shipment
from bot.core.runtime import Runtime
from bot.profile import By, Item, set_item
from tests.changes.conftest import build
from tests.test_web import LiveServer


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Runtime]:
    rt = build(tmp_path)
    yield rt
    rt.engine.dispose()


def _customer(world: Runtime) -> tuple[int, str]:
    with world.sessions() as session, session.begin():
        customer = session.scalars(select(Customer).order_by(Customer.id)).first()
        assert customer is not None
        set_item(session, customer_id=customer.id, item=Item.SAFE_PLACE, value="in the porch", by=By.CUSTOMER,
                 channel="sms")
        return customer.id, customer.phone


def _newest(world: Runtime, customer_id: int) -> Shipment:
    with world.sessions() as session:
        found = session.scalars(select(Shipment).where(Shipment.customer_id == customer_id)
                                .order_by(Shipment.id.desc())).first()
        assert found is not None
        return found


def test_the_demo_phone_button_brings_a_new_parcel_with_the_profile_applied(world: Runtime) -> None:
    customer_id, phone = _customer(world)
    with LiveServer(world.settings) as server, httpx.Client(base_url=server.url) as http:
        response = http.post(f"/demo/phone/{phone}/new-parcel", follow_redirects=False)
        assert response.status_code == 303
        assert http.post("/demo/phone/+4915199999999/new-parcel").status_code == 404
        assert http.post("/demo/phone/not-a-phone/new-parcel").status_code == 400
        assert 'id="new-parcel"' in http.get(f"/demo/phone/{phone}").text
    assert _newest(world, customer_id).instructions == "Safe place: in the porch."


def test_the_command_does_the_same(world: Runtime, capsys: pytest.CaptureFixture[str]) -> None:
    _, phone = _customer(world)
    with world.sessions() as session:
        before = session.scalar(select(func.count()).select_from(Shipment))
    assert _new_parcel(world, phone) == 0
    assert '"outcome": "applied"' in capsys.readouterr().out
    with world.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Shipment)) == (before or 0) + 1
    assert _new_parcel(world, "+4915199999999") == 2
