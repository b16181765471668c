"""Webhooks of the real carrier adapters (Onfleet, the generic REST contract) and the contract itself.

HTTP only: each checks its signature over the raw body before reading it and limits the body; a forged,
stale or malformed request gets a 4xx and changes nothing. The carrier's `mapping` turns the payload into
our event; accepted events go through `bot.carriers.ingest.ingest_or_keep` (idempotent on the event id, never
backwards, unknown statuses kept and logged).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response

from bot.carriers import CarrierEvent, UnknownShipment
from bot.carriers.ingest import ingest_or_keep
from bot.carriers.local import tracking_number_for
from bot.carriers.onfleet import mapping as onfleet
from bot.carriers.rest import mapping as rest
from bot.core.settings import ROOT
from bot.web.deps import SessionDep, SettingsDep
from bot.web.inputs import describe, load_json

router = APIRouter()
MAX_BODY = 64 * 1024
REPLAY_WINDOW = 300  # seconds
OPENAPI = ROOT / "docs" / "carrier-api" / "openapi.yaml"


@router.get("/carrier-api/openapi.yaml", include_in_schema=False)
def carrier_contract() -> FileResponse:
    """The generic REST adapter's contract, for carriers that implement it."""
    return FileResponse(OPENAPI, media_type="application/yaml")


def _reject(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def _outcome(session: Any, event: CarrierEvent, carrier_status: str, max_distance_m: float) -> JSONResponse:
    try:
        result = ingest_or_keep(session, event, carrier_status=carrier_status, max_distance_m=max_distance_m)
    except UnknownShipment:
        return _reject(404, "unknown shipment")
    session.commit()
    return JSONResponse({"outcome": result.outcome, "status": result.status})


# -- the generic REST contract ---------------------------------------------------------------------
def sign_rest(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


@router.post("/webhooks/rest-carrier")
async def rest_carrier_event(
    request: Request, session: SessionDep, settings: SettingsDep,
    x_doorstep_timestamp: str | None = Header(default=None),
    x_doorstep_signature: str | None = Header(default=None),
) -> JSONResponse:
    if "rest" not in settings.enabled_carrier_adapters:
        return _reject(404, "not found")
    body = await request.body()
    if len(body) > MAX_BODY:
        return _reject(413, "body too large")
    stamp = x_doorstep_timestamp or ""
    if not (stamp.isascii() and stamp.isdigit()) or len(stamp) > 12:  # "²".isdigit(), but int("²") fails
        return _reject(401, "missing timestamp")
    if abs(time.time() - int(stamp)) > REPLAY_WINDOW:
        return _reject(401, "timestamp outside the 5-minute window")
    expected = sign_rest(settings.rest_carrier_webhook_secret, stamp, body)
    if not x_doorstep_signature or not hmac.compare_digest(expected, x_doorstep_signature):
        return _reject(403, "invalid signature")
    try:
        event, carrier_status = rest.parse_event(settings.rest_carrier_name, load_json(body))
    except ValueError as exc:  # pydantic's ValidationError is one
        return _reject(422, f"invalid event: {describe(exc)}")
    return _outcome(session, event, carrier_status, settings.proof_max_distance_m)


# -- Onfleet ---------------------------------------------------------------------------------------
def sign_onfleet(secret_hex: str, body: bytes) -> str:
    """Onfleet's X-Onfleet-Signature: hex HMAC-SHA512 of the raw body, keyed with the hex-decoded secret."""
    return hmac.new(bytes.fromhex(secret_hex), body, hashlib.sha512).hexdigest()


@router.get("/webhooks/onfleet")
def onfleet_check(settings: SettingsDep, check: str | None = None) -> Response:
    """Onfleet validates a webhook URL with GET ?check=<random>: answer 200 with the same string."""
    if "onfleet" not in settings.enabled_carrier_adapters:
        return _reject(404, "not found")
    if not check or len(check) > 256 or not check.isprintable():
        return _reject(400, "missing check")
    return PlainTextResponse(check)


@router.post("/webhooks/onfleet")
async def onfleet_event(
    request: Request, session: SessionDep, settings: SettingsDep,
    x_onfleet_signature: str | None = Header(default=None),
) -> JSONResponse:
    if "onfleet" not in settings.enabled_carrier_adapters:
        return _reject(404, "not found")
    body = await request.body()
    if len(body) > MAX_BODY:
        return _reject(413, "body too large")
    if not x_onfleet_signature or not hmac.compare_digest(sign_onfleet(settings.onfleet_webhook_secret, body),
                                                          x_onfleet_signature.strip().lower()):
        return _reject(403, "invalid signature")
    try:
        payload = load_json(body)
    except ValueError:
        return _reject(422, "not JSON")
    try:
        task_id, task = onfleet.webhook_task(payload)
    except ValueError as exc:
        return _reject(422, str(exc))
    tracking_number = onfleet.tracking_number_of(task) or tracking_number_for(session, onfleet.CARRIER, task_id)
    if not tracking_number:
        return _reject(404, "unknown task")
    return _outcome(session, *onfleet.webhook_event(payload, tracking_number), settings.proof_max_distance_m)
