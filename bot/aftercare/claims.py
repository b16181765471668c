"""Claims: a missing parcel or a complaint about a delivery, one per parcel, with its evidence.

`open_or_add` opens the parcel's claim or adds a report to it (two reports racing give one claim),
then hands it to the carrier where the carrier has a claims API; a carrier failure never loses it.
`resolve` records an agent's decision once and plans the message that tells the customer (the
notification planner sends it on their channel, exactly once, respecting opt-outs and quiet hours).
Each function owns its database session, taken from the runtime.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.carriers.base import claims_api
from bot.carriers.errors import CarrierError
from bot.core.db import transaction
from bot.core.models import (
    AuditLog,
    Claim,
    ClaimKind,
    ClaimResolution,
    ClaimStatus,
    DeliveryProof,
    Shipment,
    ShipmentEvent,
)
from bot.core.runtime import Runtime
from bot.notify.planner import load_shipments, sync_plans
from bot.notify.rules import cached_rules

logger = logging.getLogger("doorstep.claims")
ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I/L confusion when read out or typed
MAX_WORDS = 1000
MAX_NOTE = 2000
MAX_REPORTS = 50
ATTEMPTS = 5


class ClaimRefused(Exception):
    """The claim cannot be opened: not this customer's parcel, or no such parcel."""


class AlreadyResolved(Exception):
    """The claim was resolved before (or does not exist): nothing changed."""


@dataclass(frozen=True)
class ClaimTicket:
    """What the customer is told: the reference, and by when they get an answer."""

    claim_id: int
    reference: str
    kind: str
    due_by: datetime
    new: bool  # False: the report was added to the parcel's existing claim


def new_reference() -> str:
    return "CL-" + "".join(secrets.choice(ALPHABET) for _ in range(5))


def evidence_for(session: Session, shipment: Shipment, words: str) -> dict[str, Any]:
    """The proof, the instructions in force, the customer's words, the timeline and the drop distance."""
    proof = session.scalar(select(DeliveryProof).where(DeliveryProof.shipment_id == shipment.id))
    events = session.scalars(select(ShipmentEvent).where(ShipmentEvent.shipment_id == shipment.id,
                                                         ShipmentEvent.applied)
                             .order_by(ShipmentEvent.occurred_at, ShipmentEvent.id)).all()
    return {
        "proof": {
            "place": proof.place, "note": proof.note, "neighbour": proof.neighbour,
            "delivered_at": proof.delivered_at.isoformat(), "distance_m": proof.distance_m,
            "lat": proof.lat, "lng": proof.lng, "photo": bool(proof.photo), "compliance": proof.compliance,
            "compliance_reasons": list(proof.compliance_reasons or []), "driver_id": proof.driver_id,
            "depot_id": proof.depot_id,
        } if proof is not None else None,
        "instructions": proof.instructions_in_force if proof is not None else shipment.instructions,
        "words": words[:MAX_WORDS],
        "timeline": [{"at": e.occurred_at.isoformat(), "status": e.status, "description": e.description}
                     for e in events],
        "distance_m": proof.distance_m if proof is not None else None,
        "address": f"{shipment.address_line}, {shipment.postcode} {shipment.city}",
        "status": shipment.status,
    }


def _report(now: datetime, kind: str, channel: str, words: str) -> dict[str, Any]:
    return {"at": now.isoformat(), "kind": kind, "channel": channel, "words": words[:MAX_WORDS]}


def _add_report(session: Session, claim: Claim, report: dict[str, Any]) -> None:
    claim.reports = [*(claim.reports or []), report][-MAX_REPORTS:]  # a new list: JSON columns track assignment
    session.add(AuditLog(actor=f"customer:{report['channel']}", action="claim.report", entity="claim",
                         entity_id=str(claim.id), detail={"kind": report["kind"]}))


def _ticket(claim: Claim, new: bool) -> ClaimTicket:
    return ClaimTicket(claim.id, claim.reference, claim.kind, claim.due_by, new)


def _open_once(runtime: Runtime, *, shipment_id: int, customer_id: int, kind: ClaimKind, channel: str,
               sender_id: str | None, words: str) -> ClaimTicket:
    now = runtime.clock.now()
    with transaction(runtime.sessions) as session:
        shipment = session.get(Shipment, shipment_id)
        if shipment is None or shipment.customer_id != customer_id:
            raise ClaimRefused("not this customer's parcel")
        report = _report(now, kind, channel, words)
        # Take the claim's row lock before reading it (a no-op UPDATE: a row lock on PostgreSQL, the write
        # lock on SQLite), so two reports appending at once do not lose one of them.
        session.execute(update(Claim).where(Claim.shipment_id == shipment_id).values(kind=Claim.kind)
                        .execution_options(synchronize_session=False))
        existing = session.scalar(select(Claim).where(Claim.shipment_id == shipment_id))
        if existing is not None:
            _add_report(session, existing, report)
            return _ticket(existing, False)
        claim = Claim(reference=new_reference(), shipment_id=shipment_id, customer_id=customer_id, kind=kind,
                      status=ClaimStatus.OPEN, channel=channel, sender_id=sender_id,
                      evidence=evidence_for(session, shipment, words), reports=[report], opened_at=now,
                      due_by=now + timedelta(hours=runtime.settings.claim_answer_hours))
        session.add(claim)
        session.flush()  # a second claim for the parcel, or a reference taken, fails here
        session.add(AuditLog(actor=f"customer:{channel}", action="claim.open", entity="claim",
                             entity_id=str(claim.id), detail={"kind": kind, "reference": claim.reference}))
        return _ticket(claim, True)


def open_or_add(runtime: Runtime, *, shipment_id: int, customer_id: int, kind: ClaimKind, channel: str,
                sender_id: str | None, words: str) -> ClaimTicket:
    """The parcel's claim, opened now or with this report added; then to the carrier, if it takes claims.

    `customer_id` comes from the conversation's verified link, never from anything the customer typed;
    a parcel of anyone else is refused (`ClaimRefused`).
    """
    for _ in range(ATTEMPTS):
        try:
            ticket = _open_once(runtime, shipment_id=shipment_id, customer_id=customer_id, kind=kind,
                                channel=channel, sender_id=sender_id, words=words)
        except IntegrityError:
            continue  # another report opened the parcel's claim meanwhile (or the reference was taken): again
        if ticket.new:
            send_to_carrier(runtime, ticket.claim_id)
        return ticket
    raise RuntimeError(f"could not open a claim for shipment {shipment_id} after {ATTEMPTS} attempts")


def send_to_carrier(runtime: Runtime, claim_id: int) -> str | None:
    """Hand the claim to the parcel's carrier where it has a claims API; the carrier's id, or None.

    Outside any transaction (a carrier call may take seconds). A failure is recorded on the claim
    (`evidence["carrier_error"]`, the audit log) and the claim stays open with us.
    """
    with runtime.sessions() as session:
        claim = session.get(Claim, claim_id)
        if claim is None or claim.carrier_claim_id:
            return claim.carrier_claim_id if claim else None
        carrier_name, number = claim.shipment.carrier, claim.shipment.tracking_number
        reference, kind, evidence = claim.reference, claim.kind, dict(claim.evidence)
    try:
        api = claims_api(runtime.carrier(carrier_name))
    except CarrierError:
        api = None
    if api is None:
        return None
    try:
        carrier_id: str | None = api.open_claim(number, reference=reference, kind=kind, evidence=evidence)
        error = None
    except CarrierError as exc:
        logger.warning("carrier %s did not take claim %s: %s", carrier_name, reference, exc)
        carrier_id, error = None, str(exc)[:300]
    with transaction(runtime.sessions) as session:
        claim = session.get(Claim, claim_id)
        assert claim is not None
        if carrier_id is not None:
            claim.carrier_claim_id = carrier_id
            claim.evidence = {k: v for k, v in claim.evidence.items() if k != "carrier_error"}
        else:
            claim.evidence = {**claim.evidence, "carrier_error": error}
        session.add(AuditLog(actor=f"carrier:{carrier_name}", action="claim.carrier", entity="claim",
                             entity_id=str(claim_id), detail={"carrier_claim_id": carrier_id, "error": error}))
    return carrier_id


def resolve(runtime: Runtime, *, claim_id: int, resolution: ClaimResolution, note: str, agent_id: int) -> Claim:
    """Record the agent's decision once and plan the message that tells the customer.

    One conditional UPDATE (open → resolved): of two agents resolving at once exactly one wins; the
    other, and any second try, gets `AlreadyResolved` and changes nothing.
    """
    now = runtime.clock.now()
    with transaction(runtime.sessions) as session:
        done = session.execute(
            update(Claim).where(Claim.id == claim_id, Claim.status == ClaimStatus.OPEN)
            .values(status=ClaimStatus.RESOLVED, resolution=resolution, resolution_note=note[:MAX_NOTE],
                    resolved_at=now, resolved_by=agent_id)
            .execution_options(synchronize_session=False))
        if done.rowcount != 1:  # type: ignore[attr-defined]
            raise AlreadyResolved(f"claim {claim_id} is not open")
        claim = session.get(Claim, claim_id)
        assert claim is not None
        session.refresh(claim)
        session.add(AuditLog(actor=f"agent:{agent_id}", action="claim.resolve", entity="claim",
                             entity_id=str(claim_id), detail={"resolution": resolution}))
        # The message to the customer is planned in the same transaction (the planner's own rule for
        # a resolved claim, so its dedupe key is the one the planner would use: never two messages).
        sync_plans(session, load_shipments(session, [claim.shipment_id]), now,
                   cached_rules(runtime.settings.notification_rules))
        return claim
