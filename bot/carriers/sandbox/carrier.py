"""The sandbox adapter: the `Carrier` protocol over the demo world in the database."""

from __future__ import annotations

import secrets
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.carriers.errors import CarrierUnavailable, ChangeRefused, Refusal, UnknownShipment
from bot.carriers.models import RETURN_METHODS, Capability, LockerOption, ReturnLabel, TimeWindow, TrackingInfo
from bot.carriers.sandbox.simulator import LOCKER_LEAD
from bot.carriers.sandbox.world import AREAS
from bot.core.clock import Clock, SharedClock
from bot.core.db import transaction
from bot.core.geo import distance_m
from bot.core.models import (
    FINAL_STATUSES,
    AuditLog,
    Locker,
    Return,
    Route,
    Shipment,
    ShipmentStatus,
    Stop,
)

SERVICE_AREA = {postcode: (lat, lng) for postcode, lat, lng, _ in AREAS}
SLOT_HOURS = (8, 10, 12, 14, 16, 18)
SLOT_LENGTH = timedelta(hours=2)
SLOT_CAPACITY = 12
BOOKABLE_DAYS = 14  # two weeks ahead, so "I am away until the 12th" has a window after it (issue 16)
TZ = ZoneInfo("Europe/Berlin")
WITH_DRIVER = {ShipmentStatus.OUT_FOR_DELIVERY}


class SandboxCarrier:
    name = "sandbox"
    capabilities = frozenset(Capability)
    return_methods = RETURN_METHODS
    uses_our_lockers = True

    def __init__(self, session_factory: sessionmaker[Session], *, clock: Clock | None = None,
                 faults: frozenset[str] = frozenset()) -> None:
        self._sessions = session_factory
        self._clock = clock or SharedClock(session_factory)
        self._faults = faults

    def _fail_if_faulty(self, tracking_number: str) -> None:
        """`SANDBOX_FAULTS`: a change to these parcels fails as a carrier that does not answer does."""
        if tracking_number in self._faults:
            raise CarrierUnavailable("sandbox fault: carrier timed out")

    # -- reading ---------------------------------------------------------------------------
    def track(self, tracking_number: str) -> TrackingInfo:
        with self._sessions() as session:
            shipment = _shipment(session, tracking_number)
            stops_away, position = _route_position(session, shipment)
            eta = TimeWindow(shipment.eta_start, shipment.eta_end) if shipment.eta_start and shipment.eta_end else None
            return TrackingInfo(
                tracking_number=shipment.tracking_number, status=shipment.status, status_at=shipment.status_at,
                eta=eta, stops_away=stops_away, driver_position=position,
                locker_name=shipment.locker.name if shipment.locker else None,
            )

    def available_windows(self, tracking_number: str) -> list[TimeWindow]:
        with self._sessions() as session:
            shipment = _shipment(session, tracking_number)
            _refuse_if_settled(shipment, "move")
            return _free_windows(session, self._clock.now(), exclude=shipment.id)

    def nearby_lockers(self, tracking_number: str, limit: int = 5) -> list[LockerOption]:
        with self._sessions() as session:
            shipment = _shipment(session, tracking_number)
            lockers = session.scalars(select(Locker)).all()
            ranked = sorted(lockers, key=lambda lk: distance_m(shipment.lat, shipment.lng, lk.lat, lk.lng))
            return [_locker_option(lk, shipment) for lk in ranked[:limit]]

    # -- changing --------------------------------------------------------------------------
    def reschedule(self, tracking_number: str, window: TimeWindow) -> TimeWindow:
        self._fail_if_faulty(tracking_number)
        now = self._clock.now()
        with transaction(self._sessions) as session:
            shipment = _shipment(session, tracking_number)
            _refuse_if_settled(shipment, "move")
            if window not in _free_windows(session, now, exclude=shipment.id):
                raise ChangeRefused(Refusal.WINDOW_TAKEN)
            _unplan(session, shipment)
            shipment.promised_start, shipment.promised_end = window.start, window.end
            shipment.eta_start, shipment.eta_end = window.start, window.end
            _audit(session, shipment, "reschedule", {"start": window.start.isoformat()})
            return window

    def redirect_to_locker(self, tracking_number: str, locker_code: str) -> LockerOption:
        self._fail_if_faulty(tracking_number)
        now = self._clock.now()
        with transaction(self._sessions) as session:
            shipment = _shipment(session, tracking_number)
            _refuse_if_settled(shipment, "send to a locker")
            locker = session.scalar(select(Locker).where(Locker.code == locker_code).with_for_update())
            if locker is None:
                raise ChangeRefused(Refusal.UNKNOWN_LOCKER, locker_code)
            if locker.free <= 0:
                raise ChangeRefused(Refusal.LOCKER_FULL, locker.name)
            _unplan(session, shipment)
            locker.occupied += 1
            shipment.locker_id = locker.id
            shipment.locker = locker
            arrival = now + LOCKER_LEAD
            shipment.eta_start, shipment.eta_end = arrival, arrival + timedelta(hours=1)
            _audit(session, shipment, "redirect_to_locker", {"locker": locker.code})
            return _locker_option(locker, shipment)

    def set_instructions(self, tracking_number: str, instructions: str) -> None:
        self._fail_if_faulty(tracking_number)
        with transaction(self._sessions) as session:
            shipment = _shipment(session, tracking_number)
            _refuse_if_settled(shipment, "change the instructions for")
            shipment.instructions = instructions
            _audit(session, shipment, "instructions", {"length": len(instructions)})

    def deliver_to_neighbour(self, tracking_number: str, neighbour: str) -> None:
        self._fail_if_faulty(tracking_number)
        with transaction(self._sessions) as session:
            shipment = _shipment(session, tracking_number)
            _refuse_if_settled(shipment, "change where it goes for")
            shipment.instructions = f"Leave with neighbour: {neighbour}"
            _audit(session, shipment, "neighbour", {"length": len(neighbour)})

    def change_address(self, tracking_number: str, *, address_line: str, postcode: str) -> None:
        self._fail_if_faulty(tracking_number)
        with transaction(self._sessions) as session:
            shipment = _shipment(session, tracking_number)
            _refuse_if_settled(shipment, "change the address of")
            centre = SERVICE_AREA.get(postcode)
            if centre is None:
                raise ChangeRefused(Refusal.OUTSIDE_AREA, postcode)
            _unplan(session, shipment)
            shipment.address_line, shipment.postcode = address_line, postcode
            shipment.lat, shipment.lng = centre
            _audit(session, shipment, "change_address", {"postcode": postcode})

    def pickup_windows(self, tracking_number: str) -> list[TimeWindow]:
        """Return pickups use the delivery rounds' free windows, from tomorrow."""
        now = self._clock.now()
        with self._sessions() as session:
            _shipment(session, tracking_number)
            return _free_windows(session, now, exclude=-1)

    def create_return(
        self, tracking_number: str, *, items: list[str], reason: str, method: str,
        locker_code: str | None = None, pickup: TimeWindow | None = None,
    ) -> ReturnLabel:
        self._fail_if_faulty(tracking_number)
        now = self._clock.now()
        with transaction(self._sessions) as session:
            shipment = _shipment(session, tracking_number)
            if shipment.status_enum != ShipmentStatus.DELIVERED:
                raise ChangeRefused(Refusal.NOT_YET_DELIVERED)
            if shipment.return_until is None or shipment.return_until < now:
                raise ChangeRefused(Refusal.RETURN_WINDOW_CLOSED)
            skus = {item["sku"] for item in shipment.items if item.get("returnable")}
            if not items or not set(items) <= skus:
                raise ChangeRefused(Refusal.NOT_RETURNABLE)
            if method not in ("locker", "pickup", "label"):
                raise ChangeRefused(Refusal.RETURN_METHOD_NOT_OFFERED, method)
            locker = session.scalar(select(Locker).where(Locker.code == locker_code)) if locker_code else None
            if method == "locker" and locker is None:
                raise ChangeRefused(Refusal.LOCKER_NEEDED)
            if method == "pickup" and pickup is None:
                raise ChangeRefused(Refusal.PICKUP_WINDOW_NEEDED)
            rma = f"R{secrets.randbelow(10**8):08d}"
            code = f"QR-{secrets.token_hex(4).upper()}" if method == "locker" else f"LBL-{secrets.token_hex(4).upper()}"
            session.add(Return(
                shipment_id=shipment.id, rma=rma, items=sorted(items), reason=reason[:200], method=method,
                label_code=code, locker_id=locker.id if locker else None,
                pickup_start=pickup.start if pickup else None, pickup_end=pickup.end if pickup else None,
            ))
            _audit(session, shipment, "create_return", {"rma": rma, "method": method})
            return ReturnLabel(rma=rma, method=method, label_code=code, pickup=pickup,
                               locker_name=locker.name if locker else None)


def _shipment(session: Session, tracking_number: str) -> Shipment:
    shipment = session.scalar(
        select(Shipment).where(Shipment.tracking_number == tracking_number, Shipment.carrier == "sandbox")
    )
    if shipment is None:
        raise UnknownShipment(tracking_number)
    return shipment


def _refuse_if_settled(shipment: Shipment, verb: str) -> None:
    status = shipment.status_enum
    if status in WITH_DRIVER:
        raise ChangeRefused(Refusal.OUT_FOR_DELIVERY, verb)
    if status in FINAL_STATUSES or status == ShipmentStatus.AT_LOCKER:
        raise ChangeRefused(Refusal.DELIVERED, verb)
    if shipment.locker_id is not None:
        raise ChangeRefused(Refusal.GOING_TO_LOCKER, verb)


def _free_windows(session: Session, now: datetime, *, exclude: int) -> list[TimeWindow]:
    first_day = now.astimezone(TZ).date() + timedelta(days=1)
    horizon_end = datetime.combine(first_day + timedelta(days=BOOKABLE_DAYS), time(0), TZ)
    booked = dict(
        session.execute(
            select(Shipment.promised_start, func.count())
            .where(Shipment.promised_start >= datetime.combine(first_day, time(0), TZ),
                   Shipment.promised_start < horizon_end, Shipment.id != exclude)
            .group_by(Shipment.promised_start)
        ).all()
    )
    windows = []
    for offset in range(BOOKABLE_DAYS):
        day = first_day + timedelta(days=offset)
        if day.weekday() == 6:  # no Sunday rounds
            continue
        for hour in SLOT_HOURS:
            start = datetime.combine(day, time(hour), TZ)
            if booked.get(start, 0) < SLOT_CAPACITY:
                windows.append(TimeWindow(start, start + SLOT_LENGTH))
    return windows


def _unplan(session: Session, shipment: Shipment) -> None:
    """Take the parcel off any route that has not left yet."""
    session.execute(
        delete(Stop).where(
            Stop.shipment_id == shipment.id, Stop.completed_at.is_(None),
            Stop.route_id.in_(select(Route.id).where(Route.status == "planned")),
        )
    )


def _route_position(session: Session, shipment: Shipment) -> tuple[int | None, tuple[float, float] | None]:
    if shipment.status_enum != ShipmentStatus.OUT_FOR_DELIVERY:
        return None, None
    stop = session.scalar(
        select(Stop).join(Route).where(Stop.shipment_id == shipment.id, Route.status == "active",
                                       Stop.completed_at.is_(None))
    )
    if stop is None:
        return None, None
    ahead = session.scalar(
        select(func.count()).select_from(Stop).where(
            Stop.route_id == stop.route_id, Stop.sequence < stop.sequence, Stop.completed_at.is_(None)
        )
    ) or 0
    driver = stop.route.driver
    position = (driver.lat, driver.lng) if driver.lat is not None and driver.lng is not None else None
    return ahead, position


def _locker_option(locker: Locker, shipment: Shipment) -> LockerOption:
    return LockerOption(
        code=locker.code, name=locker.name, address=f"{locker.address}, {locker.postcode}",
        distance_m=round(distance_m(shipment.lat, shipment.lng, locker.lat, locker.lng)),
        opening_hours=locker.opening_hours, free=locker.free,
    )


def _audit(session: Session, shipment: Shipment, action: str, detail: dict[str, object]) -> None:
    session.add(AuditLog(actor="carrier:sandbox", action=action, entity="shipment",
                         entity_id=str(shipment.id), detail=detail))
