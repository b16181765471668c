"""Our side of a remote carrier: which shipment, its id at the carrier, and recording a change it accepted.

A remote adapter first asks the carrier; only when the carrier accepted does it write here, in one
transaction. A refusal or a timeout leaves our database as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.carriers.errors import ChangeRefused, Refusal, UnknownShipment
from bot.carriers.models import LockerOption, TimeWindow
from bot.db import transaction
from bot.geo import distance_m
from bot.models import FINAL_STATUSES, AuditLog, CarrierRef, Locker, Shipment, ShipmentStatus


def shipment_of(session: Session, carrier: str, tracking_number: str) -> Shipment:
    shipment = session.scalar(
        select(Shipment).where(Shipment.tracking_number == tracking_number, Shipment.carrier == carrier))
    if shipment is None:
        raise UnknownShipment(tracking_number)
    return shipment


def external_id(sessions: sessionmaker[Session], carrier: str, tracking_number: str) -> str:
    """The shipment's id at the carrier: its `carrier_refs` row, else our tracking number itself."""
    with sessions() as session:
        shipment = shipment_of(session, carrier, tracking_number)
        ref = session.get(CarrierRef, shipment.id)
        return ref.external_id if ref is not None and ref.carrier == carrier else tracking_number


def tracking_number_for(session: Session, carrier: str, external: str) -> str | None:
    """The other way round, for inbound events that name the carrier's id only."""
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


def refuse_if_settled(sessions: sessionmaker[Session], carrier: str, tracking_number: str, verb: str) -> None:
    """What we know already rules a change out: say so before bothering the carrier."""
    with sessions() as session:
        status = shipment_of(session, carrier, tracking_number).status_enum
    if status == ShipmentStatus.OUT_FOR_DELIVERY:
        raise ChangeRefused(Refusal.OUT_FOR_DELIVERY, verb)
    if status in FINAL_STATUSES or status == ShipmentStatus.AT_LOCKER:
        raise ChangeRefused(Refusal.DELIVERED, verb)


def record_change(sessions: sessionmaker[Session], carrier: str, tracking_number: str, action: str,
                  apply: Callable[[Session, Shipment], None], detail: dict[str, Any]) -> None:
    """The carrier accepted the change: mirror it on our shipment, with an audit entry, in one transaction."""
    with transaction(sessions) as session:
        shipment = shipment_of(session, carrier, tracking_number)
        apply(session, shipment)
        session.add(AuditLog(actor=f"carrier:{carrier}", action=action, entity="shipment",
                             entity_id=str(shipment.id), detail=detail))


def record_address_change(sessions: sessionmaker[Session], carrier: str, tracking_number: str, *,
                          address_line: str, postcode: str) -> None:
    """The carrier took the new address: ours follows (for adapters that send parcels anywhere)."""

    def apply(session: Session, shipment: Shipment) -> None:
        shipment.address_line, shipment.postcode = address_line, postcode

    record_change(sessions, carrier, tracking_number, "change_address", apply, {"postcode": postcode})


def nearby_lockers(sessions: sessionmaker[Session], carrier: str, tracking_number: str, limit: int) -> list[LockerOption]:
    """Our locker network (the `lockers` table), nearest first: for carriers that deliver to any address."""
    with sessions() as session:
        shipment = shipment_of(session, carrier, tracking_number)
        lockers = session.scalars(select(Locker)).all()
        ranked = sorted(lockers, key=lambda lk: distance_m(shipment.lat, shipment.lng, lk.lat, lk.lng))
        return [locker_option(lk, shipment) for lk in ranked[:limit]]


def locker_by_code(sessions: sessionmaker[Session], code: str) -> Locker:
    with sessions() as session:
        locker = session.scalar(select(Locker).where(Locker.code == code))
        if locker is None:
            raise ChangeRefused(Refusal.UNKNOWN_LOCKER, code)
        if locker.free <= 0:
            raise ChangeRefused(Refusal.LOCKER_FULL, locker.name)
        return locker


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
