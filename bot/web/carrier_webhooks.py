"""Webhooks of the real carrier adapters (Onfleet, the generic REST contract) and the contract itself.

Each checks its signature over the raw body before reading it; a forged, stale or malformed request
gets a 4xx and changes nothing. Accepted events go through `ingest_or_keep` (idempotent on the event
id, never backwards, unknown statuses kept and logged).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field, ValidationError

from bot.carriers import CarrierEvent, TimeWindow, UnknownShipment
from bot.carriers.inbound import UNKNOWN, ingest_or_keep, known
from bot.carriers.local import tracking_number_for
from bot.carriers.models import DropProof
from bot.carriers.onfleet import task_eta, task_proof, task_status, tracking_number_of
from bot.models import DropPlace
from bot.settings import ROOT
from bot.web.deps import SessionDep, SettingsDep
from bot.web.inputs import EventTime, describe, load_json

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


class WindowIn(BaseModel):
    start: EventTime
    end: EventTime


class ProofIn(BaseModel):
    """Proof of delivery on a delivered event: where and how the parcel was left."""

    place: DropPlace | None = None
    note: str | None = Field(default=None, max_length=500)
    neighbour: str | None = Field(default=None, max_length=120)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lng: float | None = Field(default=None, ge=-180, le=180)
    photo_url: str | None = Field(default=None, max_length=500, pattern=r"^https://\S+$")


class RestEventIn(BaseModel):
    event_id: str = Field(min_length=1, max_length=80)
    tracking_number: str = Field(min_length=1, max_length=40)
    status: str = Field(min_length=1, max_length=40)
    occurred_at: EventTime
    description: str = Field(default="", max_length=200)
    eta: WindowIn | None = None
    lat: float | None = Field(default=None, ge=-90, le=90)
    lng: float | None = Field(default=None, ge=-180, le=180)
    pickup_code: str | None = Field(default=None, max_length=16)
    proof: ProofIn | None = None


def _rest_proof(payload: RestEventIn) -> DropProof | None:
    """The contract's proof, on a delivered event; the drop point defaults to the event's position. The photo
    URL is recorded with the event, not fetched (a URL from a webhook is not ours to follow)."""
    proof = payload.proof
    if proof is None or known(payload.status) != "delivered":
        return None
    lat, lng = (proof.lat, proof.lng) if proof.lat is not None and proof.lng is not None else (payload.lat, payload.lng)
    return DropProof(place=proof.place.value if proof.place else None, note=proof.note, neighbour=proof.neighbour,
                     lat=lat, lng=lng, photo_ref=proof.photo_url)


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
        payload = RestEventIn.model_validate(load_json(body))
        eta = TimeWindow(payload.eta.start, payload.eta.end) if payload.eta else None
    except (ValueError, ValidationError) as exc:
        return _reject(422, f"invalid event: {describe(exc)}")
    extra = {"pickup_code": payload.pickup_code} if payload.pickup_code else {}
    event = CarrierEvent(
        carrier=settings.rest_carrier_name, event_id=payload.event_id, tracking_number=payload.tracking_number,
        status=known(payload.status), occurred_at=payload.occurred_at, description=payload.description,
        lat=payload.lat, lng=payload.lng, eta=eta, extra=extra, proof=_rest_proof(payload),
    )
    return _outcome(session, event, payload.status, settings.proof_max_distance_m)


# -- Onfleet ---------------------------------------------------------------------------------------
def sign_onfleet(secret_hex: str, body: bytes) -> str:
    """Onfleet's X-Onfleet-Signature: hex HMAC-SHA512 of the raw body, keyed with the hex-decoded secret."""
    return hmac.new(bytes.fromhex(secret_hex), body, hashlib.sha512).hexdigest()


# Onfleet trigger → our status; None: read it from the task (a delay keeps the task's own state).
ONFLEET_TRIGGERS: dict[str, str | None] = {
    "taskStarted": "out_for_delivery", "taskEta": "out_for_delivery", "taskArrival": "out_for_delivery",
    "taskCompleted": None, "taskFailed": "failed_attempt", "taskDelayed": None,
}


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
    event = _onfleet_event(session, payload)
    if isinstance(event, JSONResponse):
        return event
    return _outcome(session, *event, settings.proof_max_distance_m)


def _onfleet_event(session: Any, payload: Any) -> tuple[CarrierEvent, str] | JSONResponse:
    if not isinstance(payload, dict):
        return _reject(422, "not an object")
    trigger, task_id, at = payload.get("triggerName"), payload.get("taskId"), payload.get("time")
    data = payload.get("data")
    task = data.get("task") if isinstance(data, dict) else None
    if not isinstance(trigger, str) or not isinstance(task_id, str) or not (0 < len(task_id) <= 40):
        return _reject(422, "triggerName and taskId are required")
    if not isinstance(at, int) or isinstance(at, bool) or not 0 < at < 10**14:
        return _reject(422, "time must be milliseconds since the epoch")
    if not isinstance(task, dict) or task.get("id", task_id) != task_id:
        return _reject(422, "data.task is required and must be the task")
    tracking_number = tracking_number_of(task) or tracking_number_for(session, "onfleet", task_id)
    if not tracking_number:
        return _reject(404, "unknown task")
    occurred = datetime.fromtimestamp(at / 1000, UTC)
    status = ONFLEET_TRIGGERS.get(trigger, UNKNOWN) or task_status(task) or UNKNOWN
    if trigger == "taskCompleted" and status not in ("delivered", "failed_attempt"):
        status = "delivered"
    eta = task_eta(task)
    eta_seconds = payload.get("etaSeconds")
    if trigger == "taskEta" and isinstance(eta_seconds, int | float) and 0 <= eta_seconds < 86400:
        arrival = occurred + timedelta(seconds=float(eta_seconds))
        eta = TimeWindow(arrival - timedelta(minutes=10), arrival + timedelta(minutes=20))
    event = CarrierEvent(
        carrier="onfleet", event_id=f"{trigger[:30]}:{task_id}:{at}", tracking_number=tracking_number[:40],
        status=status, occurred_at=occurred, description=f"Onfleet {trigger[:40]}", eta=eta,
        extra={"task_id": task_id, "trigger": trigger[:40]},
        proof=task_proof(task) if status == "delivered" else None,
    )
    return event, trigger[:40]
