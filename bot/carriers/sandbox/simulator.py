"""Plays the sandbox day out: routes depart, drivers move, stops complete, a few fail, some run late.

Every change to a shipment goes through `bot.carriers.ingest.ingest_event`, the path a real carrier's webhook
takes, with deterministic event ids so that a repeated tick changes nothing.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.carriers.ingest import IngestResult, Outcome, ingest_event
from bot.carriers.models import CarrierEvent, DropProof, TimeWindow
from bot.carriers.sandbox.planner import eta_window, plan_routes
from bot.carriers.sandbox.proofs import DropPolicy, drop_proof
from bot.core.clock import sim_now
from bot.core.models import Depot, EtaWindowChange, Route, Shipment, ShipmentStatus, Stop
from bot.eta.engine import EtaEngine
from bot.eta.live import fit_engine, recompute_route

CARRIER = "sandbox"
PLANNING_TIME = time(6, 0)
LOCKER_LEAD = timedelta(hours=2)


@dataclass
class TickReport:
    now: datetime
    applied: list[IngestResult]


def tick(session: Session, *, now: datetime | None = None, seed: int = 7, drops: DropPolicy | None = None) -> TickReport:
    """Advance the world to `now` (the runtime's clock; the shared clock read through `session` when not
    given). Safe to run repeatedly and from a restart.

    Each delivery comes with the driver's proof (`bot.carriers.sandbox.proofs`), following `drops`.
    """
    drops = drops or DropPolicy()
    now = now or sim_now(session)
    applied: list[IngestResult] = []
    depot = session.scalars(select(Depot)).first()
    if depot is None:
        return TickReport(now, applied)
    tz = ZoneInfo(depot.time_zone)
    local = now.astimezone(tz)
    if local.time() >= PLANNING_TIME:
        plan_routes(session, local.date(), random.Random(f"{seed}-{local.date()}"))
    engine: EtaEngine | None = None
    for route in session.scalars(select(Route).where(Route.status != "done")).all():
        if engine is None and now >= route.departs_at:
            engine = fit_engine(session, local.date(), tz)
        applied += _advance_route(session, route, now, engine, seed=seed, drops=drops)
    applied += _deliver_to_lockers(session, now)
    return TickReport(now, [r for r in applied if r.outcome == Outcome.APPLIED])


def _event(session: Session, shipment: Shipment, key: str, status: ShipmentStatus, at: datetime,
           description: str, proof: DropProof | None = None, max_distance_m: float | None = None,
           **extra: object) -> IngestResult:
    eta = extra.pop("eta", None)
    limit = {"max_distance_m": max_distance_m} if max_distance_m is not None else {}
    return ingest_event(session, CarrierEvent(
        carrier=CARRIER, event_id=f"{shipment.tracking_number}:{key}", tracking_number=shipment.tracking_number,
        status=status, occurred_at=at, description=description,
        lat=extra.pop("lat", None), lng=extra.pop("lng", None),  # type: ignore[arg-type]
        eta=eta if isinstance(eta, TimeWindow) else None, extra=dict(extra), proof=proof,
    ), **limit)


def _advance_route(session: Session, route: Route, now: datetime, engine: EtaEngine | None, *, seed: int,
                   drops: DropPolicy) -> list[IngestResult]:
    results: list[IngestResult] = []
    if now < route.departs_at:
        return results
    day = route.service_date.isoformat()
    if route.status == "planned":
        route.status = "active"
        for stop in route.stops:
            if stop.shipment.locker_id is None:
                shipment = stop.shipment
                eta = (TimeWindow(shipment.eta_start, shipment.eta_end) if shipment.eta_start and shipment.eta_end
                       else _window(stop.planned_at))
                results.append(_event(session, shipment, f"ofd:{day}", ShipmentStatus.OUT_FOR_DELIVERY,
                                      route.departs_at, "Out for delivery", eta=eta))
    delay = timedelta(0)
    previous = None
    for stop in route.stops:
        if stop.completed_at is not None:
            delay = max(stop.completed_at - stop.planned_at, timedelta(0))
            previous = stop
            continue
        shipment = stop.shipment
        if shipment.locker_id is not None or shipment.status_enum in (ShipmentStatus.DELIVERED, ShipmentStatus.AT_LOCKER):
            stop.completed_at, stop.outcome = stop.planned_at, "skipped"
            continue
        due = stop.planned_at + max(delay, timedelta(minutes=stop.delay_minutes))
        if due > now:
            _move_driver(route, previous, stop, now, due)
            continue
        stop.completed_at = due
        delay = max(due - stop.planned_at, timedelta(0))
        route.driver.lat, route.driver.lng, route.driver.position_at = shipment.lat, shipment.lng, due
        if stop.will_fail:
            stop.outcome = "failed"
            results.append(_event(session, shipment, f"fail:{day}", ShipmentStatus.FAILED_ATTEMPT, due,
                                  "Nobody home: we will try again on the next working day",
                                  lat=shipment.lat, lng=shipment.lng))
            _rebook_next_day(shipment, due)
        else:
            stop.outcome = "delivered"
            proof = drop_proof(shipment, seed=seed, day=day, policy=drops, driver_id=route.driver_id,
                               depot_id=route.depot_id)
            results.append(_event(session, shipment, f"pod:{day}", ShipmentStatus.DELIVERED, due,
                                  "Delivered" + (f" ({shipment.instructions})" if shipment.instructions else ""),
                                  proof=proof, max_distance_m=drops.max_distance_m, lat=proof.lat, lng=proof.lng))
        previous = stop
    if all(stop.completed_at is not None for stop in route.stops):
        route.status = "done"
    elif engine is not None:
        results += _recompute_windows(session, route, now, engine)
    return results


def _recompute_windows(session: Session, route: Route, now: datetime, engine: EtaEngine) -> list[IngestResult]:
    """On every tick (a stop done, the driver moved) the engine keeps or moves each window; a move is an event."""
    results = []
    day = route.service_date.isoformat()
    depot = session.get(Depot, route.depot_id)
    tz = ZoneInfo(depot.time_zone if depot else "UTC")
    for change in recompute_route(session, route, now=now, engine=engine):
        if not change.moved or change.old is None:
            continue
        shipment = session.get(Shipment, change.shipment_id)
        if shipment is None:
            continue
        moves = session.scalar(select(func.count()).select_from(EtaWindowChange).where(
            EtaWindowChange.shipment_id == shipment.id, EtaWindowChange.route_id == route.id, EtaWindowChange.moved))
        text = "Running late" if change.new.start > change.old.start else "Running early"
        results.append(_event(session, shipment, f"eta:{day}:{moves}", ShipmentStatus.OUT_FOR_DELIVERY, now,
                              f"{text}: new window {change.new.start.astimezone(tz):%H:%M}", eta=change.new))
    return results


def _window(at: datetime) -> TimeWindow:
    return TimeWindow(*eta_window(at))


def _move_driver(route: Route, previous: Stop | None, target: Stop, now: datetime, due: datetime) -> None:
    """Put the driver on the straight line between the last stop and the next, by elapsed time."""
    start_at = previous.completed_at if previous and previous.completed_at else route.departs_at
    if previous is not None:
        origin = (previous.shipment.lat, previous.shipment.lng)
    else:
        origin = (route.driver.lat or target.shipment.lat, route.driver.lng or target.shipment.lng)
    span = max((due - start_at).total_seconds(), 1.0)
    share = min(max((now - start_at).total_seconds() / span, 0.0), 1.0)
    route.driver.lat = origin[0] + (target.shipment.lat - origin[0]) * share
    route.driver.lng = origin[1] + (target.shipment.lng - origin[1]) * share
    route.driver.position_at = now


def _rebook_next_day(shipment: Shipment, failed_at: datetime) -> None:
    local = failed_at.astimezone(ZoneInfo("Europe/Berlin"))
    next_day = local.date() + timedelta(days=2 if local.weekday() == 5 else 1)
    start = datetime.combine(next_day, time(10), local.tzinfo)
    shipment.promised_start, shipment.promised_end = start, start + timedelta(hours=2)


def _deliver_to_lockers(session: Session, now: datetime) -> list[IngestResult]:
    """Parcels redirected to a locker arrive there `LOCKER_LEAD` after the redirect."""
    results = []
    waiting = session.scalars(
        select(Shipment).where(
            Shipment.locker_id.is_not(None),
            Shipment.status.notin_([ShipmentStatus.AT_LOCKER, ShipmentStatus.DELIVERED, ShipmentStatus.RETURNED]),
            Shipment.eta_start <= now,
        )
    ).all()
    for shipment in waiting:
        code = f"{secrets.randbelow(1_000_000):06d}"
        results.append(_event(session, shipment, "locker", ShipmentStatus.AT_LOCKER, shipment.eta_start or now,
                              f"Ready for pickup at {shipment.locker.name if shipment.locker else 'the locker'}",
                              pickup_code=code))
    return results
