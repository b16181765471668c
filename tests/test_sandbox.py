"""The sandbox carrier: its demo world, its day played out, and what it lets a customer change."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from sqlalchemy import func, select

from bot.carriers import Capability, ChangeRefused, TimeWindow, UnknownShipment
from bot.carriers.sandbox.simulator import tick
from bot.core.clock import sim_now, start_clock
from bot.core.models import (
    Customer,
    Driver,
    Locker,
    Return,
    Route,
    Shipment,
    ShipmentEvent,
    ShipmentStatus,
    Stop,
)
from bot.core.runtime import Runtime
from tests import worlds
from tests.conftest import T0

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def world(sqlite_runtime: Runtime) -> Runtime:
    worlds.load_world(sqlite_runtime, world_speed=30, built_at=T0)
    set_sim_time(sqlite_runtime, berlin(7, 30))
    return sqlite_runtime


def set_sim_time(runtime: Runtime, at: datetime) -> None:
    """Freeze the simulated clock (speed 1: it barely moves during a test)."""
    with runtime.sessions() as session, session.begin():
        start_clock(session, sim_start=at, speed=1)


def run_until(runtime: Runtime, at: datetime, step: timedelta = timedelta(minutes=10)) -> None:
    with runtime.sessions() as session:
        moment = sim_now(session)
    while moment < at:
        moment = min(moment + step, at)
        set_sim_time(runtime, moment)
        with runtime.sessions() as session, session.begin():
            tick(session)


def berlin(hour: int, minute: int = 0, days: int = 0) -> datetime:
    return datetime.combine(T0.astimezone(BERLIN).date() + timedelta(days=days), time(hour, minute), BERLIN)


def test_demo_world_has_the_promised_shape(world: Runtime) -> None:
    with world.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Shipment)) >= 60
        assert session.scalar(select(func.count()).select_from(Driver)) >= 3
        assert session.scalar(select(func.count()).select_from(Route)) >= 3
        lockers = session.scalars(select(Locker)).all()
        assert len(lockers) >= 5 and all(lk.opening_hours and lk.capacity > 0 for lk in lockers)
        customers = session.scalars(select(Customer)).all()
        for c in customers:
            assert phonenumbers.format_number(phonenumbers.parse(c.phone), phonenumbers.PhoneNumberFormat.E164) == c.phone
            assert "@" in c.email and c.locale and ZoneInfo(c.time_zone)
        returnable = session.scalars(select(Shipment).where(Shipment.return_until > T0)).all()
        assert returnable and all(s.status == ShipmentStatus.DELIVERED for s in returnable)
        positions = [(s.lat, s.lng) for s in session.scalars(select(Shipment))]
        assert all(52.3 < lat < 52.7 and 13.0 < lng < 13.8 for lat, lng in positions)  # one city
        assert sim_now(session) >= berlin(7, 30)


def test_the_day_plays_out_through_ingestion_and_a_repeated_tick_changes_nothing(world: Runtime) -> None:
    run_until(world, berlin(8, 5))
    with world.sessions() as session:
        morning = session.scalars(select(Shipment).where(Shipment.status == ShipmentStatus.OUT_FOR_DELIVERY)).all()
        waiting = session.scalars(select(Shipment).where(Shipment.status == ShipmentStatus.AT_DEPOT)).all()
        assert len(morning) >= 10 and len(waiting) >= 10  # the afternoon wave is still at the depot
        assert all(s.promised_start.astimezone(BERLIN).hour < 12 for s in morning)
    run_until(world, berlin(12, 35))
    with world.sessions() as session:
        assert not session.scalars(select(Shipment).where(Shipment.status == ShipmentStatus.AT_DEPOT)).all()
    run_until(world, berlin(21, 0))
    with world.sessions() as session, session.begin():
        statuses = dict(session.execute(select(Shipment.status, func.count()).group_by(Shipment.status)).all())
        events_before = session.scalar(select(func.count()).select_from(ShipmentEvent))
        assert statuses.get(ShipmentStatus.DELIVERED, 0) >= 40
        assert statuses.get(ShipmentStatus.FAILED_ATTEMPT, 0) >= 1
        stops = session.scalars(select(Stop).where(Stop.completed_at.is_not(None))).all()
        late = [st for st in stops if st.completed_at > st.planned_at + timedelta(minutes=15)]
        assert late, "some stops run late"
        # every change went through ingestion: a delivered shipment has its applied event
        delivered = session.scalars(select(Shipment).where(Shipment.status == ShipmentStatus.DELIVERED)).all()
        assert all(any(e.applied and e.status == "delivered" for e in s.events) for s in delivered)
        assert not tick(session).applied
        assert session.scalar(select(func.count()).select_from(ShipmentEvent)) == events_before


def test_failed_attempts_come_back_the_next_working_day(world: Runtime) -> None:
    run_until(world, berlin(21, 0))
    with world.sessions() as session:
        failed = session.scalars(select(Shipment).where(Shipment.status == ShipmentStatus.FAILED_ATTEMPT)).all()
        failed_numbers = {s.tracking_number for s in failed}
    run_until(world, berlin(8, 5, days=1), step=timedelta(hours=1))
    with world.sessions() as session:
        again = session.scalars(select(Shipment).where(Shipment.tracking_number.in_(failed_numbers))).all()
        assert {s.status for s in again} == {ShipmentStatus.OUT_FOR_DELIVERY}


def _first(runtime: Runtime, status: ShipmentStatus) -> Shipment:
    with runtime.sessions() as session:
        return session.scalars(select(Shipment).where(Shipment.status == status).order_by(Shipment.id)).first()


def test_capabilities_are_all_on(world: Runtime) -> None:
    assert world.carrier("sandbox").capabilities == frozenset(Capability)


def test_track_reports_stops_away_and_driver_when_out_for_delivery(world: Runtime) -> None:
    run_until(world, berlin(9, 0))
    shipment = _first(world, ShipmentStatus.OUT_FOR_DELIVERY)
    info = world.carrier("sandbox").track(shipment.tracking_number)
    assert info.status == "out_for_delivery" and info.eta is not None
    assert info.stops_away is not None and info.stops_away >= 0
    assert info.driver_position is not None
    with pytest.raises(UnknownShipment):
        world.carrier("sandbox").track("DS0000000000")


def test_reschedule_offers_free_windows_and_commits_one(world: Runtime) -> None:
    set_sim_time(world, berlin(7, 45))
    shipment = _first(world, ShipmentStatus.IN_TRANSIT)
    carrier = world.carrier("sandbox")
    windows = carrier.available_windows(shipment.tracking_number)
    assert windows and all(w.start.astimezone(BERLIN).date() > berlin(7).date() for w in windows)
    assert all(w.start.astimezone(BERLIN).weekday() != 6 for w in windows)
    chosen = windows[3]
    assert carrier.reschedule(shipment.tracking_number, chosen) == chosen
    with world.sessions() as session:
        moved = session.get(Shipment, shipment.id)
        assert (moved.promised_start, moved.eta_end) == (chosen.start, chosen.end)
    made_up = TimeWindow(berlin(3, days=2), berlin(4, days=2))
    with pytest.raises(ChangeRefused):
        carrier.reschedule(shipment.tracking_number, made_up)


def test_changes_are_refused_once_the_parcel_is_with_the_driver(world: Runtime) -> None:
    run_until(world, berlin(8, 5))
    shipment = _first(world, ShipmentStatus.OUT_FOR_DELIVERY)
    carrier = world.carrier("sandbox")
    with pytest.raises(ChangeRefused, match="out_for_delivery"):
        carrier.set_instructions(shipment.tracking_number, "leave it at the back")
    with pytest.raises(ChangeRefused):
        carrier.redirect_to_locker(shipment.tracking_number, "BER-ALX")
    with world.sessions() as session:
        unchanged = session.get(Shipment, shipment.id)
        assert unchanged.instructions is None and unchanged.locker_id is None


def test_redirect_to_a_locker_takes_it_off_the_route_and_it_arrives_with_a_code(world: Runtime) -> None:
    set_sim_time(world, berlin(7, 40))
    with world.sessions() as session:
        stop = session.scalars(select(Stop).order_by(Stop.id)).first()
        tracking_number = stop.shipment.tracking_number
    carrier = world.carrier("sandbox")
    lockers = carrier.nearby_lockers(tracking_number)
    assert [lk.distance_m for lk in lockers] == sorted(lk.distance_m for lk in lockers)
    full = [lk for lk in lockers if lk.free == 0]
    open_locker = next(lk for lk in lockers if lk.free > 0)
    if full:
        with pytest.raises(ChangeRefused, match="locker_full"):
            carrier.redirect_to_locker(tracking_number, full[0].code)
    carrier.redirect_to_locker(tracking_number, open_locker.code)
    run_until(world, berlin(10, 30))
    with world.sessions() as session:
        shipment = session.scalars(select(Shipment).where(Shipment.tracking_number == tracking_number)).one()
        assert shipment.status == ShipmentStatus.AT_LOCKER
        assert shipment.locker.code == open_locker.code and len(shipment.locker_pickup_code or "") == 6
        assert session.scalar(select(func.count()).select_from(Stop).where(Stop.shipment_id == shipment.id)) == 0


def test_returns_need_a_delivered_parcel_inside_its_window(world: Runtime) -> None:
    set_sim_time(world, berlin(9, 0))
    carrier = world.carrier("sandbox")
    with world.sessions() as session:
        eligible = session.scalars(select(Shipment).where(Shipment.return_until > T0)).first()
        expired = session.scalars(select(Shipment).where(Shipment.status == "delivered",
                                                         Shipment.return_until < T0)).first()
    sku = eligible.items[0]["sku"]
    label = carrier.create_return(eligible.tracking_number, items=[sku], reason="too small", method="locker",
                                  locker_code="BER-ALX")
    assert label.label_code.startswith("QR-") and label.locker_name == "Alexanderplatz"
    with pytest.raises(ChangeRefused, match="return_window_closed"):
        carrier.create_return(expired.tracking_number, items=[expired.items[0]["sku"]], reason="x", method="label")
    with pytest.raises(ChangeRefused):
        carrier.create_return(eligible.tracking_number, items=["NOT-IN-ORDER"], reason="x", method="label")
    with world.sessions() as session:
        assert [r.rma for r in session.scalars(select(Return))] == [label.rma]
