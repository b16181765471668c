"""The engine on live routes: recompute a route's windows from the database, keep or move each promise.

`recompute_route(session, route)` is what runs on every stop completion or driver position event: it
fits nothing itself (pass an engine from `fit_engine`, fitted once per tick or day), predicts every
remaining stop, lets the `WindowKeeper` keep or move each shipment's window (`Shipment.eta_start/end`),
logs every placement and move in `EtaWindowChange`, and returns the changes, so that the notifications
can tell a customer "your parcel is delayed, new window 14:15-15:15" from `WindowChange.moved`.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.carriers.models import TimeWindow
from bot.core.models import Depot, EtaWindowChange, Route, Shipment, ShipmentStatus, Stop
from bot.eta.engine import LEVELS, DoneStop, EtaConfig, EtaEngine, PlannedStop, RouteState
from bot.eta.windows import Window
from bot.profile.store import door_minutes

VISITED = ("delivered", "failed")  # outcomes where the driver was at the door
SETTLED = {ShipmentStatus.DELIVERED, ShipmentStatus.AT_LOCKER, ShipmentStatus.RETURNED}


@dataclass(frozen=True)
class WindowChange:
    shipment_id: int
    tracking_number: str
    old: TimeWindow | None
    new: TimeWindow
    moved: bool  # an existing promise changed (False: the first window of the day)
    point_eta: datetime
    probability: float


def _midnight(service_date: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(service_date, time(0), tz)


def _minutes(at: datetime, midnight: datetime) -> float:
    return (at - midnight).total_seconds() / 60.0


def _at(minutes: float, midnight: datetime) -> datetime:
    return midnight + timedelta(minutes=float(minutes))


def history_frame(session: Session, before: date, tz: ZoneInfo) -> pd.DataFrame:
    """Completed stops of routes before `before`, as the engine's history frame."""
    rows = session.execute(
        select(Route.driver_id, Route.service_date, Stop.sequence, Stop.completed_at, Shipment.lat, Shipment.lng,
               Shipment.postcode)
        .join(Stop, Stop.route_id == Route.id).join(Shipment, Shipment.id == Stop.shipment_id)
        .where(Route.service_date < before, Stop.completed_at.is_not(None), Stop.outcome.in_(VISITED))
    ).all()
    frame = pd.DataFrame([{
        "courier": r.driver_id, "day": r.service_date.toordinal(), "seq": r.sequence, "lat": r.lat, "lng": r.lng,
        "area": r.postcode, "area_type": 0, "parcels": 1,
        "arrived": _minutes(r.completed_at, _midnight(r.service_date, tz)),
    } for r in rows], columns=["courier", "day", "seq", "lat", "lng", "area", "area_type", "parcels", "arrived"])
    return frame


_FITTED: dict[tuple[object, ...], EtaEngine] = {}


def fit_engine(session: Session, service_date: date, tz: ZoneInfo, config: EtaConfig | None = None) -> EtaEngine:
    """An engine fitted on every completed stop before `service_date` (the prior if there is none).

    The history of earlier days rarely changes during a day, so a fit is reused while it is the same.
    """
    history = history_frame(session, service_date, tz)
    key = (str(session.get_bind().engine.url), service_date, str(tz), config, len(history), float(history["arrived"].sum()))
    if key not in _FITTED:
        engine = EtaEngine(config)
        _FITTED.clear()  # one day's engine at a time is all the simulator and the app need
        _FITTED[key] = engine.fit(history) if not history.empty else engine
    return _FITTED[key]


def route_state(route: Route, depot: Depot, now: datetime, tz: ZoneInfo, *, plan_is_earliest: bool = True,
                door_minutes: Mapping[int, float] | None = None) -> RouteState:
    """What the engine needs from a route at `now`.

    With `plan_is_earliest` a stop's planned time, slipped by the lateness of the last completed stop,
    is a not-before time: drivers on a timed plan (the sandbox's among them) wait rather than run
    ahead of it, and a driver running late stays late. `door_minutes` (by shipment id) is the extra time
    a recipient needs to get to the door (their profile, `bot.profile`).
    """
    door = door_minutes or {}
    midnight = _midnight(route.service_date, tz)
    visited = sorted(((s.completed_at, s) for s in route.stops
                      if s.completed_at is not None and s.outcome in VISITED and s.completed_at <= now),
                     key=lambda visit: visit[0])
    done = [DoneStop(s.shipment.lat, s.shipment.lng, _minutes(at, midnight), area=s.shipment.postcode) for at, s in visited]
    slip = max((visited[-1][0] - visited[-1][1].planned_at).total_seconds() / 60, 0.0) if visited else 0.0
    remaining = [PlannedStop(s.id, s.shipment.lat, s.shipment.lng, area=s.shipment.postcode,
                             not_before=_minutes(s.planned_at, midnight) + slip if plan_is_earliest else None,
                             door_minutes=float(door.get(s.shipment_id, 0)))
                 for s in sorted(route.stops, key=lambda s: s.sequence) if _pending(s, now)]
    return RouteState(courier=route.driver_id, now=_minutes(now, midnight), done=done, remaining=remaining,
                      origin=(depot.lat, depot.lng), departs_at=_minutes(route.departs_at, midnight))


def _pending(stop: Stop, now: datetime) -> bool:
    if stop.completed_at is not None and stop.completed_at <= now:
        return False
    shipment = stop.shipment
    return shipment.locker_id is None and shipment.status_enum not in SETTLED


def recompute_route(session: Session, route: Route, *, now: datetime, engine: EtaEngine) -> list[WindowChange]:
    """Predict the route's remaining stops; keep or move each shipment's window; return what changed."""
    depot = session.get(Depot, route.depot_id)
    if depot is None:
        return []
    tz = ZoneInfo(depot.time_zone)
    midnight = _midnight(route.service_date, tz)
    state = route_state(route, depot, now, tz,
                        door_minutes=door_minutes(session, {s.shipment_id: s.shipment.customer_id for s in route.stops}))
    if not state.remaining:
        return []
    stops: dict[Hashable, Stop] = {s.id: s for s in route.stops}
    changes = []
    for eta in engine.predict(state):
        shipment = stops[eta.stop_id].shipment
        current: Window | None = None
        old: TimeWindow | None = None
        if shipment.eta_start is not None and shipment.eta_end is not None:
            old = TimeWindow(shipment.eta_start, shipment.eta_end)
            current = Window(_minutes(old.start, midnight), _minutes(old.end, midnight))
        if current is not None and abs(current.end - current.start - engine.keeper.width) > 0.5:
            decision = engine.keeper.decide(None, LEVELS, eta.quantiles, state.now)  # e.g. a booked 2-hour slot
        else:
            decision = engine.keeper.decide(current, LEVELS, eta.quantiles, state.now)
        if current is not None and decision.window == current:
            continue
        new = TimeWindow(_at(decision.window.start, midnight), _at(decision.window.end, midnight))
        moved = current is not None
        shipment.eta_start, shipment.eta_end = new.start, new.end
        point = _at(eta.point, midnight)
        session.add(EtaWindowChange(shipment_id=shipment.id, route_id=route.id, at=now, old_start=old.start if old else None,
                                    old_end=old.end if old else None, new_start=new.start, new_end=new.end, moved=moved,
                                    point_eta=point, probability=decision.probability))
        changes.append(WindowChange(shipment.id, shipment.tracking_number, old, new, moved, point, decision.probability))
    session.flush()
    return changes
