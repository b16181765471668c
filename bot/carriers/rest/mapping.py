"""Our REST contract (docs/carrier-api/openapi.yaml) as pure functions: request bodies built, answers and
webhook events parsed into our value types, refusals into `Refusal` codes. No I/O.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel, Field

from bot.carriers.errors import CarrierError, CarrierUnavailable, ChangeRefused, Refusal, UnknownShipment
from bot.carriers.models import CarrierEvent, DropProof, EventTime, LockerOption, ReturnLabel, TimeWindow, known
from bot.core.models import DropPlace

MAX_REFUSAL = 200


# -- requests --------------------------------------------------------------------------------------
def shipment_path(external_id: str, tail: str = "") -> str:
    return f"/v1/shipments/{quote(external_id, safe='')}{tail}"


def wire(window: TimeWindow) -> dict[str, str]:
    return {"start": window.start.isoformat(), "end": window.end.isoformat()}


def reschedule_request(window: TimeWindow) -> dict[str, Any]:
    return {"window": wire(window)}


def locker_request(locker_code: str) -> dict[str, Any]:
    return {"type": "locker", "locker_code": locker_code}


def neighbour_request(neighbour: str) -> dict[str, Any]:
    return {"type": "neighbour", "neighbour": neighbour}


def address_request(address_line: str, postcode: str) -> dict[str, Any]:
    return {"type": "address", "address_line": address_line, "postcode": postcode}


def instructions_request(instructions: str) -> dict[str, Any]:
    return {"instructions": instructions}


def return_request(items: list[str], reason: str, method: str, locker_code: str | None,
                   pickup: TimeWindow | None) -> dict[str, Any]:
    return {"items": items, "reason": reason[:200], "method": method, "locker_code": locker_code,
            "pickup": wire(pickup) if pickup else None}


def claim_request(reference: str, kind: str, evidence: dict[str, Any]) -> dict[str, Any]:
    """The contract's ClaimRequest from our claim's evidence: only the documented fields, each cut to size."""
    proof = evidence.get("proof") or {}
    return {
        "reference": reference, "kind": kind,
        "customer_words": str(evidence.get("words") or "")[:1000],
        "instructions": (str(evidence["instructions"])[:300] if evidence.get("instructions") else None),
        "distance_m": evidence.get("distance_m"),
        "proof": {
            "place": proof.get("place"), "note": (str(proof["note"])[:300] if proof.get("note") else None),
            "neighbour": proof.get("neighbour"), "delivered_at": proof.get("delivered_at"),
            "has_photo": bool(proof.get("photo")),
        } if proof else None,
        "timeline": [{"at": e["at"], "status": e["status"], "description": str(e.get("description") or "")[:200]}
                     for e in (evidence.get("timeline") or [])[-50:]],
    }


# -- answers ---------------------------------------------------------------------------------------
def answer(name: str, response: httpx.Response) -> Any:
    """The carrier's answer as our outcome: data, a refusal with its reason code, or unavailable."""
    status = response.status_code
    if status == 204:
        return {}
    if 200 <= status < 300:
        try:
            body = response.json()
        except ValueError as exc:
            raise CarrierUnavailable(f"{name}: answered {status} without JSON") from exc
        if not isinstance(body, dict):
            raise CarrierUnavailable(f"{name}: answered {status} with {type(body).__name__}")
        return body
    if status == 429 or status >= 500:
        raise CarrierUnavailable(f"{name}: HTTP {status}")
    message, reason = _error(response)
    if status == 404:
        raise UnknownShipment(f"{name}: {message or 'unknown shipment'}")
    if status in (409, 422):
        raise ChangeRefused(refusal(reason), message[:MAX_REFUSAL])
    raise CarrierError(f"{name}: HTTP {status} {message}".strip())


def refusal(reason: str | None) -> Refusal:
    """The contract's `error.reason` as our code; a reason we don't know (or none) is a plain rejection."""
    try:
        return Refusal(reason or "")
    except ValueError:
        return Refusal.REJECTED


def _error(response: httpx.Response) -> tuple[str, str | None]:
    try:
        error = response.json().get("error") or {}
        reason = error.get("reason")
        return " ".join(str(error.get("message") or "").split()), reason if isinstance(reason, str) else None
    except (ValueError, AttributeError):
        return "", None


def tracking(body: dict[str, Any]) -> dict[str, Any]:
    """The contract's Tracking: our status where the carrier's is one of ours (else "unknown"), and the rest."""
    position = body.get("driver_position")
    return {
        "status": known(str(body["status"])), "status_at": _time(body.get("status_at")), "eta": window(body.get("eta")),
        "stops_away": int(body["stops_away"]) if body.get("stops_away") is not None else None,
        "driver_position": (float(position["lat"]), float(position["lng"])) if position else None,
        "locker_name": str(body["locker_name"]) if body.get("locker_name") else None,
    }


def windows(body: dict[str, Any]) -> list[TimeWindow]:
    return [w for w in (window(item) for item in body["windows"]) if w is not None]


def lockers(body: dict[str, Any], limit: int) -> list[LockerOption]:
    return [locker(item) for item in body["lockers"]][:limit]


def booked_window(body: dict[str, Any], asked: TimeWindow) -> TimeWindow:
    return window(body.get("window")) or asked


def redirected_locker(body: dict[str, Any]) -> LockerOption:
    if body.get("accepted") is not True or not body.get("locker"):
        raise ChangeRefused(Refusal.REJECTED, "locker")
    return locker(body["locker"])


def accepted(body: dict[str, Any]) -> None:
    if body.get("accepted") is not True:
        raise ChangeRefused(Refusal.REJECTED)


def nothing(body: dict[str, Any]) -> None:
    return None


def label(body: dict[str, Any]) -> ReturnLabel:
    return ReturnLabel(rma=str(body["rma"]), method=str(body["method"]), label_code=str(body["label_code"]),
                       pickup=window(body.get("pickup")), locker_name=body.get("locker_name"))


def claim_id(body: dict[str, Any]) -> str:
    found = str(body.get("claim_id") or "").strip()
    if not found or len(found) > 80:
        raise CarrierUnavailable("carrier answered a claim without a usable claim_id")
    return found


def locker(item: dict[str, Any]) -> LockerOption:
    return LockerOption(code=str(item["code"]), name=str(item["name"]), address=str(item["address"]),
                        distance_m=int(item["distance_m"]), opening_hours=dict(item.get("opening_hours") or {}),
                        free=int(item["free"]))


def window(value: Any) -> TimeWindow | None:
    if not value:
        return None
    start, end = _time(value.get("start")), _time(value.get("end"))
    return TimeWindow(start, end) if start and end else None


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        raise CarrierUnavailable("carrier sent a time without a zone")
    return parsed


# -- webhook events --------------------------------------------------------------------------------
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


class EventIn(BaseModel):
    """The contract's Event, as a carrier posts it to `/webhooks/rest-carrier`."""

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


def parse_event(carrier: str, payload: Any) -> tuple[CarrierEvent, str]:
    """A webhook body (parsed JSON) as our event and the carrier's own status; ValueError when it is not one."""
    event = EventIn.model_validate(payload)
    eta = TimeWindow(event.eta.start, event.eta.end) if event.eta else None
    extra = {"pickup_code": event.pickup_code} if event.pickup_code else {}
    return CarrierEvent(
        carrier=carrier, event_id=event.event_id, tracking_number=event.tracking_number,
        status=known(event.status), occurred_at=event.occurred_at, description=event.description,
        lat=event.lat, lng=event.lng, eta=eta, extra=extra, proof=_proof(event),
    ), event.status


def _proof(event: EventIn) -> DropProof | None:
    """The contract's proof, on a delivered event; the drop point defaults to the event's position. The photo
    URL is recorded with the event, not fetched (a URL from a webhook is not ours to follow)."""
    proof = event.proof
    if proof is None or known(event.status) != "delivered":
        return None
    lat, lng = (proof.lat, proof.lng) if proof.lat is not None and proof.lng is not None else (event.lat, event.lng)
    return DropProof(place=proof.place.value if proof.place else None, note=proof.note, neighbour=proof.neighbour,
                     lat=lat, lng=lng, photo_ref=proof.photo_url)
