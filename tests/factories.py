"""Small factories for tests: a customer and a shipment with sensible defaults."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from bot.core.models import Customer, DeliveryProof, Shipment, ShipmentStatus

_numbers = itertools.count(1)


def customer(session: Session, **fields: Any) -> Customer:
    n = next(_numbers)
    row = Customer(**{"name": f"Test Person {n}", "phone": f"+49151{30000000 + n:08d}",
                      "email": f"person{n}@example.com", **fields})
    session.add(row)
    session.flush()
    return row


def shipment(session: Session, owner: Customer, *, at: datetime, **fields: Any) -> Shipment:
    n = next(_numbers)
    row = Shipment(**{
        "tracking_number": f"DS{5000000000 + n:010d}", "order_reference": f"T-{n}", "customer_id": owner.id,
        "status": ShipmentStatus.IN_TRANSIT, "status_at": at, "address_line": "Teststraße 1", "postcode": "10115",
        "city": "Berlin", "lat": 52.53, "lng": 13.38,
        "items": [{"sku": "SKU-1", "name": "thing", "qty": 1, "returnable": True}],
        "promised_start": at + timedelta(days=1), "promised_end": at + timedelta(days=1, hours=2), **fields,
    })
    session.add(row)
    session.flush()
    return row


def put_proof(session: Session, proof: DeliveryProof) -> DeliveryProof:
    """This proof for its shipment, in place of the one the sandbox recorded when it delivered it."""
    session.execute(delete(DeliveryProof).where(DeliveryProof.shipment_id == proof.shipment_id))
    session.add(proof)
    return proof
