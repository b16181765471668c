"""The generic REST adapter: our own small contract (docs/carrier-api/openapi.yaml) over HTTP with httpx.

For a carrier or an in-house dispatch system with no SDK. Reads are retried; changes are sent once.
When the carrier accepts a change, our shipment mirrors it (bot.carriers.local); when it refuses or
does not answer, nothing on our side changes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from sqlalchemy.orm import Session, sessionmaker

from bot.carriers import local
from bot.carriers.errors import CarrierError, CarrierUnavailable, ChangeRefused, Refusal, UnknownShipment
from bot.carriers.inbound import known
from bot.carriers.models import RETURN_METHODS, Capability, LockerOption, ReturnLabel, TimeWindow, TrackingInfo
from bot.carriers.resilience import DEFAULT_ROBUSTNESS, Robustness
from bot.models import Locker, Shipment

MAX_REFUSAL = 200
T = TypeVar("T")


class RestCarrier:
    def __init__(self, session_factory: sessionmaker[Session], *, name: str, base_url: str, api_key: str,
                 capabilities: frozenset[Capability], robustness: Robustness = DEFAULT_ROBUSTNESS,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.name = name
        self.capabilities = capabilities
        self.return_methods = RETURN_METHODS if Capability.RETURNS in capabilities else frozenset()
        self._sessions = session_factory
        self._guard = robustness.guard(name)
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"), timeout=httpx.Timeout(robustness.timeout),
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json",
                     "User-Agent": "doorstep-rest-adapter/1"},
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __repr__(self) -> str:  # no key in logs
        return f"RestCarrier(name={self.name!r}, base_url={str(self._http.base_url)!r})"

    # -- HTTP ------------------------------------------------------------------------------
    def _request(self, method: str, path: str, parse: Callable[[Any], T], *, json: Any = None,
                 params: dict[str, Any] | None = None) -> T:
        """One call through the guard; `parse` runs inside it, so an unusable answer counts as a failure."""

        def send() -> T:
            try:
                response = self._http.request(method, path, json=json, params=params)
            except httpx.TimeoutException as exc:
                raise CarrierUnavailable(f"{self.name}: timed out") from exc
            except httpx.TransportError as exc:
                raise CarrierUnavailable(f"{self.name}: {type(exc).__name__}") from exc
            return parse(_answer(self.name, response))

        return self._guard.call(send, idempotent=method == "GET")

    def _path(self, tracking_number: str, tail: str = "") -> str:
        return f"/v1/shipments/{quote(local.external_id(self._sessions, self.name, tracking_number), safe='')}{tail}"

    # -- reading ---------------------------------------------------------------------------
    def track(self, tracking_number: str) -> TrackingInfo:
        body = self._request("GET", self._path(tracking_number), _tracking)
        status = known(body["status"])
        if status == "unknown":  # a status we don't know: say what we knew last
            with self._sessions() as session:
                status = local.shipment_of(session, self.name, tracking_number).status
        return TrackingInfo(tracking_number=tracking_number, status=status, status_at=body["status_at"], eta=body["eta"],
                            stops_away=body["stops_away"], driver_position=body["driver_position"],
                            locker_name=body["locker_name"])

    def available_windows(self, tracking_number: str) -> list[TimeWindow]:
        return self._request("GET", self._path(tracking_number, "/windows"), _windows)

    def pickup_windows(self, tracking_number: str) -> list[TimeWindow]:
        return self._request("GET", self._path(tracking_number, "/pickup-windows"), _windows)

    def nearby_lockers(self, tracking_number: str, limit: int = 5) -> list[LockerOption]:
        return self._request("GET", self._path(tracking_number, "/lockers"),
                             lambda body: [_locker(item) for item in body["lockers"]][:limit], params={"limit": limit})

    # -- changing --------------------------------------------------------------------------
    def reschedule(self, tracking_number: str, window: TimeWindow) -> TimeWindow:
        booked = self._request("POST", self._path(tracking_number, "/reschedule"),
                               lambda body: _window(body["window"]) or window, json={"window": _wire(window)})

        def apply(session: Session, shipment: Shipment) -> None:
            shipment.promised_start, shipment.promised_end = booked.start, booked.end
            shipment.eta_start, shipment.eta_end = booked.start, booked.end

        local.record_change(self._sessions, self.name, tracking_number, "reschedule", apply,
                            {"start": booked.start.isoformat()})
        return booked

    def redirect_to_locker(self, tracking_number: str, locker_code: str) -> LockerOption:
        locker = self._request("POST", self._path(tracking_number, "/redirect"), _redirected_locker,
                               json={"type": "locker", "locker_code": locker_code})

        def apply(session: Session, shipment: Shipment) -> None:
            ours = session.query(Locker).filter(Locker.code == locker.code).one_or_none()
            shipment.locker_id = ours.id if ours is not None else shipment.locker_id
            shipment.eta_start = shipment.eta_end = None

        local.record_change(self._sessions, self.name, tracking_number, "redirect_to_locker", apply,
                            {"locker": locker.code})
        return locker

    def set_instructions(self, tracking_number: str, instructions: str) -> None:
        self._request("PUT", self._path(tracking_number, "/instructions"), _nothing, json={"instructions": instructions})
        local.record_change(self._sessions, self.name, tracking_number, "instructions",
                            _setter("instructions", instructions), {"length": len(instructions)})

    def deliver_to_neighbour(self, tracking_number: str, neighbour: str) -> None:
        self._request("POST", self._path(tracking_number, "/redirect"), _accepted,
                      json={"type": "neighbour", "neighbour": neighbour})
        local.record_change(self._sessions, self.name, tracking_number, "neighbour",
                            _setter("instructions", f"Leave with neighbour: {neighbour}"), {"length": len(neighbour)})

    def change_address(self, tracking_number: str, *, address_line: str, postcode: str) -> None:
        self._request("POST", self._path(tracking_number, "/redirect"), _accepted,
                      json={"type": "address", "address_line": address_line, "postcode": postcode})
        local.record_address_change(self._sessions, self.name, tracking_number, address_line=address_line,
                                    postcode=postcode)

    def create_return(
        self, tracking_number: str, *, items: list[str], reason: str, method: str,
        locker_code: str | None = None, pickup: TimeWindow | None = None,
    ) -> ReturnLabel:
        label = self._request("POST", self._path(tracking_number, "/returns"), _label, json={
            "items": items, "reason": reason[:200], "method": method, "locker_code": locker_code,
            "pickup": _wire(pickup) if pickup else None,
        })
        local.record_change(self._sessions, self.name, tracking_number, "create_return",
                            lambda session, shipment: None, {"rma": label.rma, "method": label.method})
        return label

    def open_claim(self, tracking_number: str, *, reference: str, kind: str, evidence: dict[str, Any]) -> str:
        """`POST …/claims` with the evidence; the carrier's claim id. Sent once (a change, not a read)."""
        return self._request("POST", self._path(tracking_number, "/claims"), _claim_id,
                             json=claim_request(reference, kind, evidence))


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


def _claim_id(body: dict[str, Any]) -> str:
    claim_id = str(body.get("claim_id") or "").strip()
    if not claim_id or len(claim_id) > 80:
        raise CarrierUnavailable("carrier answered a claim without a usable claim_id")
    return claim_id


def _answer(name: str, response: httpx.Response) -> Any:
    """The carrier's answer as our outcome: data, a refusal the customer may read, or unavailable."""
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
    message = _error_message(response)
    if status == 404:
        raise UnknownShipment(f"{name}: {message or 'unknown shipment'}")
    if status == 409 and message:
        raise ChangeRefused(Refusal.REJECTED, message[:MAX_REFUSAL])
    if status in (409, 422):
        raise ChangeRefused(Refusal.REJECTED)
    raise CarrierError(f"{name}: HTTP {status} {message}".strip())


def _error_message(response: httpx.Response) -> str:
    try:
        error = response.json().get("error") or {}
        return " ".join(str(error.get("message") or "").split())
    except (ValueError, AttributeError):
        return ""


def _tracking(body: dict[str, Any]) -> dict[str, Any]:
    position = body.get("driver_position")
    return {
        "status": str(body["status"]), "status_at": _time(body.get("status_at")), "eta": _window(body.get("eta")),
        "stops_away": int(body["stops_away"]) if body.get("stops_away") is not None else None,
        "driver_position": (float(position["lat"]), float(position["lng"])) if position else None,
        "locker_name": str(body["locker_name"]) if body.get("locker_name") else None,
    }


def _redirected_locker(body: dict[str, Any]) -> LockerOption:
    if body.get("accepted") is not True or not body.get("locker"):
        raise ChangeRefused(Refusal.REJECTED, "locker")
    return _locker(body["locker"])


def _accepted(body: dict[str, Any]) -> None:
    if body.get("accepted") is not True:
        raise ChangeRefused(Refusal.REJECTED)


def _nothing(body: dict[str, Any]) -> None:
    return None


def _label(body: dict[str, Any]) -> ReturnLabel:
    return ReturnLabel(rma=str(body["rma"]), method=str(body["method"]), label_code=str(body["label_code"]),
                       pickup=_window(body.get("pickup")), locker_name=body.get("locker_name"))


def _setter(attribute: str, value: str) -> Callable[[Session, Shipment], None]:
    def apply(session: Session, shipment: Shipment) -> None:
        setattr(shipment, attribute, value)

    return apply


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        raise CarrierUnavailable("carrier sent a time without a zone")
    return parsed


def _window(value: Any) -> TimeWindow | None:
    if not value:
        return None
    start, end = _time(value.get("start")), _time(value.get("end"))
    return TimeWindow(start, end) if start and end else None


def _windows(body: dict[str, Any]) -> list[TimeWindow]:
    return [w for w in (_window(item) for item in body["windows"]) if w is not None]


def _wire(window: TimeWindow) -> dict[str, str]:
    return {"start": window.start.isoformat(), "end": window.end.isoformat()}


def _locker(item: dict[str, Any]) -> LockerOption:
    return LockerOption(code=str(item["code"]), name=str(item["name"]), address=str(item["address"]),
                        distance_m=int(item["distance_m"]), opening_hours=dict(item.get("opening_hours") or {}),
                        free=int(item["free"]))
