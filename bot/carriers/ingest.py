"""Carrier events in: idempotent on (carrier, event id), never moving a shipment backwards in its
lifecycle (an out-for-delivery after delivered changes nothing), and within a stage never back in time.

Every event takes this one path: the sandbox simulator, our own carrier webhook and karrio's polls call
`ingest_event`; the remote carriers' webhooks and polls call `ingest_or_keep`, because a real carrier
sends new statuses whenever it likes: an event whose carrier status has no meaning for us is kept
(status "unknown", not applied, the raw status in its payload) and logged, idempotently on its event
id, and nothing about the shipment changes. Each carrier's `mapping` turns its payloads into
`CarrierEvent`s; this module is the only one that writes them.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.aftercare.proof import record_proof
from bot.carriers.errors import UnknownShipment
from bot.carriers.models import UNKNOWN, CarrierEvent, known
from bot.core.db import insert_or_skip
from bot.core.models import STATUS_RANK, AuditLog, Shipment, ShipmentEvent, ShipmentStatus, utcnow
from bot.core.settings import Settings

__all__ = ["UNKNOWN", "IngestResult", "Outcome", "ingest_event", "ingest_or_keep", "known"]

logger = logging.getLogger("doorstep.ingest")
RETURN_WINDOW = timedelta(days=30)
PROOF_MAX_DISTANCE_M = float(Settings.model_fields["proof_max_distance_m"].default)


class Outcome(enum.StrEnum):
    APPLIED = "applied"  # the shipment changed
    STALE = "stale"  # recorded, but behind what we know (an earlier stage, or older in the same one): nothing changed
    DUPLICATE = "duplicate"  # seen before: nothing recorded, nothing changed


@dataclass(frozen=True)
class IngestResult:
    outcome: Outcome
    shipment_id: int
    previous_status: str
    status: str


def _is_newer(shipment: Shipment, event: CarrierEvent) -> bool:
    """Status order first, time second.

    A parcel never goes back down its lifecycle (`STATUS_RANK`), so an event of a higher rank is news
    whatever its time: the state we hold, though stamped later, cannot have followed it. Carriers'
    clocks disagree (a locker's scanner, a driver's handset, a batch sent late), and refusing such an
    event would leave the parcel stuck short of where it is. Only within a rank, where the lifecycle
    does go round (out for delivery, a failed attempt, the next day's round, ETA updates), is an older
    event old news. Either way the outcome does not depend on the order events arrive in.
    """
    new = ShipmentStatus(event.status)
    current = shipment.status_enum
    if current in (ShipmentStatus.DELIVERED, ShipmentStatus.RETURNED) and new != ShipmentStatus.RETURNED:
        return False
    if STATUS_RANK[new] != STATUS_RANK[current]:
        return STATUS_RANK[new] > STATUS_RANK[current]
    return shipment.status_at is None or event.occurred_at >= shipment.status_at


def ingest_event(session: Session, event: CarrierEvent, *,
                 max_distance_m: float = PROOF_MAX_DISTANCE_M) -> IngestResult:
    """Record one event and apply it if it is new and not behind the shipment's state (see `_is_newer`).

    A delivered event with a proof of delivery records it (`bot.aftercare.proof`; the latest delivery
    wins), compared with the instructions in force; `max_distance_m` is how far from the address a drop
    may be and still be "as asked".
    """
    try:
        ShipmentStatus(event.status)
    except ValueError:
        raise ValueError(f"unknown status {event.status!r}") from None
    shipment = session.scalar(
        select(Shipment).where(Shipment.tracking_number == event.tracking_number).with_for_update()
    )
    if shipment is None or shipment.carrier != event.carrier:
        raise UnknownShipment(f"no {event.carrier} shipment {event.tracking_number}")
    seen = session.scalar(
        select(ShipmentEvent.id).where(
            ShipmentEvent.carrier == event.carrier, ShipmentEvent.event_id == event.event_id
        )
    )
    previous = shipment.status
    if seen is not None:
        return IngestResult(Outcome.DUPLICATE, shipment.id, previous, previous)

    applies = _is_newer(shipment, event)
    payload = dict(event.extra)
    if event.proof is not None and event.proof.photo_ref:
        payload["proof_photo_ref"] = event.proof.photo_ref[:500]
    if not _record(session, shipment_id=shipment.id, carrier=event.carrier, event_id=event.event_id,
                   status=event.status, occurred_at=event.occurred_at, description=event.description,
                   applied=applies, lat=event.lat, lng=event.lng, payload=payload):
        return IngestResult(Outcome.DUPLICATE, shipment.id, previous, previous)
    if applies:
        _apply(shipment, event)
        session.add(
            AuditLog(actor=f"carrier:{event.carrier}", action="status", entity="shipment",
                     entity_id=str(shipment.id), detail={"from": previous, "to": event.status,
                                                          "event_id": event.event_id})
        )
    if event.proof is not None and event.status == ShipmentStatus.DELIVERED \
            and shipment.status_enum == ShipmentStatus.DELIVERED:
        record_proof(session, shipment, event.proof, carrier=event.carrier, delivered_at=event.occurred_at,
                     max_distance_m=max_distance_m)
    session.flush()
    return IngestResult(Outcome.APPLIED if applies else Outcome.STALE, shipment.id, previous, shipment.status)


def _apply(shipment: Shipment, event: CarrierEvent) -> None:
    status = ShipmentStatus(event.status)
    shipment.status = status
    shipment.status_at = event.occurred_at
    if event.eta is not None:
        shipment.eta_start, shipment.eta_end = event.eta.start, event.eta.end
    if status in (ShipmentStatus.DELIVERED, ShipmentStatus.AT_LOCKER):
        shipment.eta_start = shipment.eta_end = None
    if status == ShipmentStatus.DELIVERED:
        shipment.delivered_at = event.occurred_at
        if any(item.get("returnable") for item in shipment.items):
            shipment.return_until = event.occurred_at + RETURN_WINDOW
    if status == ShipmentStatus.AT_LOCKER and event.extra.get("pickup_code"):
        shipment.locker_pickup_code = str(event.extra["pickup_code"])


def ingest_or_keep(session: Session, event: CarrierEvent, *, carrier_status: str,
                   max_distance_m: float = PROOF_MAX_DISTANCE_M) -> IngestResult:
    """`event.status` is ours when the carrier's status maps to one, else "unknown" (kept, not applied)."""
    if event.status != UNKNOWN:
        return ingest_event(session, replace(event, extra={**event.extra, "carrier_status": carrier_status}),
                            max_distance_m=max_distance_m)
    shipment = session.scalar(select(Shipment).where(Shipment.tracking_number == event.tracking_number))
    if shipment is None or shipment.carrier != event.carrier:
        raise UnknownShipment(f"no {event.carrier} shipment {event.tracking_number}")
    kept = _record(  # the insert itself skips an event seen before
        session, shipment_id=shipment.id, carrier=event.carrier, event_id=event.event_id, status=UNKNOWN,
        occurred_at=event.occurred_at, description=event.description[:200], applied=False,
        lat=event.lat, lng=event.lng, payload={**event.extra, "carrier_status": carrier_status[:80]})
    if kept:
        logger.warning("carrier %s sent status %r for %s: kept, not applied",
                       event.carrier, carrier_status[:60], event.tracking_number)
    return IngestResult(Outcome.STALE if kept else Outcome.DUPLICATE, shipment.id, shipment.status, shipment.status)


def _record(session: Session, **row: Any) -> bool:
    """Insert the event's row; False when another writer recorded the same (carrier, event id) meanwhile
    (two polls of one parcel at once, a webhook retried while the first is in flight)."""
    statement = insert_or_skip(session, ShipmentEvent.__table__, ["carrier", "event_id"])
    # RETURNING, not rowcount: PostgreSQL's driver reports -1 rows for this statement.
    inserted = session.execute(statement.values(received_at=utcnow(), **row).returning(ShipmentEvent.id)).first()
    return inserted is not None
