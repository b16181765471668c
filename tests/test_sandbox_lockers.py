"""The sandbox plays its day on its own clock: whenever the world is built, every event it emits is
at or after the state it seeded, and every parcel redirected to a locker arrives there."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.carriers import ChangeRefused
from bot.carriers.sandbox.world import build_world
from bot.core.models import Shipment, ShipmentEvent, ShipmentStatus
from bot.core.runtime import Runtime
from bot.core.schema import migrate
from tests.conftest import make_settings
from tests.test_sandbox import berlin, run_until, set_sim_time


def _build(runtime: Runtime, *, seed: int, built_at: datetime) -> dict[int, datetime]:
    """The world as `make run` builds it at `built_at` (wall clock); returns each parcel's seeded status time."""
    with runtime.sessions() as session, session.begin():
        build_world(session, seed=seed, speed=30, now=built_at)
    set_sim_time(runtime, berlin(7, 30))
    with runtime.sessions() as session:
        return {shipment_id: at for shipment_id, at in session.execute(select(Shipment.id, Shipment.status_at))}


def _redirect(runtime: Runtime, tracking_number: str) -> str | None:
    """Send a parcel to the nearest locker with room; the locker's code, or None if it can't be redirected."""
    carrier = runtime.carrier("sandbox")
    for locker in carrier.nearby_lockers(tracking_number):
        if locker.free > 0:
            try:
                carrier.redirect_to_locker(tracking_number, locker.code)
            except ChangeRefused:
                return None
            return locker.code
    return None


def _older_than_state(runtime: Runtime, seeded: dict[int, datetime]) -> list[str]:
    """Events the sandbox emitted with a time before the shipment's status time when it was emitted."""
    found = []
    with runtime.sessions() as session:
        for shipment_id, state_at in seeded.items():
            events = session.scalars(select(ShipmentEvent).where(ShipmentEvent.shipment_id == shipment_id)
                                     .order_by(ShipmentEvent.id)).all()
            for event in events:
                if state_at is not None and event.occurred_at < state_at:
                    found.append(f"{event.event_id} at {event.occurred_at} < {state_at}")
                if event.applied:
                    state_at = event.occurred_at
    return found


def _afternoon_parcel_seeded_last(runtime: Runtime) -> str:
    with runtime.sessions() as session:
        parcels = session.scalars(select(Shipment).where(Shipment.status == ShipmentStatus.AT_DEPOT)).all()
        afternoon = [s for s in parcels if s.promised_start and s.promised_start >= berlin(12)]
        return max(afternoon, key=lambda s: (s.status_at, s.id)).tracking_number


def test_a_parcel_redirected_in_a_world_built_in_the_evening_reaches_its_locker(sqlite_runtime: Runtime) -> None:
    """Issue 12 item 4: the world was built late in the (real) day, so parcels were seeded with status
    times hours after the sandbox's 07:30; the locker arrival at 13:18 was stored as stale and the
    parcel still said "on its way to the locker" at 16:23."""
    seeded = _build(sqlite_runtime, seed=7, built_at=berlin(21, 0))
    tracking_number = _afternoon_parcel_seeded_last(sqlite_runtime)
    run_until(sqlite_runtime, berlin(11, 18))
    assert _redirect(sqlite_runtime, tracking_number) is not None
    run_until(sqlite_runtime, berlin(16, 23))
    with sqlite_runtime.sessions() as session:
        shipment = session.scalars(select(Shipment).where(Shipment.tracking_number == tracking_number)).one()
        assert shipment.status == ShipmentStatus.AT_LOCKER, [(e.status, e.occurred_at, e.applied) for e in shipment.events]
        assert shipment.locker_pickup_code and len(shipment.locker_pickup_code) == 6
        arrival = next(e for e in shipment.events if e.status == ShipmentStatus.AT_LOCKER)
        assert arrival.applied
    assert _older_than_state(sqlite_runtime, seeded) == []


def test_the_world_seeds_no_status_time_after_the_sandbox_clock(sqlite_runtime: Runtime) -> None:
    seeded = _build(sqlite_runtime, seed=7, built_at=berlin(23, 30))
    assert max(seeded.values()) <= berlin(7, 30)


# Each example plays a whole day (seconds): no shrinking, so a failure is reported as first found.
@settings(max_examples=8, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(
    seed=st.integers(min_value=0, max_value=10_000),
    built_hour=st.integers(min_value=0, max_value=23),
    redirects=st.lists(st.tuples(st.integers(min_value=0, max_value=8 * 60), st.integers(min_value=0, max_value=60)),
                       min_size=1, max_size=3),
    step_minutes=st.sampled_from([5, 10, 25, 40, 60]),
)
def test_every_redirected_parcel_reaches_its_locker_and_no_event_is_older_than_the_state(
        tmp_path_factory: pytest.TempPathFactory, seed: int, built_hour: int, redirects: list[tuple[int, int]],
        step_minutes: int) -> None:
    """For any seed, any wall-clock build time, any redirect times (07:30-15:30) and any scheduler
    pace (a tick every 5 to 60 simulated minutes), by 19:00 every redirected parcel is at its locker
    with a pickup code, and no event the sandbox emitted is older than the state it applies to."""
    url = f"sqlite:///{tmp_path_factory.mktemp('sandbox') / 'app.db'}"
    migrate(url)
    runtime = Runtime.build(make_settings(url))
    try:
        seeded = _build(runtime, seed=seed, built_at=berlin(built_hour, 17))
        step = timedelta(minutes=step_minutes)
        redirected: dict[str, str] = {}
        for minutes, pick in sorted(redirects):
            run_until(runtime, berlin(7, 30) + timedelta(minutes=minutes), step=step)
            with runtime.sessions() as session:
                movable = session.scalars(
                    select(Shipment.tracking_number).where(
                        Shipment.status.in_([ShipmentStatus.AT_DEPOT, ShipmentStatus.IN_TRANSIT]),
                        Shipment.locker_id.is_(None)).order_by(Shipment.id)).all()
            if not movable:
                continue
            tracking_number = movable[pick % len(movable)]
            code = _redirect(runtime, tracking_number)
            if code is not None:
                redirected[tracking_number] = code
        assert redirected, "tomorrow's parcels can always go to a locker with room"
        run_until(runtime, berlin(19, 0), step=step)
        with runtime.sessions() as session:
            for tracking_number, code in redirected.items():
                shipment = session.scalars(select(Shipment).where(Shipment.tracking_number == tracking_number)).one()
                assert shipment.status == ShipmentStatus.AT_LOCKER, (tracking_number, shipment.status)
                assert shipment.locker is not None and shipment.locker.code == code
                assert shipment.locker_pickup_code and len(shipment.locker_pickup_code) == 6
        assert _older_than_state(runtime, seeded) == []
    finally:
        runtime.engine.dispose()

