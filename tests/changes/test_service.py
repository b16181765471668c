"""Each kind of change through the service, against the sandbox carrier: done, refused, carrier down."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.carriers import Refusal, TimeWindow
from bot.changes import (
    AddressRequest,
    Asker,
    CarrierDown,
    Done,
    InstructionsRequest,
    Kind,
    LockerRequest,
    NeighbourRequest,
    Reason,
    Refused,
    Requester,
    RescheduleRequest,
    ReturnRequest,
    check,
    make,
    options,
)
from bot.core.models import OutboxMessage, Return, Shipment, ShipmentStatus
from bot.core.runtime import Runtime
from tests.changes.conftest import audit, build, parcel


def who(shipment: Shipment, **overrides: Any) -> dict[str, Any]:
    return {"shipment_id": shipment.id, "by": Requester.CUSTOMER, "customer_id": shipment.customer_id,
            "language": "en", **overrides}


def test_reschedule_moves_the_delivery_and_replans_its_messages(world: Runtime) -> None:
    shipment = parcel(world, ShipmentStatus.AT_DEPOT)
    found = options(world, Asker(**who(shipment)))
    assert found.refusals[Kind.RESCHEDULE] is None and found.windows
    window = found.windows[1]
    outcome = make(world, RescheduleRequest(**who(shipment), window=window))
    assert isinstance(outcome, Done) and outcome.message.startswith(f"Done: parcel …{shipment.tracking_number[-4:]} "
                                                                    "now comes ")
    with world.sessions() as session:
        moved = session.get(Shipment, shipment.id)
        assert moved is not None and moved.promised_start == window.start
    assert audit(world, shipment.id)[-2:] == ["reschedule", "replan"]


def test_reschedule_in_german(world: Runtime) -> None:
    shipment = parcel(world, ShipmentStatus.AT_DEPOT)
    window = options(world, Asker(**who(shipment))).windows[0]
    outcome = make(world, RescheduleRequest(**who(shipment, language="de"), window=window))
    assert isinstance(outcome, Done) and outcome.message.startswith("Erledigt: Paket …")


def test_a_taken_window_is_refused_with_the_carriers_code(world: Runtime) -> None:
    shipment = parcel(world, ShipmentStatus.AT_DEPOT)
    window = options(world, Asker(**who(shipment))).windows[0]
    odd = TimeWindow(window.start + timedelta(minutes=7), window.end + timedelta(minutes=7))
    outcome = make(world, RescheduleRequest(**who(shipment), window=odd))
    assert outcome == Refused(Refusal.WINDOW_TAKEN, "That window is no longer available.")
    assert audit(world, shipment.id) == []


def test_locker_redirects_and_then_other_changes_are_refused_before_asking(world: Runtime) -> None:
    shipment = parcel(world, ShipmentStatus.AT_DEPOT)
    lockers = options(world, Asker(**who(shipment))).lockers
    outcome = make(world, LockerRequest(**who(shipment), locker_code=lockers[0].code))
    assert isinstance(outcome, Done) and lockers[0].name in outcome.message and outcome.detail == {
        "locker": lockers[0].code}
    with world.sessions() as session:
        assert session.get(Shipment, shipment.id).locker_id is not None  # type: ignore[union-attr]
    late = check(world, Kind.INSTRUCTIONS, Asker(**who(shipment)))
    assert late is not None and late.code == Refusal.GOING_TO_LOCKER
    assert late.message == "Your parcel is on its way to a locker, so I can't change that now."


def test_unknown_locker_is_refused(world: Runtime) -> None:
    shipment = parcel(world, ShipmentStatus.AT_DEPOT)
    outcome = make(world, LockerRequest(**who(shipment), locker_code="NOPE"))
    assert isinstance(outcome, Refused) and outcome.code == Refusal.UNKNOWN_LOCKER


def test_instructions_reach_the_carrier(world: Runtime) -> None:
    shipment = parcel(world, ShipmentStatus.AT_DEPOT)
    outcome = make(world, InstructionsRequest(**who(shipment, language="nl"), note="  achter het groene hek "))
    assert isinstance(outcome, Done) and "achter het groene hek" in outcome.message
    assert not outcome.message.startswith("Done")  # in Dutch
    with world.sessions() as session:
        assert session.get(Shipment, shipment.id).instructions == "achter het groene hek"  # type: ignore[union-attr]


def test_an_empty_note_is_invalid_and_changes_nothing(world: Runtime) -> None:
    shipment = parcel(world, ShipmentStatus.AT_DEPOT)
    outcome = make(world, InstructionsRequest(**who(shipment), note=" x "))
    assert isinstance(outcome, Refused) and outcome.code == Reason.INVALID
    assert audit(world, shipment.id) == []


def test_neighbour_and_new_address(world: Runtime) -> None:
    shipment = parcel(world, ShipmentStatus.AT_DEPOT)
    outcome = make(world, NeighbourRequest(**who(shipment), neighbour="Meyer, no 14"))
    assert isinstance(outcome, Done) and "Meyer, no 14" in outcome.message
    with world.sessions() as session:
        postcode = session.get(Shipment, shipment.id).postcode  # type: ignore[union-attr]
    outcome = make(world, AddressRequest(**who(shipment), address_line="Gärtnerstraße 3", postcode=postcode))
    assert isinstance(outcome, Done) and "Gärtnerstraße 3" in outcome.message
    outside = make(world, AddressRequest(**who(shipment), address_line="Marienplatz 1", postcode="80331"))
    assert isinstance(outside, Refused) and outside.code == Refusal.OUTSIDE_AREA
    with world.sessions() as session:
        assert session.get(Shipment, shipment.id).address_line == "Gärtnerstraße 3"  # type: ignore[union-attr]


def test_a_label_return_is_booked_and_the_label_emailed(world: Runtime) -> None:
    shipment = parcel(world, ShipmentStatus.DELIVERED, returnable=True)
    found = options(world, Asker(**who(shipment)))
    assert found.refusals[Kind.RETURN] is None and "label" in found.return_methods and found.return_items
    outcome = make(world, ReturnRequest(**who(shipment), items=[], reason="too small", method="label"))
    assert isinstance(outcome, Done) and outcome.message.startswith(f"Return {outcome.detail['rma']} booked.")
    with world.sessions() as session:
        booked = session.scalars(select(Return).where(Return.shipment_id == shipment.id)).one()
        assert booked.method == "label" and booked.reason == "too small"
        mail = session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "email")).all()
        assert [m.subject for m in mail] == [f"Your return label {booked.rma}"]


def test_a_parcel_on_its_way_cannot_be_returned_yet(world: Runtime) -> None:
    shipment = parcel(world, ShipmentStatus.AT_DEPOT)
    refused = check(world, Kind.RETURN, Asker(**who(shipment)))
    assert refused is not None and refused.code == Refusal.NOT_YET_DELIVERED


def test_with_the_driver_nothing_can_change(world: Runtime) -> None:
    shipment = parcel(world, ShipmentStatus.AT_DEPOT)
    with world.sessions() as session, session.begin():
        session.get(Shipment, shipment.id).status = ShipmentStatus.OUT_FOR_DELIVERY  # type: ignore[union-attr]
    for kind in (Kind.RESCHEDULE, Kind.LOCKER, Kind.INSTRUCTIONS, Kind.ADDRESS):
        refused = check(world, kind, Asker(**who(shipment, language="de")))
        assert refused is not None and refused.code == Refusal.OUT_FOR_DELIVERY and "Fahrer" in refused.message
    outcome = make(world, InstructionsRequest(**who(shipment), note="back door"))
    assert isinstance(outcome, Refused) and outcome.code == Refusal.OUT_FOR_DELIVERY
    assert audit(world, shipment.id) == []


def test_only_the_verified_customer_may_change_their_parcel(world: Runtime) -> None:
    shipment = parcel(world, ShipmentStatus.AT_DEPOT)
    stranger = make(world, InstructionsRequest(**who(shipment, customer_id=shipment.customer_id + 1),
                                               note="back door"))
    assert isinstance(stranger, Refused) and stranger.code == Reason.UNKNOWN_PARCEL
    unverified = check(world, Kind.INSTRUCTIONS, Asker(**who(shipment, customer_id=None)))
    assert unverified is not None and unverified.code == Reason.NOT_VERIFIED
    agent = check(world, Kind.INSTRUCTIONS, Asker(shipment_id=shipment.id, by=Requester.AGENT))
    assert agent is None
    assert audit(world, shipment.id) == []


def test_a_carrier_that_does_not_answer_changes_nothing(tmp_path: Path) -> None:
    rt = build(tmp_path)
    shipment = parcel(rt, ShipmentStatus.AT_DEPOT)
    rt.engine.dispose()
    faulty = build(tmp_path / "faulty", sandbox_faults=shipment.tracking_number)
    try:
        outcome = make(faulty, InstructionsRequest(**who(shipment), note="back door"))
        assert isinstance(outcome, CarrierDown) and "nothing was changed" in outcome.message
        assert audit(faulty, shipment.id) == []
        down = options(faulty, Asker(**who(shipment))).refusals[Kind.RESCHEDULE]
        assert down is None or down.code == Reason.CARRIER_DOWN
    finally:
        faulty.engine.dispose()
