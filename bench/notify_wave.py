"""Synthetic waves of out-for-delivery shipments, for the notification benchmark and fault tests.

`build_wave` writes N customers and N shipments that went out for delivery at `now` with bulk
inserts (the ORM would take longer than what we measure); the planner then plans them as usual.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from bot.core.models import Customer, Shipment, ShipmentStatus

LOCALES = ("en", "de", "nl")


def build_wave(session: Session, n: int, now: datetime, *, first_phone: int = 4917000000000) -> list[int]:
    """N customers (SMS, no quiet hours) each with one parcel out for delivery; returns shipment ids."""
    start = (session.scalar(select(Customer.id).order_by(Customer.id.desc()).limit(1)) or 0) + 1
    # after any existing rows (the demo world has more shipments than customers)
    first_shipment = (session.scalar(select(Shipment.id).order_by(Shipment.id.desc()).limit(1)) or 0) + 1
    customers = [
        {"id": start + i, "name": f"Wave Customer{i}", "phone": f"+{first_phone + start + i}",
         "email": f"wave{start + i}@example.com", "locale": LOCALES[i % 3], "time_zone": "Europe/Berlin",
         "preferred_channels": ["sms"], "quiet_hours_start": 0, "quiet_hours_end": 0, "created_at": now}
        for i in range(n)
    ]
    shipments = [
        {"id": first_shipment + i, "tracking_number": f"WV{start + i:010d}", "carrier": "sandbox", "order_reference": f"W{i}",
         "customer_id": start + i, "status": ShipmentStatus.OUT_FOR_DELIVERY, "status_at": now,
         "promised_start": now + timedelta(hours=2), "promised_end": now + timedelta(hours=4),
         "eta_start": now + timedelta(hours=2, minutes=30), "eta_end": now + timedelta(hours=3, minutes=30),
         "address_line": f"Wavestraße {i % 200 + 1}", "postcode": "10115", "city": "Berlin", "lat": 52.52,
         "lng": 13.40, "items": [], "created_at": now, "updated_at": now}
        for i in range(n)
    ]
    for chunk in range(0, n, 5000):
        session.execute(insert(Customer), customers[chunk:chunk + 5000])
        session.execute(insert(Shipment), shipments[chunk:chunk + 5000])
    session.flush()
    return [s["id"] for s in shipments]
