"""Plans a day's routes: which driver takes which parcel, in what order, at what time.

Parcels are ordered by their promised window, then nearest-neighbour from the depot; each stop gets
a planned time, and the ETA engine (`bot.eta`) places its one-hour window (DPD Predict style), fitted
on the completed stops of earlier days.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.geo import distance_m
from bot.core.models import Depot, Driver, Route, Shipment, ShipmentStatus, Stop
from bot.eta.live import fit_engine, recompute_route

# Two waves a day, as depots run them: parcels promised before noon leave at 08:00, the rest at 12:30
# (until it leaves, an afternoon parcel can still be changed).
WAVES = ((time(0), time(12), time(8, 0)), (time(12), time(23, 59, 59), time(12, 30)))
SERVICE_MINUTES = 4  # at the door
SPEED_M_PER_MIN = 250  # 15 km/h through city traffic
ETA_HALF_WINDOW = timedelta(minutes=30)
PLANNABLE = {ShipmentStatus.IN_TRANSIT, ShipmentStatus.AT_DEPOT, ShipmentStatus.FAILED_ATTEMPT}


def eta_window(planned_at: datetime) -> tuple[datetime, datetime]:
    """A one-hour window around the planned time, on quarter hours."""
    start = planned_at - ETA_HALF_WINDOW
    start = start.replace(minute=(start.minute // 15) * 15, second=0, microsecond=0)
    return start, start + timedelta(hours=1)


def _promise(shipment: Shipment) -> None:
    """The engine's window becomes the promise when there is none or the booked one is wider."""
    if shipment.eta_start is None or shipment.eta_end is None:
        return
    if shipment.promised_start is None or shipment.promised_end is None or (
            shipment.promised_end - shipment.promised_start) > timedelta(hours=1):
        shipment.promised_start, shipment.promised_end = shipment.eta_start, shipment.eta_end


def shipments_due(session: Session, service_date: date, tz: ZoneInfo) -> list[Shipment]:
    day_start = datetime.combine(service_date, time(0), tz)
    day_end = day_start + timedelta(days=1)
    candidates = session.scalars(
        select(Shipment).where(
            Shipment.promised_start >= day_start,
            Shipment.promised_start < day_end,
            Shipment.locker_id.is_(None),
            Shipment.status.in_([s.value for s in PLANNABLE]),
        )
    ).all()
    planned = set(
        session.scalars(
            select(Stop.shipment_id).join(Route).where(Route.service_date == service_date)
        ).all()
    )
    return [s for s in candidates if s.id not in planned]


def plan_routes(session: Session, service_date: date, rng: random.Random) -> list[Route]:
    """Create one route per driver for the day's due parcels; returns the new routes."""
    depot = session.scalars(select(Depot)).first()
    drivers = session.scalars(select(Driver).order_by(Driver.id)).all()
    if depot is None or not drivers:
        return []
    tz = ZoneInfo(depot.time_zone)
    due = shipments_due(session, service_date, tz)
    if not due:
        return []
    routes = []
    engine = fit_engine(session, service_date, tz)
    for opens, closes, departure in WAVES:
        wave = [s for s in due if opens <= (s.promised_start or datetime.min).astimezone(tz).time() < closes]
        if not wave:
            continue
        # Split by direction from the depot so each driver works one part of the city.
        wave.sort(key=lambda s: _bearing_bucket(depot, s, len(drivers)))
        buckets: list[list[Shipment]] = [[] for _ in drivers]
        for index, shipment in enumerate(wave):
            buckets[min(index * len(drivers) // len(wave), len(drivers) - 1)].append(shipment)
        departs = datetime.combine(service_date, departure, tz)
        for driver, parcels in zip(drivers, buckets, strict=True):
            if not parcels:
                continue
            route = Route(driver_id=driver.id, depot_id=depot.id, service_date=service_date, departs_at=departs)
            session.add(route)
            _sequence(route, depot, parcels, departs, rng)
            session.flush()
            recompute_route(session, route, now=departs, engine=engine)
            for stop in route.stops:
                _promise(stop.shipment)
            routes.append(route)
    session.flush()
    return routes


def _bearing_bucket(depot: Depot, shipment: Shipment, buckets: int) -> float:
    from math import atan2, pi

    angle = atan2(shipment.lat - depot.lat, shipment.lng - depot.lng)
    return (angle + pi) / (2 * pi) * buckets


def _sequence(route: Route, depot: Depot, parcels: list[Shipment], departs: datetime, rng: random.Random) -> None:
    remaining = sorted(parcels, key=lambda s: s.promised_start or departs)
    here = (depot.lat, depot.lng)
    clock = departs
    sequence = 0
    while remaining:
        # Nearest neighbour among the parcels whose window opens earliest.
        earliest = min((s.promised_start or departs) for s in remaining)
        pool = [s for s in remaining if (s.promised_start or departs) <= max(earliest, clock)] or remaining
        nxt = min(pool, key=lambda s: distance_m(here[0], here[1], s.lat, s.lng))
        remaining.remove(nxt)
        travel = timedelta(minutes=distance_m(here[0], here[1], nxt.lat, nxt.lng) / SPEED_M_PER_MIN)
        clock = max(clock + travel, (nxt.promised_start or departs) + timedelta(minutes=10))
        sequence += 1
        route.stops.append(Stop(
            shipment_id=nxt.id, sequence=sequence, planned_at=clock,
            delay_minutes=rng.choice([0] * 6 + [5, 10, 20, 45]),
            will_fail=rng.random() < 0.06,
        ))
        nxt.eta_start = nxt.eta_end = None  # a new plan: the engine places the day's first window
        clock += timedelta(minutes=SERVICE_MINUTES)
        here = (nxt.lat, nxt.lng)
