"""Carrier webhooks: HMAC-signed JSON events into the one ingestion path."""

from __future__ import annotations

import hashlib
import hmac

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError

from bot.carriers import CarrierEvent, TimeWindow, UnknownShipment
from bot.carriers.ingest import ingest_event
from bot.carriers.models import EventTime
from bot.core.models import ShipmentStatus
from bot.web.deps import SessionDep, SettingsDep
from bot.web.inputs import describe, load_json

router = APIRouter()
MAX_BODY = 64 * 1024


class EventIn(BaseModel):
    event_id: str = Field(min_length=1, max_length=80)
    tracking_number: str = Field(min_length=1, max_length=40)
    status: ShipmentStatus
    occurred_at: EventTime
    description: str = Field(default="", max_length=200)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lng: float | None = Field(default=None, ge=-180, le=180)
    eta_start: EventTime | None = None
    eta_end: EventTime | None = None


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@router.post("/webhooks/carriers/{carrier}")
async def carrier_event(
    carrier: str, request: Request, session: SessionDep, settings: SettingsDep,
    x_doorstep_signature: str | None = Header(default=None),
) -> JSONResponse:
    body = await request.body()
    if len(body) > MAX_BODY:
        return JSONResponse({"detail": "body too large"}, status_code=413)
    if not x_doorstep_signature or not hmac.compare_digest(sign(settings.carrier_webhook_secret, body),
                                                           x_doorstep_signature):
        return JSONResponse({"detail": "invalid signature"}, status_code=403)
    try:
        payload = EventIn.model_validate(load_json(body))
    except (ValueError, ValidationError) as exc:
        return JSONResponse({"detail": f"invalid event: {describe(exc)}"}, status_code=422)
    eta = None
    if payload.eta_start and payload.eta_end:
        try:
            eta = TimeWindow(payload.eta_start, payload.eta_end)
        except ValueError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=422)
    try:
        result = ingest_event(session, CarrierEvent(
            carrier=carrier, event_id=payload.event_id, tracking_number=payload.tracking_number,
            status=payload.status, occurred_at=payload.occurred_at, description=payload.description,
            lat=payload.lat, lng=payload.lng, eta=eta,
        ))
    except UnknownShipment:
        return JSONResponse({"detail": "unknown shipment"}, status_code=404)
    session.commit()
    return JSONResponse({"outcome": result.outcome, "status": result.status}, status_code=200)
