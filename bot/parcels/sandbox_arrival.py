"""A new sandbox parcel for a demo customer, as a shipper's pre-advice would announce it.

The demo's "a new parcel arrives" button and console command: the parcel goes through the same intake as
`POST /api/v1/shipments`, so the customer's profile (and the hold) are applied to it like to any other.
"""

from __future__ import annotations

import secrets
from datetime import datetime, time, timedelta

from sqlalchemy.orm import Session

from bot.carriers import TimeWindow
from bot.carriers.sandbox.world import AREAS, PRODUCTS, TZ
from bot.core.models import Customer, ShipmentStatus
from bot.parcels.intake import NewParcel, Recipient


def sandbox_parcel(session: Session, customer: Customer, now: datetime) -> NewParcel:
    """A parcel to the customer's latest address (or a demo area), promised for tomorrow at 08:00."""
    latest = max(customer.shipments, key=lambda s: s.id, default=None)
    postcode, lat, lng, streets = next((a for a in AREAS if latest is not None and a[0] == latest.postcode), AREAS[0])
    address = latest.address_line if latest is not None else f"{streets[0]} 1"
    where = (latest.lat, latest.lng) if latest is not None else (lat, lng)
    number = secrets.randbelow(10**10)
    sku, name = PRODUCTS[number % len(PRODUCTS)]
    day = now.astimezone(TZ).date() + timedelta(days=1)
    if day.weekday() == 6:  # no Sunday rounds
        day += timedelta(days=1)
    start = datetime.combine(day, time(8), TZ)
    return NewParcel(
        carrier="sandbox", tracking_number=f"DS{number:010d}", order_reference=f"ORD-N{number % 100000:05d}",
        recipient=Recipient(phone=customer.phone, name=customer.name, email=customer.email, locale=customer.locale,
                            time_zone=customer.time_zone),
        address_line=address, postcode=postcode, city="Berlin", lat=where[0], lng=where[1],
        window=TimeWindow(start, start + timedelta(hours=2)),
        items=[{"sku": sku, "name": name, "qty": 1, "returnable": True}], status=ShipmentStatus.IN_TRANSIT,
    )
