"""The sandbox's windows come from the ETA engine: placed at planning, kept or moved on every tick."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.carriers.sandbox.simulator import tick
from bot.core.clock import sim_now
from bot.core.models import Depot, EtaWindowChange, Route, Shipment, ShipmentEvent, ShipmentStatus
from bot.core.runtime import Runtime
from bot.eta.live import fit_engine, recompute_route
from tests.test_sandbox import BERLIN, berlin, run_until, world  # noqa: F401  (world is a fixture)


def _latest(session, shipment_id: int) -> EtaWindowChange:  # type: ignore[no-untyped-def]
    return session.scalars(select(EtaWindowChange).where(EtaWindowChange.shipment_id == shipment_id)
                           .order_by(EtaWindowChange.id.desc())).first()


def test_planning_places_every_window_with_the_engine(world: Runtime) -> None:  # noqa: F811
    run_until(world, berlin(8, 5))
    with world.sessions() as session:
        out = session.scalars(select(Shipment).where(Shipment.status == ShipmentStatus.OUT_FOR_DELIVERY)).all()
        assert len(out) >= 10
        for shipment in out:
            first = session.scalars(select(EtaWindowChange).where(EtaWindowChange.shipment_id == shipment.id)
                                    .order_by(EtaWindowChange.id)).first()
            assert first is not None and not first.moved and first.old_start is None
            latest = _latest(session, shipment.id)
            assert (shipment.eta_start, shipment.eta_end) == (latest.new_start, latest.new_end)
            assert shipment.eta_end - shipment.eta_start == timedelta(hours=1)
            assert shipment.eta_start.astimezone(BERLIN).minute % 15 == 0  # quarter hours, as customers read them
            assert latest.new_start <= latest.point_eta + timedelta(minutes=60) and 0 < latest.probability <= 1


def test_a_driver_running_late_moves_the_windows_and_says_so(world: Runtime) -> None:  # noqa: F811
    run_until(world, berlin(8, 30))
    with world.sessions() as session, session.begin():
        route = session.scalars(select(Route).where(Route.status == "active").order_by(Route.id)).first()
        assert route is not None
        for stop in route.stops:
            if stop.completed_at is None:
                stop.delay_minutes = 90  # a breakdown: every remaining stop comes 90 minutes late
        route_id = route.id
    run_until(world, berlin(11, 0))
    with world.sessions() as session:
        moves = session.scalars(select(EtaWindowChange).where(EtaWindowChange.route_id == route_id,
                                                              EtaWindowChange.moved)).all()
        assert moves, "a 90-minute delay must move some promised windows"
        assert sum(m.new_start > m.old_start for m in moves) > len(moves) / 2  # late, so mostly later
        moved = session.get(Shipment, moves[0].shipment_id)
        late = session.scalars(select(ShipmentEvent).where(ShipmentEvent.shipment_id == moved.id,
                                                           ShipmentEvent.description.like("Running late%"))).all()
        assert late and late[0].event_id.endswith(":1")
        # the windows of stops still to come hold the engine's latest word, and it has caught the delay
        pending = [s for s in session.get(Route, route_id).stops if s.completed_at is None]
        assert pending
        for stop in pending:
            latest = _latest(session, stop.shipment_id)
            assert (stop.shipment.eta_start, stop.shipment.eta_end) == (latest.new_start, latest.new_end)
            assert stop.shipment.eta_start <= stop.planned_at + timedelta(minutes=90) <= stop.shipment.eta_end


def test_recomputing_without_news_moves_nothing(world: Runtime) -> None:  # noqa: F811
    run_until(world, berlin(9, 0))
    with world.sessions() as session, session.begin():
        now = sim_now(session)
        depot = session.scalars(select(Depot)).one()
        from zoneinfo import ZoneInfo

        engine = fit_engine(session, now.astimezone(ZoneInfo(depot.time_zone)).date(), ZoneInfo(depot.time_zone))
        route = session.scalars(select(Route).where(Route.status == "active").order_by(Route.id)).first()
        recompute_route(session, route, now=now, engine=engine)
        assert recompute_route(session, route, now=now, engine=engine) == []
        assert not tick(session).applied


def test_a_window_of_another_width_is_replaced_and_the_change_reported(world: Runtime) -> None:  # noqa: F811
    run_until(world, berlin(8, 30))
    with world.sessions() as session, session.begin():
        from zoneinfo import ZoneInfo

        now = sim_now(session)
        route = session.scalars(select(Route).where(Route.status == "active").order_by(Route.id)).first()
        pending = next(s for s in route.stops if s.completed_at is None)
        pending.shipment.eta_start = berlin(12)
        pending.shipment.eta_end = berlin(14)  # a booked two-hour slot
        engine = fit_engine(session, now.astimezone(BERLIN).date(), ZoneInfo("Europe/Berlin"))
        changes = {c.shipment_id: c for c in recompute_route(session, route, now=now, engine=engine)}
        change = changes[pending.shipment_id]
        assert change.moved and change.old is not None and change.old.end - change.old.start == timedelta(hours=2)
        assert change.new.end - change.new.start == timedelta(hours=1)
        assert (pending.shipment.eta_start, pending.shipment.eta_end) == (change.new.start, change.new.end)
