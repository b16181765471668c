"""The console's changes go through the change service: the customer's text from the service in their
language, refusals as codes, and a label return's email, as in the chat."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.changes import Done
from bot.core.models import OutboxMessage, Return, Shipment, ShipmentStatus
from bot.core.runtime import Runtime
from bot.web.console_changes import ChangeFailed, change_options, make_change
from tests.changes.conftest import audit, parcel


def test_the_console_offers_windows_and_lockers_for_a_parcel_on_its_way(world: Runtime) -> None:
    shipment = parcel(world, ShipmentStatus.AT_DEPOT)
    offered = change_options(world, shipment.id)
    assert offered["windows"] and "|" in offered["windows"][0]["value"] and offered["lockers"]
    assert offered["items"] == [] and offered["notes"] == []


def test_the_console_says_why_a_parcel_with_the_driver_cant_change(world: Runtime) -> None:
    shipment = parcel(world, ShipmentStatus.AT_DEPOT)
    with world.sessions() as session, session.begin():
        session.get(Shipment, shipment.id).status = ShipmentStatus.OUT_FOR_DELIVERY  # type: ignore[union-attr]
    offered = change_options(world, shipment.id)
    assert offered["windows"] == [] and offered["lockers"] == []
    assert offered["notes"] == ["reschedule: out_for_delivery", "locker: out_for_delivery"]


def test_an_agents_reschedule_is_told_in_the_customers_language(world: Runtime) -> None:
    shipment = parcel(world, ShipmentStatus.AT_DEPOT)
    window = change_options(world, shipment.id)["windows"][1]["value"]
    done = make_change(world, shipment.id, {"kind": "reschedule", "window": window}, [], "de-DE")
    assert isinstance(done, Done) and done.message.startswith(f"Erledigt: Paket …{shipment.tracking_number[-4:]} kommt")
    assert audit(world, shipment.id)[-2:] == ["reschedule", "replan"]


def test_an_agents_label_return_emails_the_label(world: Runtime) -> None:
    shipment = parcel(world, ShipmentStatus.DELIVERED, returnable=True)
    skus = [item["value"] for item in change_options(world, shipment.id)["items"]]
    done = make_change(world, shipment.id, {"kind": "return", "method": "label", "reason": "wrong size"}, skus[:1], "en")
    with world.sessions() as session:
        booked = session.scalars(select(Return).where(Return.shipment_id == shipment.id)).one()
        mail = session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "email")).all()
    assert done.detail["rma"] == booked.rma and booked.items == skus[:1]
    assert [m.subject for m in mail] == [f"Your return label {booked.rma}"]


@pytest.mark.parametrize(("form", "reason"), [
    ({"kind": "teleport"}, "unknown change"),
    ({"kind": "reschedule", "window": "tomorrow"}, "not a window"),
    ({"kind": "locker", "locker": "NOPE"}, "unknown_locker"),
])
def test_a_bad_or_refused_change_changes_nothing(world: Runtime, form: dict[str, str], reason: str) -> None:
    shipment = parcel(world, ShipmentStatus.AT_DEPOT)
    with pytest.raises(ChangeFailed) as failed:
        make_change(world, shipment.id, form, [], "en")
    assert failed.value.reason == reason
    assert audit(world, shipment.id) == []
    with world.sessions() as session:
        assert session.get(Shipment, shipment.id).locker_id is None  # type: ignore[union-attr]
