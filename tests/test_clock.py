"""One clock per process, on the runtime: what it says is what the change service, the sandbox carrier and
the dashboard take for "now"; the shared clock follows the sandbox's row for every process."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import create_engine, event, select
from sqlalchemy.orm import Session

from bot.carriers.sandbox.world import build_world
from bot.changes import Asker, Requester, options
from bot.core.clock import FixedClock, SharedClock, real_now, start_clock
from bot.core.models import Shipment, ShipmentStatus, SimClock
from bot.core.runtime import Runtime
from bot.core.schema import migrate
from bot.desk.ops_stats import business_day
from tests.conftest import T0, make_settings


def _runtime(tmp_path: Path, clock: FixedClock | None = None) -> Runtime:
    url = f"sqlite:///{tmp_path / 'clock.db'}"
    migrate(url)
    rt = Runtime.build(make_settings(url), clock=clock)
    with rt.sessions() as session, session.begin():
        build_world(session, seed=7, speed=1, now=T0)
    return rt


def _first_window_start(rt: Runtime) -> object:
    with rt.sessions() as session:
        shipment = session.scalars(select(Shipment).where(Shipment.status == ShipmentStatus.AT_DEPOT,
                                                          Shipment.carrier == "sandbox").order_by(Shipment.id)).first()
        assert shipment is not None
        asker = Asker(shipment_id=shipment.id, by=Requester.CUSTOMER, customer_id=shipment.customer_id)
    found = options(rt, asker)
    assert found.windows, "the sandbox offers windows for a parcel at the depot"
    return min(window.start for window in found.windows)


def test_an_injected_clock_is_the_now_of_the_change_service_and_the_sandbox_carrier(tmp_path: Path) -> None:
    clock = FixedClock(T0)
    rt = _runtime(tmp_path, clock)
    try:
        assert rt.clock is clock and rt.carrier("sandbox")._clock is clock  # type: ignore[attr-defined]
        before = _first_window_start(rt)
        assert before > T0
        clock.advance(timedelta(days=3))
        after = _first_window_start(rt)
        assert after > T0 + timedelta(days=3) and after > before  # type: ignore[operator]
        assert business_day(clock).date == (T0 + timedelta(days=3)).astimezone(business_day(clock).start.tzinfo).date()
    finally:
        rt.engine.dispose()


def test_the_shared_clock_follows_the_sandbox_row_in_every_process(tmp_path: Path) -> None:
    rt = _runtime(tmp_path)
    try:
        assert isinstance(rt.clock, SharedClock)
        other = SharedClock(rt.sessions)  # another process's clock over the same database
        with rt.sessions() as session, session.begin():
            start_clock(session, sim_start=T0, speed=60)
        first, second = rt.clock.now(), other.now()
        assert abs((second - first).total_seconds()) < 60 * 5  # both read the same accelerated time
        assert T0 <= first < T0 + timedelta(hours=1)
        assert abs((rt.clock.wall_time(first + timedelta(minutes=60)) - rt.clock.wall_time(first)).total_seconds()
                   - 60) < 1  # an hour of business time is a minute on the wall at speed 60
    finally:
        rt.engine.dispose()


class _Ticks:
    """A monotonic clock the test moves by hand (the shared clock's refresh timer)."""

    def __init__(self) -> None:
        self.at = 100.0

    def __call__(self) -> float:
        return self.at


def _clock_reads(rt: Runtime) -> list[str]:
    reads: list[str] = []

    @event.listens_for(rt.engine, "before_cursor_execute")
    def _count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if "FROM sim_clock" in statement:
            reads.append(statement)

    return reads


def test_the_shared_clock_reads_its_row_once_per_refresh_and_sees_another_process_restart_after_it(
        tmp_path: Path) -> None:
    rt = _runtime(tmp_path)
    try:
        with rt.sessions() as session, session.begin():
            start_clock(session, sim_start=T0, speed=1.0)
        ticks = _Ticks()
        clock = SharedClock(rt.sessions, refresh_seconds=1.0, monotonic=ticks)
        reads = _clock_reads(rt)
        first = clock.now()
        for _ in range(50):
            later = clock.now()
            assert later >= first  # the reading follows the wall clock between reads of the row
        clock.wall_time(first)
        assert len(reads) == 1, "one read of the row within the refresh time, however many calls"

        # Another process restarts the sandbox clock two days later: a different database connection, no
        # commit in this process's sessions (the engine stands for the other process).
        other = create_engine(str(rt.engine.url))
        with Session(other) as session, session.begin():
            row = session.get(SimClock, 1)
            assert row is not None
            row.sim_start, row.real_start, row.speed = T0 + timedelta(days=2), real_now(), 1.0
        other.dispose()
        assert clock.now() < T0 + timedelta(days=2), "still the cached row within the refresh time"
        ticks.at += 1.0
        assert T0 + timedelta(days=2) <= clock.now() < T0 + timedelta(days=2, minutes=5), "seen after the refresh"
        assert len(reads) == 2
    finally:
        rt.engine.dispose()


def test_a_restart_committed_in_this_process_is_seen_at_once(tmp_path: Path) -> None:
    rt = _runtime(tmp_path)
    try:
        with rt.sessions() as session, session.begin():
            start_clock(session, sim_start=T0, speed=1.0)
        clock = SharedClock(rt.sessions, refresh_seconds=3600.0, monotonic=_Ticks())
        assert clock.now() < T0 + timedelta(days=1)
        with rt.sessions() as session:
            start_clock(session, sim_start=T0 + timedelta(days=3), speed=1.0)
            session.rollback()  # not committed: nothing changed
        assert clock.now() < T0 + timedelta(days=1)
        with rt.sessions() as session, session.begin():
            start_clock(session, sim_start=T0 + timedelta(days=3), speed=1.0)
        assert T0 + timedelta(days=3) <= clock.now() < T0 + timedelta(days=3, minutes=5)
        assert abs((clock.wall_time(T0 + timedelta(days=3, hours=1)) - real_now()).total_seconds() - 3600) < 60
    finally:
        rt.engine.dispose()
