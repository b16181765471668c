"""The console's claims: the list (open first, most urgent first), one claim with its evidence, the
driver's photo (only to a logged-in agent), and resolving it (once; the customer is then told on their
channel by the notification planner, or in their web chat when the claim was opened there)."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.aftercare.chat_notice import tell_in_chat
from bot.aftercare.claims import MAX_NOTE, AlreadyResolved, resolve
from bot.core.models import Agent, Claim, ClaimResolution, ClaimStatus, Customer, DeliveryProof, Shipment
from bot.web.auth import CurrentAgent
from bot.web.deps import RuntimeDep, SessionDep
from bot.web.inputs import RowId
from bot.web.pages import render

router = APIRouter(prefix="/agent")
NO_STORE = {"Cache-Control": "no-store"}
KIND_LABEL = {"missing": "missing parcel", "not_as_asked": "not left as asked",
              "disputed_attempt": "disputed failed attempt"}
RESOLUTION_LABEL = {"redeliver": "redeliver", "refund": "refund through the retailer",
                    "carrier_investigation": "carrier investigation", "found": "found by the customer"}
PHOTO_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "jpg": "image/jpeg"}
MAX_LISTED = 500


def _age(now: datetime, then: datetime) -> str:
    minutes = max(int((now - then).total_seconds() // 60), 0)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} d"


def claims_list(session: Session, now: datetime) -> list[dict[str, Any]]:
    """Open claims first, the one due soonest first; then resolved ones, the latest first."""
    rows = session.execute(
        select(Claim, Shipment, Customer).join(Shipment, Shipment.id == Claim.shipment_id)
        .join(Customer, Customer.id == Claim.customer_id).order_by(Claim.id.desc()).limit(MAX_LISTED)).all()
    items: list[dict[str, Any]] = [{
        "id": claim.id, "reference": claim.reference, "kind": KIND_LABEL.get(claim.kind, claim.kind),
        "status": claim.status, "due_by": claim.due_by, "overdue": claim.status == ClaimStatus.OPEN and claim.due_by < now,
        "parcel": shipment.tracking_number, "customer": customer.name, "age": _age(now, claim.opened_at),
        "reports": len(claim.reports or []), "resolution": RESOLUTION_LABEL.get(claim.resolution or "", ""),
        "carrier_claim_id": claim.carrier_claim_id, "opened_at": claim.opened_at,
    } for claim, shipment, customer in rows]
    open_ = sorted((i for i in items if i["status"] == ClaimStatus.OPEN), key=lambda i: i["due_by"])
    return open_ + [i for i in items if i["status"] != ClaimStatus.OPEN]


def _claim(session: Session, claim_id: int) -> Claim:
    claim = session.get(Claim, claim_id)
    if claim is None:
        raise HTTPException(status_code=404, detail="no such claim")
    return claim


@router.get("/claims")
def claims_page(me: CurrentAgent, session: SessionDep, runtime: RuntimeDep) -> Response:
    now = runtime.clock.now()
    response = render("agent_claims.html", me=me, items=claims_list(session, now), now=now)
    response.headers.update(NO_STORE)
    return response


@router.get("/claims/{claim_id}")
def claim_page(claim_id: RowId, me: CurrentAgent, session: SessionDep, runtime: RuntimeDep,
               msg: str | None = None) -> Response:
    claim = _claim(session, claim_id)
    proof = session.scalar(select(DeliveryProof).where(DeliveryProof.shipment_id == claim.shipment_id))
    resolver = session.get(Agent, claim.resolved_by) if claim.resolved_by else None
    response = render(
        "agent_claim.html", me=me, claim=claim, shipment=claim.shipment, customer=claim.customer,
        evidence=claim.evidence or {}, reports=claim.reports or [], proof=proof, msg=msg,
        has_photo=bool(proof is not None and proof.photo), kind=KIND_LABEL.get(claim.kind, claim.kind),
        resolutions=[(r.value, RESOLUTION_LABEL[r.value]) for r in ClaimResolution],
        resolution=RESOLUTION_LABEL.get(claim.resolution or "", ""), resolver=resolver.name if resolver else None,
        max_note=MAX_NOTE, now=runtime.clock.now())
    response.headers.update(NO_STORE)
    return response


@router.get("/claims/{claim_id}/photo")
def claim_photo(claim_id: RowId, me: CurrentAgent, session: SessionDep) -> Response:
    """The driver's photo of the parcel's drop, for the agent working the claim."""
    claim = _claim(session, claim_id)
    proof = session.scalar(select(DeliveryProof).where(DeliveryProof.shipment_id == claim.shipment_id))
    kind = PHOTO_TYPES.get((proof.photo_format or "").lower()) if proof is not None else None
    if proof is None or not proof.photo or kind is None:
        raise HTTPException(status_code=404, detail="no photo")
    try:
        data = base64.b64decode(proof.photo, validate=True)
    except (binascii.Error, ValueError):
        raise HTTPException(status_code=404, detail="no photo") from None
    return Response(data, media_type=kind, headers={**NO_STORE, "Cache-Control": "private, no-store",
                                                    "X-Content-Type-Options": "nosniff"})


@router.post("/claims/{claim_id}/resolve")
async def resolve_claim(claim_id: RowId, me: CurrentAgent, runtime: RuntimeDep, session: SessionDep,
                        resolution: Annotated[str, Form(max_length=40)],
                        note: Annotated[str, Form(max_length=MAX_NOTE)] = "") -> Response:
    _claim(session, claim_id)
    session.rollback()  # nothing held open while the service writes
    try:
        chosen = ClaimResolution(resolution)
    except ValueError:
        raise HTTPException(status_code=422, detail="unknown resolution") from None
    try:
        await run_in_threadpool(resolve, runtime, claim_id=claim_id, resolution=chosen, note=note.strip(),
                                agent_id=me.agent.id)
    except AlreadyResolved:
        raise HTTPException(status_code=409, detail="this claim is resolved already") from None
    await tell_in_chat(runtime, claim_id)  # a web-chat claim: told in the chat (else SMS/email, as planned)
    return RedirectResponse(f"/agent/claims/{claim_id}?msg=resolved", status_code=303)
