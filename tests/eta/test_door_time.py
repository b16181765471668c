"""Extra time at the door (a recipient's accessibility needs, issue 16): the stops after it come later."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.core.models import Depot, Route
from bot.eta.engine import DoneStop, EtaEngine, PlannedStop, RouteState
from bot.eta.live import route_state
from bot.profile import By, Item, set_item
from bot.profile.store import door_minutes
from tests.changes.conftest import build


def _state(door: float) -> RouteState:
    stops = [PlannedStop(i, 52.52 + i * 0.003, 13.40 + i * 0.004, area=f"a{i}") for i in range(4)]
    stops[1] = replace(stops[1], door_minutes=door)
    return RouteState(courier=1, now=540.0, done=[DoneStop(52.519, 13.398, 538.0, area="a")], remaining=stops)


def test_stops_after_a_door_with_extra_time_are_predicted_later_by_that_time() -> None:
    engine = EtaEngine()
    plain = {eta.stop_id: eta.point for eta in engine.predict(_state(0.0))}
    slower = {eta.stop_id: eta.point for eta in engine.predict(_state(10.0))}
    assert slower[0] == plain[0] and slower[1] == plain[1]  # before and at that door: unchanged
    assert abs(slower[2] - plain[2] - 10.0) < 1e-6 and abs(slower[3] - plain[3] - 10.0) < 1e-6


def test_the_route_reads_door_minutes_from_the_recipients_profile(tmp_path: Path) -> None:
    world = build(tmp_path)
    try:
        with world.sessions() as session, session.begin():
            route = session.scalars(select(Route).order_by(Route.id)).first()
            assert route is not None and len(route.stops) >= 3
            stop = sorted(route.stops, key=lambda s: s.sequence)[1]
            set_item(session, customer_id=stop.shipment.customer_id, item=Item.DOOR_MINUTES, value=10,
                     by=By.CUSTOMER, channel="page")
        with world.sessions() as session:
            route = session.get(Route, route.id)
            depot = session.get(Depot, route.depot_id) if route is not None else None
            assert route is not None and depot is not None
            doors = door_minutes(session, {s.shipment_id: s.shipment.customer_id for s in route.stops})
            state = route_state(route, depot, route.departs_at, ZoneInfo(depot.time_zone), door_minutes=doors)
            by_stop = {p.stop_id: p.door_minutes for p in state.remaining}
            assert by_stop[stop.id] == 10.0
            others = {s.id for s in route.stops if s.shipment.customer_id != stop.shipment.customer_id}
            assert all(by_stop[i] == 0.0 for i in others if i in by_stop)
    finally:
        world.engine.dispose()
