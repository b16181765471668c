"""A shipper's pre-advice of a new parcel: `POST /api/v1/shipments`.

Signed like the REST carrier's webhook: `X-Doorstep-Timestamp` (Unix seconds, within 5 minutes) and
`X-Doorstep-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">` with `SHIPPER_API_SECRET`;
the endpoint is off (404) without that secret. The signature is checked over the raw body before it is
read. Answers: 201 with the shipment's id when it is new, 200 when the same carrier and tracking number
came before (nothing changes), 401/403 for a missing, stale or forged signature, 409 when the tracking
number belongs to another carrier, 413 for a body over 64 KiB, 422 for a malformed parcel or a carrier not served here.
"""

from __future__ import annotations

import hmac
import time
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator, model_validator

from bot.carriers import TimeWindow
from bot.carriers.models import EventTime
from bot.conversation.identity import normalise_phone, normalise_postcode, normalise_tracking_number
from bot.parcels import Conflict, NewParcel, Recipient, register
from bot.web.carrier_webhooks import MAX_BODY, REPLAY_WINDOW, sign_rest
from bot.web.deps import RuntimeDep
from bot.web.inputs import describe, load_json

router = APIRouter(tags=["intake"])
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]


class RecipientBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone: Annotated[str, StringConstraints(max_length=32)]
    name: Text
    email: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=254,
                                            pattern=r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")]
    locale: Annotated[str, StringConstraints(pattern=r"^(en|de|nl)$")] = "en"

    @field_validator("phone")
    @classmethod
    def _e164(cls, value: str) -> str:
        phone = normalise_phone(value)
        if phone is None:
            raise ValueError("not a valid phone number")
        return phone


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    name: Text
    qty: int = Field(default=1, ge=1, le=999)
    returnable: bool = True


class ShipmentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    carrier: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{1,31}$")]
    tracking_number: Annotated[str, StringConstraints(max_length=40)]
    order_reference: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
    recipient: RecipientBody
    address_line: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=200)]
    postcode: Annotated[str, StringConstraints(max_length=12)]
    city: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)
    window_start: EventTime | None = None
    window_end: EventTime | None = None
    items: list[Item] = Field(default_factory=list, max_length=50)

    @field_validator("tracking_number")
    @classmethod
    def _tracking(cls, value: str) -> str:
        number = normalise_tracking_number(value)
        if number is None:
            raise ValueError("not a tracking number")
        return number

    @field_validator("postcode")
    @classmethod
    def _postcode(cls, value: str) -> str:
        code = normalise_postcode(value)
        if code is None:
            raise ValueError("not a postcode")
        return code

    @model_validator(mode="after")
    def _window(self) -> ShipmentBody:
        if (self.window_start is None) != (self.window_end is None):
            raise ValueError("window_start and window_end come together")
        if self.window_start is not None and self.window_end is not None and self.window_end <= self.window_start:
            raise ValueError("the window ends after it starts")
        return self

    def parcel(self) -> NewParcel:
        window = (TimeWindow(self.window_start, self.window_end)
                  if self.window_start is not None and self.window_end is not None else None)
        recipient = Recipient(phone=self.recipient.phone, name=self.recipient.name, email=self.recipient.email,
                              locale=self.recipient.locale)
        return NewParcel(carrier=self.carrier, tracking_number=self.tracking_number,
                         order_reference=self.order_reference, recipient=recipient, address_line=self.address_line,
                         postcode=self.postcode, city=self.city, lat=self.lat, lng=self.lng, window=window,
                         items=[item.model_dump() for item in self.items])


def _reject(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


@router.post("/api/v1/shipments")
async def announce_shipment(
    request: Request, runtime: RuntimeDep,
    x_doorstep_timestamp: str | None = Header(default=None),
    x_doorstep_signature: str | None = Header(default=None),
) -> JSONResponse:
    secret = runtime.settings.shipper_api_secret
    if not secret:
        return _reject(404, "not found")
    body = await request.body()
    if len(body) > MAX_BODY:
        return _reject(413, "body too large")
    stamp = x_doorstep_timestamp or ""
    if not (stamp.isascii() and stamp.isdigit()) or len(stamp) > 12:
        return _reject(401, "missing timestamp")
    if abs(time.time() - int(stamp)) > REPLAY_WINDOW:
        return _reject(401, "timestamp outside the 5-minute window")
    if not x_doorstep_signature or not hmac.compare_digest(sign_rest(secret, stamp, body), x_doorstep_signature):
        return _reject(403, "invalid signature")
    try:
        shipment = ShipmentBody.model_validate(load_json(body))
    except (ValidationError, ValueError) as exc:
        return _reject(422, f"invalid shipment: {describe(exc)}")
    if shipment.carrier not in runtime.carriers:
        return _reject(422, "carrier: not a carrier served here")

    def run() -> JSONResponse:
        now = runtime.clock.now()
        try:
            registered = register(runtime, shipment.parcel(), now=now)
        except Conflict:
            return _reject(409, "tracking number registered for another carrier")
        return JSONResponse({"shipment_id": registered.shipment_id, "created": registered.created,
                             "profile": [{"item": a.item, "outcome": a.outcome} for a in registered.applied]},
                            status_code=201 if registered.created else 200)

    return await run_in_threadpool(run)
