"""Inbound carrier events from the remote adapters' webhooks and polls, into the one ingestion path.

`ingest_event` refuses statuses it does not know; a real carrier sends new ones whenever it likes. So
an event whose carrier status has no meaning for us is kept (status "unknown", not applied, the raw
status in its payload) and logged, idempotently on its event id, and nothing about the shipment changes.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.carriers.errors import UnknownShipment
from bot.carriers.models import CarrierEvent
from bot.ingest import PROOF_MAX_DISTANCE_M, IngestResult, Outcome, ingest_event
from bot.models import Shipment, ShipmentEvent, ShipmentStatus

logger = logging.getLogger("doorstep.carriers.inbound")
UNKNOWN = "unknown"


def ingest_or_keep(session: Session, event: CarrierEvent, *, carrier_status: str,
                   max_distance_m: float = PROOF_MAX_DISTANCE_M) -> IngestResult:
    """`event.status` is ours when the carrier's status maps to one, else "unknown" (kept, not applied)."""
    if event.status != UNKNOWN:
        return ingest_event(session, replace(event, extra={**event.extra, "carrier_status": carrier_status}),
                            max_distance_m=max_distance_m)
    shipment = session.scalar(select(Shipment).where(Shipment.tracking_number == event.tracking_number))
    if shipment is None or shipment.carrier != event.carrier:
        raise UnknownShipment(f"no {event.carrier} shipment {event.tracking_number}")
    seen = session.scalar(select(ShipmentEvent.id).where(
        ShipmentEvent.carrier == event.carrier, ShipmentEvent.event_id == event.event_id))
    if seen is None:
        logger.warning("carrier %s sent status %r for %s: kept, not applied",
                       event.carrier, carrier_status[:60], event.tracking_number)
        session.add(ShipmentEvent(
            shipment_id=shipment.id, carrier=event.carrier, event_id=event.event_id, status=UNKNOWN,
            occurred_at=event.occurred_at, description=event.description[:200], applied=False,
            lat=event.lat, lng=event.lng, payload={**event.extra, "carrier_status": carrier_status[:80]},
        ))
        session.flush()
    outcome = Outcome.DUPLICATE if seen is not None else Outcome.STALE
    return IngestResult(outcome, shipment.id, shipment.status, shipment.status)


def known(status: str | None) -> str:
    """Our status if `status` is one of ours, else "unknown"."""
    try:
        return ShipmentStatus(status or "").value
    except ValueError:
        return UNKNOWN
