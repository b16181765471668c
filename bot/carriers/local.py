"""Our side of a remote carrier, read-only: which shipment, its id at the carrier, what we know of it; and
the ingestion of the events a carrier reported when polled (`bot.carriers.ingest`, the webhooks' path).

Remote adapters never open a database session themselves and never write our copy of a change: each is
handed a `Mirror` to read through, asks the carrier, and answers with our value types. The change service
records what the carrier accepted (`bot.changes.mirror`), so a refusal or a timeout leaves our database as
it was.
"""
from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.carriers.errors import ChangeRefused, Refusal, UnknownShipment
from bot.carriers.ingest import ingest_or_keep
from bot.carriers.models import CarrierEvent, LockerOption, TimeWindow
from bot.core.clock import Clock, SharedClock
from bot.core.db import transaction
from bot.core.geo import distance_m
from bot.core.models import FINAL_STATUSES, CarrierRef, Locker, Shipment, ShipmentStatus


def shipment_of(session: Session, carrier: str, tracking_number: str) -> Shipment:
    shipment = session.scalar(
        select(Shipment).where(Shipment.tracking_number == tracking_number, Shipment.carrier == carrier))
    if shipment is None:
        raise UnknownShipment(tracking_number)
    return shipment


def tracking_number_for(session: Session, carrier: str, external: str) -> str | None:
    """Our tracking number for the carrier's id, for inbound events that name the carrier's id only."""
    tracking_number = session.scalar(
        select(Shipment.tracking_number).join(CarrierRef, CarrierRef.shipment_id == Shipment.id)
        .where(CarrierRef.carrier == carrier, CarrierRef.external_id == external))
    if tracking_number is not None:
        return tracking_number
    return session.scalar(select(Shipment.tracking_number).where(
        Shipment.tracking_number == external, Shipment.carrier == carrier))


def link(session: Session, shipment: Shipment, carrier: str, external: str) -> None:
    """Serve `shipment` through `carrier`, known there as `external`."""
    shipment.carrier = carrier
    ref = session.get(CarrierRef, shipment.id) or CarrierRef(shipment_id=shipment.id, carrier=carrier, external_id=external)
    ref.carrier, ref.external_id = carrier, external
    session.add(ref)


def locker_option(locker: Locker, shipment: Shipment) -> LockerOption:
    return LockerOption(
        code=locker.code, name=locker.name, address=f"{locker.address}, {locker.postcode}",
        distance_m=round(distance_m(shipment.lat, shipment.lng, locker.lat, locker.lng)),
        opening_hours=locker.opening_hours, free=locker.free,
    )


def slot_windows(now: datetime, tz: str, *, days: int = 6, hours: tuple[int, ...] = (8, 10, 12, 14, 16, 18),
                 length: timedelta = timedelta(hours=2)) -> list[TimeWindow]:
    """Two-hour windows from tomorrow, no Sundays: what we offer when the carrier takes any window."""
    zone = ZoneInfo(tz)
    first = now.astimezone(zone).date() + timedelta(days=1)
    windows = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        if day.weekday() == 6:
            continue
        for hour in hours:
            start = datetime.combine(day, time(hour), zone)
            windows.append(TimeWindow(start, start + length))
    return windows


class Mirror:
    """One remote carrier's view of our database: reads what an adapter needs, records what the carrier did."""

    def __init__(self, session_factory: sessionmaker[Session], carrier: str, *, clock: Clock | None = None) -> None:
        self._sessions = session_factory
        self.carrier = carrier
        self._clock = clock or SharedClock(session_factory)

    # -- reading ---------------------------------------------------------------------------
    def external_id(self, tracking_number: str) -> str:
        """The shipment's id at the carrier: its `carrier_refs` row, else our tracking number itself."""
        with self._sessions() as session:
            shipment = shipment_of(session, self.carrier, tracking_number)
            ref = session.get(CarrierRef, shipment.id)
            return ref.external_id if ref is not None and ref.carrier == self.carrier else tracking_number

    def status(self, tracking_number: str) -> str:
        with self._sessions() as session:
            return shipment_of(session, self.carrier, tracking_number).status

    def locker_name(self, tracking_number: str) -> str | None:
        with self._sessions() as session:
            shipment = shipment_of(session, self.carrier, tracking_number)
            return shipment.locker.name if shipment.locker else None

    def now(self) -> datetime:
        return self._clock.now()

    def refuse_if_settled(self, tracking_number: str, verb: str) -> None:
        """What we know already rules a change out: say so before bothering the carrier."""
        status = ShipmentStatus(self.status(tracking_number))
        if status == ShipmentStatus.OUT_FOR_DELIVERY:
            raise ChangeRefused(Refusal.OUT_FOR_DELIVERY, verb)
        if status in FINAL_STATUSES or status == ShipmentStatus.AT_LOCKER:
            raise ChangeRefused(Refusal.DELIVERED, verb)

    def nearby_lockers(self, tracking_number: str, limit: int) -> list[LockerOption]:
        """Our locker network (the `lockers` table), nearest first: for carriers that deliver to any address."""
        with self._sessions() as session:
            shipment = shipment_of(session, self.carrier, tracking_number)
            lockers = session.scalars(select(Locker)).all()
            ranked = sorted(lockers, key=lambda lk: distance_m(shipment.lat, shipment.lng, lk.lat, lk.lng))
            return [locker_option(lk, shipment) for lk in ranked[:limit]]

    def our_locker_option(self, tracking_number: str, code: str) -> LockerOption:
        """One of our lockers as an option for this shipment (its distance from the delivery address)."""
        with self._sessions() as session:
            shipment = shipment_of(session, self.carrier, tracking_number)
            locker = session.scalar(select(Locker).where(Locker.code == code))
            if locker is None:
                raise ChangeRefused(Refusal.UNKNOWN_LOCKER, code)
            return locker_option(locker, shipment)

    def free_locker(self, code: str) -> Locker:
        """Our locker with that code, refused when unknown or full."""
        with self._sessions() as session:
            locker = session.scalar(select(Locker).where(Locker.code == code))
            if locker is None:
                raise ChangeRefused(Refusal.UNKNOWN_LOCKER, code)
            if locker.free <= 0:
                raise ChangeRefused(Refusal.LOCKER_FULL, locker.name)
            return locker

    def returnable(self, tracking_number: str, items: list[str]) -> dict[str, Any]:
        """A delivered shipment's customer, address and the names of `items`; refused unless all are returnable."""
        with self._sessions() as session:
            shipment = shipment_of(session, self.carrier, tracking_number)
            if shipment.status_enum != ShipmentStatus.DELIVERED:
                raise ChangeRefused(Refusal.NOT_YET_DELIVERED)
            returnable = {item["sku"]: item for item in shipment.items if item.get("returnable")}
            if not items or not set(items) <= set(returnable):
                raise ChangeRefused(Refusal.NOT_RETURNABLE)
            return {"name": shipment.customer.name, "address_line": shipment.address_line,
                    "postcode": shipment.postcode, "city": shipment.city, "phone": shipment.customer.phone,
                    "email": shipment.customer.email, "items": [str(returnable[sku]["name"]) for sku in items]}

    # -- ingestion -------------------------------------------------------------------------
    def ingest(self, tracking_number: str, events: list[tuple[CarrierEvent, str]]) -> tuple[str, datetime | None]:
        """Polled events (with the carrier's own status), oldest first, through ingestion; the shipment's status after."""
        with transaction(self._sessions) as session:
            for event, carrier_status in sorted(events, key=lambda pair: pair[0].occurred_at):
                ingest_or_keep(session, event, carrier_status=carrier_status)
            shipment = shipment_of(session, self.carrier, tracking_number)
            return shipment.status, shipment.status_at
