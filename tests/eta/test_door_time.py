"""Extra time at the door (a recipient's accessibility needs, issue 16): the stops after it come later."""

from __future__ import annotations

from dataclasses import replace

from bot.eta.engine import DoneStop, EtaEngine, PlannedStop, RouteState


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
