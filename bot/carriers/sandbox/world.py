"""The demo world: one depot in Berlin, drivers, lockers, customers and their parcels.

Deterministic for a seed, so tests and demos can rely on its shape (not on its exact names).
Today's parcels are on routes that start at 08:00; the simulated clock starts at 07:30 today.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.carriers.ingest import ingest_event
from bot.carriers.models import CarrierEvent
from bot.carriers.sandbox.planner import plan_routes
from bot.carriers.sandbox.proofs import DropPolicy, drop_proof
from bot.core.clock import real_now, start_clock
from bot.core.models import Customer, Depot, Driver, Locker, Shipment, ShipmentStatus

CITY = "Berlin"
TZ = ZoneInfo("Europe/Berlin")
SIM_DAY_START = time(7, 30)

# Postcode areas with an approximate centre (real places; coordinates rounded).
AREAS: list[tuple[str, float, float, list[str]]] = [
    ("10115", 52.5320, 13.3840, ["Invalidenstraße", "Chausseestraße", "Bergstraße"]),
    ("10119", 52.5300, 13.4050, ["Weinbergsweg", "Zionskirchstraße", "Brunnenstraße"]),
    ("10178", 52.5210, 13.4090, ["Rosenthaler Straße", "Spandauer Straße", "Münzstraße"]),
    ("10405", 52.5380, 13.4250, ["Kollwitzstraße", "Knaackstraße", "Sredzkistraße"]),
    ("10435", 52.5380, 13.4100, ["Kastanienallee", "Oderberger Straße", "Schwedter Straße"]),
    ("10245", 52.5050, 13.4550, ["Simon-Dach-Straße", "Krossener Straße", "Wühlischstraße"]),
    ("10247", 52.5150, 13.4650, ["Rigaer Straße", "Samariterstraße", "Frankfurter Allee"]),
    ("10967", 52.4900, 13.4200, ["Graefestraße", "Böckhstraße", "Dieffenbachstraße"]),
    ("10999", 52.4990, 13.4250, ["Oranienstraße", "Manteuffelstraße", "Reichenberger Straße"]),
    ("12047", 52.4900, 13.4280, ["Weserstraße", "Pannierstraße", "Sanderstraße"]),
    ("10623", 52.5070, 13.3220, ["Grolmanstraße", "Knesebeckstraße", "Carmerstraße"]),
    ("10627", 52.5070, 13.3050, ["Kantstraße", "Wilmersdorfer Straße", "Pestalozzistraße"]),
]

WEEK = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
LOCKERS = [
    ("BER-ALX", "Alexanderplatz", "Alexanderplatz 7", "10178", 52.5219, 13.4132, ("06:00", "23:00"), 60),
    ("BER-HKM", "Hackescher Markt", "Neue Promenade 1", "10178", 52.5225, 13.4022, ("07:00", "22:00"), 40),
    ("BER-KWP", "Kollwitzplatz", "Wörther Straße 20", "10405", 52.5365, 13.4172, ("08:00", "20:00"), 30),
    ("BER-BXP", "Boxhagener Platz", "Gärtnerstraße 12", "10245", 52.5104, 13.4597, ("00:00", "24:00"), 50),
    ("BER-HMP", "Hermannplatz", "Hermannplatz 5", "10967", 52.4867, 13.4246, ("07:00", "21:00"), 45),
    ("BER-SVP", "Savignyplatz", "Savignyplatz 3", "10623", 52.5056, 13.3222, ("08:00", "20:00"), 2),
]

FIRST = ["Anna", "Ben", "Clara", "David", "Emma", "Felix", "Greta", "Hannah", "Ilias", "Jonas",
         "Katrin", "Leon", "Mia", "Noah", "Olga", "Paul", "Rosa", "Samir", "Tina", "Umut"]
LAST = ["Schmidt", "Meyer", "Weber", "Yilmaz", "Fischer", "Novak", "Wagner", "Becker", "Kaya", "Hoffmann"]
PRODUCTS = [("SH-RUN-42", "running shoes"), ("JK-RAIN-M", "rain jacket"), ("BK-COOK-01", "cookbook"),
            ("HP-BT-200", "headphones"), ("LMP-DESK", "desk lamp"), ("TS-ORG-L", "organic t-shirt"),
            ("MUG-2PK", "mug set"), ("BAG-DAY", "day backpack")]

TODAY_PARCELS = 45
TOMORROW_PARCELS = 16
DELIVERED_PARCELS = 8
EARLIER_DELIVERIES = 6  # more history, for English customers with several parcels (see _earlier_deliveries)
LABEL_ONLY_PARCELS = 3
CUSTOMERS = 40


def world_exists(session: Session) -> bool:
    return (session.scalar(select(func.count()).select_from(Shipment)) or 0) > 0


def build_world(session: Session, *, seed: int, speed: float, now: datetime | None = None,
                drops: DropPolicy | None = None) -> None:
    """Create the demo world and start the simulated clock at 07:30 today (Berlin).

    The parcels delivered before today come with the driver's proof, following `drops`."""
    rng = random.Random(seed)
    now = now or real_now()
    today = now.astimezone(TZ).date()
    # The world's history happened before its own clock starts, whatever the wall clock says: a status
    # time after 07:30 would make the day's first events older than the state, so ingestion would drop them.
    day_start = datetime.combine(today, SIM_DAY_START, TZ)
    depot = Depot(name="Doorstep Depot Berlin-Lichtenberg", address="Herzbergstraße 40, 10365 Berlin",
                  lat=52.5250, lng=13.4900, time_zone=TZ.key)
    session.add(depot)
    for name, vehicle in [("Jan Kowalski", "e-van B-DS 101"), ("Mehmet Arslan", "e-van B-DS 102"),
                          ("Lena Vogel", "cargo bike B-DS 103")]:
        session.add(Driver(name=name, vehicle=vehicle))
    for code, name, address, postcode, lat, lng, (opens, closes), capacity in LOCKERS:
        hours = {day: [opens, closes] for day in WEEK if not (day == "sun" and closes != "24:00")}
        session.add(Locker(code=code, name=name, address=address, postcode=postcode, lat=lat, lng=lng,
                           opening_hours=hours, capacity=capacity, occupied=capacity if capacity < 5 else capacity // 3))

    customers = [_customer(rng, index) for index in range(CUSTOMERS)]
    session.add_all(customers)
    session.flush()

    counter = iter(range(1, 10_000))
    # Every customer gets a parcel today first, so each demo phone has something to ask about.
    for index in range(TODAY_PARCELS):
        _parcel(session, rng, customers[index % CUSTOMERS], next(counter), ShipmentStatus.AT_DEPOT,
                promised_day=today, before=day_start)
    for _ in range(TOMORROW_PARCELS):
        _parcel(session, rng, rng.choice(customers), next(counter), ShipmentStatus.IN_TRANSIT,
                promised_day=today + timedelta(days=1), before=day_start)
    delivered_events = []
    for index in range(DELIVERED_PARCELS):
        # The last one was delivered long ago: its return window has closed.
        days_ago = 40 if index == DELIVERED_PARCELS - 1 else 1 + index
        delivered = datetime.combine(today - timedelta(days=days_ago), time(11 + index % 6), TZ)
        shipment = _parcel(session, rng, customers[index], next(counter), ShipmentStatus.IN_TRANSIT,
                           promised_day=delivered.date(), before=day_start, items=2 if index % 2 else 1)
        shipment.status_at = delivered - timedelta(days=1)
        delivered_events.append((shipment, delivered))
    for _ in range(LABEL_ONLY_PARCELS):
        _parcel(session, rng, rng.choice(customers), next(counter), ShipmentStatus.LABEL_CREATED,
                promised_day=None, before=day_start)
    session.flush()
    delivered_events += _earlier_deliveries(session, customers, counter, seed=seed, today=today, day_start=day_start)
    policy = drops or DropPolicy()
    for shipment, delivered in delivered_events:  # history enters through ingestion like any event
        proof = drop_proof(shipment, seed=seed, day=delivered.date().isoformat(), policy=policy, depot_id=depot.id)
        ingest_event(session, CarrierEvent(carrier="sandbox", event_id=f"{shipment.tracking_number}:pod:seed",
                                           tracking_number=shipment.tracking_number, status=ShipmentStatus.DELIVERED,
                                           occurred_at=delivered, description="Delivered", proof=proof),
                     max_distance_m=policy.max_distance_m)
    plan_routes(session, today, rng)
    start_clock(session, sim_start=day_start, speed=speed, at=now)


def _earlier_deliveries(session: Session, customers: list[Customer], counter: Iterator[int], *, seed: int,
                        today: date, day_start: datetime) -> list[tuple[Shipment, datetime]]:
    """A parcel delivered a few days ago for English customers who have several on the way and none
    delivered: "where did you leave it?", missing parcels and returns have more people to try them on.
    Drawn from a random stream of their own, so the rest of the world is what it always was."""
    rng = random.Random(f"{seed}-earlier-deliveries")
    owners = [c for c in customers[DELIVERED_PARCELS:]  # the first ones have one delivered already
              if c.locale == "en" and len(c.shipments) >= 2][:EARLIER_DELIVERIES]
    events = []
    for index, owner in enumerate(owners):
        delivered = datetime.combine(today - timedelta(days=2 + index), time(9 + index % 8), TZ)
        shipment = _parcel(session, rng, owner, next(counter), ShipmentStatus.IN_TRANSIT,
                           promised_day=delivered.date(), before=day_start, items=1 + index % 2)
        shipment.status_at = delivered - timedelta(days=1)
        events.append((shipment, delivered))
    session.flush()
    return events


def _customer(rng: random.Random, index: int) -> Customer:
    first, last = FIRST[index % len(FIRST)], LAST[(index * 7 + index // len(FIRST)) % len(LAST)]
    visitor = index % 13 == 12  # a few customers live elsewhere and read times in their own zone
    return Customer(
        name=f"{first} {last}",
        phone=f"+49151{20000000 + index + 1:08d}",
        email=f"{first.lower()}.{last.lower()}{index + 1}@example.com",
        locale="de" if index % 4 == 3 else "nl" if index % 9 == 4 else "en",
        time_zone="Europe/London" if visitor else TZ.key,
        preferred_channels=["sms", "email"] if index % 5 else ["email"],
        accessibility_needs="Wheelchair user: please allow extra time at the door" if index % 17 == 5 else None,
    )


def _parcel(session: Session, rng: random.Random, customer: Customer, number: int, status: ShipmentStatus,
            *, promised_day: object, before: datetime, items: int = 1) -> Shipment:
    postcode, lat, lng, streets = rng.choice(AREAS)
    chosen = rng.sample(PRODUCTS, items)
    shipment = Shipment(
        tracking_number=f"DS{rng.randrange(10**9, 10**10):010d}",
        order_reference=f"ORD-{number:05d}",
        customer_id=customer.id,
        status=status,
        status_at=before - timedelta(hours=rng.randrange(2, 20)),  # its last scan, before the day starts
        address_line=f"{rng.choice(streets)} {rng.randrange(1, 120)}",
        postcode=postcode,
        city=CITY,
        lat=lat + rng.uniform(-0.006, 0.006),
        lng=lng + rng.uniform(-0.009, 0.009),
        items=[{"sku": sku, "name": name, "qty": 1, "returnable": True} for sku, name in chosen],
    )
    if promised_day is not None:
        slot = rng.choice([8, 10, 12, 14, 16, 18])
        start = datetime.combine(promised_day, time(slot), TZ)  # type: ignore[arg-type]
        shipment.promised_start, shipment.promised_end = start, start + timedelta(hours=2)
        shipment.eta_start, shipment.eta_end = shipment.promised_start, shipment.promised_end
    session.add(shipment)
    return shipment
