"""Register a new parcel for a customer, idempotent on (carrier, tracking number), then apply their profile.

The one way a parcel enters after the demo world is built: the shipper's pre-advice over HTTP
(`POST /api/v1/shipments`, `bot.web.api_intake`) and the demo's "a new parcel arrives" button. The
customer is found by phone number (E.164) or created. The same parcel sent twice is registered once; the
same tracking number for another carrier is a `Conflict`. After the parcel is committed the customer's
profile is applied to it (`bot.profile.apply.on_new_parcel`), then the away-from-home hold's hook runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.carriers import TimeWindow
from bot.core.models import Customer, Shipment, ShipmentStatus
from bot.core.runtime import Runtime
from bot.holds import on_new_parcel as hold_new_parcel
from bot.profile.apply import Applied, on_new_parcel


class Conflict(Exception):
    """The tracking number is already registered for another carrier."""


@dataclass(frozen=True, kw_only=True)
class Recipient:
    phone: str  # E.164, checked by the caller
    name: str
    email: str
    locale: str = "en"
    time_zone: str = "Europe/Berlin"


@dataclass(frozen=True, kw_only=True)
class NewParcel:
    carrier: str
    tracking_number: str
    order_reference: str
    recipient: Recipient
    address_line: str
    postcode: str
    city: str
    lat: float
    lng: float
    window: TimeWindow | None = None  # the promised window, when the shipper knows it
    items: list[dict[str, Any]] = field(default_factory=list)  # [{"sku", "name", "qty", "returnable"}]
    status: ShipmentStatus = ShipmentStatus.LABEL_CREATED


@dataclass(frozen=True)
class Registered:
    shipment_id: int
    created: bool  # False: it was registered before (nothing changed, nothing applied again)
    applied: list[Applied] = field(default_factory=list)


def _customer(session: Any, recipient: Recipient) -> Customer:
    customer = session.scalar(select(Customer).where(Customer.phone == recipient.phone))
    if customer is None:
        customer = Customer(name=recipient.name, phone=recipient.phone, email=recipient.email,
                            locale=recipient.locale, time_zone=recipient.time_zone)
        session.add(customer)
        session.flush()
    return customer


def _existing(runtime: Runtime, parcel: NewParcel) -> int | None:
    with runtime.sessions() as session:
        found = session.execute(select(Shipment.id, Shipment.carrier)
                                .where(Shipment.tracking_number == parcel.tracking_number)).first()
    if found is None:
        return None
    if found.carrier != parcel.carrier:
        raise Conflict(parcel.tracking_number)
    return int(found.id)


def _insert(runtime: Runtime, parcel: NewParcel, now: datetime) -> int:
    with runtime.sessions() as session, session.begin():
        customer = _customer(session, parcel.recipient)
        window = parcel.window
        shipment = Shipment(
            tracking_number=parcel.tracking_number, carrier=parcel.carrier, order_reference=parcel.order_reference,
            customer_id=customer.id, status=parcel.status, status_at=now, address_line=parcel.address_line,
            postcode=parcel.postcode, city=parcel.city, lat=parcel.lat, lng=parcel.lng, items=list(parcel.items),
            promised_start=window.start if window else None, promised_end=window.end if window else None,
            eta_start=window.start if window else None, eta_end=window.end if window else None,
        )
        session.add(shipment)
        session.flush()
        return shipment.id


def register(runtime: Runtime, parcel: NewParcel, *, now: datetime) -> Registered:
    """Register the parcel once; on the first registration apply the customer's profile to it."""
    existing = _existing(runtime, parcel)
    if existing is not None:
        return Registered(existing, created=False)
    try:
        shipment_id = _insert(runtime, parcel, now)
    except IntegrityError:  # registered meanwhile by another request (or a new customer's phone raced)
        existing = _existing(runtime, parcel)
        if existing is None:
            raise
        return Registered(existing, created=False)
    applied = on_new_parcel(runtime, shipment_id)
    hold_new_parcel(runtime, shipment_id)  # a hold the customer is on moves it after the hold, or to a locker
    return Registered(shipment_id, created=True, applied=applied)
