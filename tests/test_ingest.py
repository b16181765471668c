"""Ingestion rules: duplicates change nothing, older events never move a shipment backwards."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.carriers import CarrierEvent, TimeWindow, UnknownShipment
from bot.carriers.ingest import Outcome, ingest_event
from bot.core.models import Shipment, ShipmentEvent, ShipmentStatus
from bot.core.runtime import Runtime
from tests import factories
from tests.conftest import T0


def _event(tracking_number: str, event_id: str, status: ShipmentStatus, minutes: int, **extra: object) -> CarrierEvent:
    return CarrierEvent(carrier="sandbox", event_id=event_id, tracking_number=tracking_number, status=status,
                        occurred_at=T0 + timedelta(minutes=minutes), **extra)  # type: ignore[arg-type]


@pytest.fixture
def tracking_number(runtime: Runtime) -> str:
    with runtime.sessions() as session, session.begin():
        return factories.shipment(session, factories.customer(session), at=T0).tracking_number


def _state(runtime: Runtime, tracking_number: str) -> tuple[str, int]:
    with runtime.sessions() as session:
        shipment = session.scalars(select(Shipment).where(Shipment.tracking_number == tracking_number)).one()
        count = session.scalar(select(func.count()).select_from(ShipmentEvent)) or 0
        return shipment.status, count


def test_a_newer_event_is_applied_with_its_eta(runtime: Runtime, tracking_number: str) -> None:
    eta = TimeWindow(T0 + timedelta(hours=3), T0 + timedelta(hours=4))
    with runtime.sessions() as session, session.begin():
        result = ingest_event(session, _event(tracking_number, "e1", ShipmentStatus.OUT_FOR_DELIVERY, 10, eta=eta))
    assert result.outcome == Outcome.APPLIED
    with runtime.sessions() as session:
        shipment = session.scalars(select(Shipment)).one()
        assert (shipment.status, shipment.eta_start, shipment.eta_end) == ("out_for_delivery", eta.start, eta.end)


def test_a_redelivered_event_is_a_no_op(runtime: Runtime, tracking_number: str) -> None:
    for _ in range(3):
        with runtime.sessions() as session, session.begin():
            last = ingest_event(session, _event(tracking_number, "same-id", ShipmentStatus.AT_DEPOT, 5))
    assert last.outcome == Outcome.DUPLICATE
    assert _state(runtime, tracking_number) == ("at_depot", 1)


def test_out_for_delivery_after_delivered_changes_nothing(runtime: Runtime, tracking_number: str) -> None:
    with runtime.sessions() as session, session.begin():
        ingest_event(session, _event(tracking_number, "pod", ShipmentStatus.DELIVERED, 60))
    with runtime.sessions() as session, session.begin():
        late = ingest_event(session, _event(tracking_number, "ofd", ShipmentStatus.OUT_FOR_DELIVERY, 30))
    assert late.outcome == Outcome.STALE
    status, events = _state(runtime, tracking_number)
    assert (status, events) == ("delivered", 2)  # recorded for the history, not applied
    with runtime.sessions() as session:
        shipment = session.scalars(select(Shipment)).one()
        assert shipment.return_until == shipment.delivered_at + timedelta(days=30)


def test_an_earlier_stage_or_an_older_event_of_the_same_stage_changes_nothing(
        runtime: Runtime, tracking_number: str) -> None:
    with runtime.sessions() as session, session.begin():
        ingest_event(session, _event(tracking_number, "ofd", ShipmentStatus.OUT_FOR_DELIVERY, 60))
    with runtime.sessions() as session, session.begin():
        assert ingest_event(session, _event(tracking_number, "old-depot", ShipmentStatus.AT_DEPOT, 90)).outcome == Outcome.STALE
        assert ingest_event(session, _event(tracking_number, "x", ShipmentStatus.FAILED_ATTEMPT, 59)).outcome == Outcome.STALE
    assert _state(runtime, tracking_number)[0] == "out_for_delivery"


def test_a_later_stage_applies_even_when_stamped_before_the_state(runtime: Runtime, tracking_number: str) -> None:
    """Issue 12 item 4: a locker arrival stamped 13:18 reached a parcel whose status time said 13:30; it
    was dropped, and the parcel was "on its way to the locker" for the rest of the day. A parcel
    never goes back from a locker to the depot, so the arrival is the news, whatever the clocks say."""
    with runtime.sessions() as session, session.begin():
        ingest_event(session, _event(tracking_number, "depot", ShipmentStatus.AT_DEPOT, 90))
    with runtime.sessions() as session, session.begin():
        result = ingest_event(session, _event(tracking_number, "locker", ShipmentStatus.AT_LOCKER, 78,
                                              extra={"pickup_code": "123456"}))
    assert result.outcome == Outcome.APPLIED
    with runtime.sessions() as session:
        shipment = session.scalars(select(Shipment)).one()
        assert (shipment.status, shipment.locker_pickup_code) == ("at_locker", "123456")
        assert shipment.status_at == T0 + timedelta(minutes=78)  # when it got there
        assert all(event.applied for event in shipment.events)
    with runtime.sessions() as session, session.begin():
        skewed = ingest_event(session, _event(tracking_number, "pod", ShipmentStatus.DELIVERED, 70))
    assert skewed.outcome == Outcome.APPLIED  # picked up: a driver's handset running slow changes nothing


# Events with clocks that disagree with the lifecycle: the depot scan is stamped after the locker arrival.
OUT_OF_STEP = [("it", ShipmentStatus.IN_TRANSIT, 0), ("depot", ShipmentStatus.AT_DEPOT, 90),
               ("ofd", ShipmentStatus.OUT_FOR_DELIVERY, 60), ("fail", ShipmentStatus.FAILED_ATTEMPT, 85),
               ("locker", ShipmentStatus.AT_LOCKER, 80)]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.permutations(OUT_OF_STEP))
def test_the_state_does_not_depend_on_the_order_events_arrive_in(
        sqlite_runtime: Runtime, order: list[tuple[str, ShipmentStatus, int]]) -> None:
    with sqlite_runtime.sessions() as session, session.begin():
        tracking_number = factories.shipment(session, factories.customer(session), at=T0 - timedelta(hours=1)).tracking_number
    for key, status, minutes in order:
        with sqlite_runtime.sessions() as session, session.begin():
            ingest_event(session, _event(tracking_number, f"{tracking_number}:{key}", status, minutes))
    with sqlite_runtime.sessions() as session:
        shipment = session.scalars(select(Shipment).where(Shipment.tracking_number == tracking_number)).one()
        assert (shipment.status, shipment.status_at) == ("at_locker", T0 + timedelta(minutes=80))


def test_a_failed_attempt_can_be_followed_by_the_next_days_round(runtime: Runtime, tracking_number: str) -> None:
    with runtime.sessions() as session, session.begin():
        ingest_event(session, _event(tracking_number, "fail", ShipmentStatus.FAILED_ATTEMPT, 60))
        again = ingest_event(session, _event(tracking_number, "ofd-2", ShipmentStatus.OUT_FOR_DELIVERY, 60 * 24))
    assert again.outcome == Outcome.APPLIED
    assert _state(runtime, tracking_number)[0] == "out_for_delivery"


def test_unknown_shipments_and_statuses_are_refused(runtime: Runtime, tracking_number: str) -> None:
    with pytest.raises(UnknownShipment), runtime.sessions() as session, session.begin():
        ingest_event(session, _event("DS0000000000", "u1", ShipmentStatus.AT_DEPOT, 1))
    with pytest.raises(UnknownShipment), runtime.sessions() as session, session.begin():
        ingest_event(session, CarrierEvent(carrier="other", event_id="o1", tracking_number=tracking_number,
                                           status="at_depot", occurred_at=T0))
    with pytest.raises(ValueError, match="unknown status"), runtime.sessions() as session, session.begin():
        ingest_event(session, _event(tracking_number, "bad", "teleported", 1))  # type: ignore[arg-type]
    assert _state(runtime, tracking_number) == ("in_transit", 0)
