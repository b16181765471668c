"""One clock per process, on the runtime: what it says is what the change service, the sandbox carrier and
the dashboard take for "now"; the shared clock follows the sandbox's row for every process."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from bot.carriers.sandbox.world import build_world
from bot.changes import Asker, Requester, options
from bot.core.clock import FixedClock, SharedClock, start_clock
from bot.core.models import Shipment, ShipmentStatus
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
