"""The generic REST adapter: the `Carrier` protocol over our contract (client: HTTP; mapping: the contract).

For a carrier or an in-house dispatch system with no SDK. Reads are retried; changes are sent once.
When the carrier accepts a change, our shipment mirrors it (`bot.carriers.local.Mirror`); when it
refuses or does not answer, nothing on our side changes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import httpx
from sqlalchemy.orm import Session, sessionmaker

from bot.carriers.local import Mirror
from bot.carriers.models import RETURN_METHODS, UNKNOWN, Capability, LockerOption, ReturnLabel, TimeWindow, TrackingInfo
from bot.carriers.resilience import DEFAULT_ROBUSTNESS, Robustness
from bot.carriers.rest import mapping
from bot.carriers.rest.client import RestClient

T = TypeVar("T")


class RestCarrier:
    def __init__(self, session_factory: sessionmaker[Session], *, name: str, base_url: str, api_key: str,
                 capabilities: frozenset[Capability], robustness: Robustness = DEFAULT_ROBUSTNESS,
                 transport: httpx.BaseTransport | None = None, mirror: Mirror | None = None) -> None:
        self.name = name
        self.capabilities = capabilities
        self.return_methods = RETURN_METHODS if Capability.RETURNS in capabilities else frozenset()
        self.uses_our_lockers = False
        self._mirror = mirror or Mirror(session_factory, name)
        self._guard = robustness.guard(name)
        self._client = RestClient(name=name, base_url=base_url, api_key=api_key, timeout=robustness.timeout,
                                  transport=transport)

    def close(self) -> None:
        self._client.close()

    def __repr__(self) -> str:  # no key in logs
        return f"RestCarrier(name={self.name!r}, base_url={self._client.base_url!r})"

    def _call(self, method: str, tracking_number: str, tail: str, parse: Callable[[Any], T], *,
              json: Any = None, params: dict[str, Any] | None = None) -> T:
        """One call through the guard; `parse` runs inside it, so an unusable answer counts as a failure."""
        path = mapping.shipment_path(self._mirror.external_id(tracking_number), tail)

        def send() -> T:
            return parse(mapping.answer(self.name, self._client.send(method, path, json=json, params=params)))

        return self._guard.call(send, idempotent=method == "GET")

    # -- reading ---------------------------------------------------------------------------
    def track(self, tracking_number: str) -> TrackingInfo:
        body = self._call("GET", tracking_number, "", mapping.tracking)
        status = body["status"]
        if status == UNKNOWN:  # a status we don't know: say what we knew last
            status = self._mirror.status(tracking_number)
        return TrackingInfo(tracking_number=tracking_number, status=status, status_at=body["status_at"], eta=body["eta"],
                            stops_away=body["stops_away"], driver_position=body["driver_position"],
                            locker_name=body["locker_name"])

    def available_windows(self, tracking_number: str) -> list[TimeWindow]:
        return self._call("GET", tracking_number, "/windows", mapping.windows)

    def pickup_windows(self, tracking_number: str) -> list[TimeWindow]:
        return self._call("GET", tracking_number, "/pickup-windows", mapping.windows)

    def nearby_lockers(self, tracking_number: str, limit: int = 5) -> list[LockerOption]:
        return self._call("GET", tracking_number, "/lockers", lambda body: mapping.lockers(body, limit),
                          params={"limit": limit})

    # -- changing --------------------------------------------------------------------------
    def reschedule(self, tracking_number: str, window: TimeWindow) -> TimeWindow:
        booked = self._call("POST", tracking_number, "/reschedule", lambda body: mapping.booked_window(body, window),
                            json=mapping.reschedule_request(window))
        return booked

    def redirect_to_locker(self, tracking_number: str, locker_code: str) -> LockerOption:
        locker = self._call("POST", tracking_number, "/redirect", mapping.redirected_locker,
                            json=mapping.locker_request(locker_code))
        return locker

    def set_instructions(self, tracking_number: str, instructions: str) -> None:
        self._call("PUT", tracking_number, "/instructions", mapping.nothing,
                   json=mapping.instructions_request(instructions))

    def deliver_to_neighbour(self, tracking_number: str, neighbour: str) -> None:
        self._call("POST", tracking_number, "/redirect", mapping.accepted, json=mapping.neighbour_request(neighbour))

    def change_address(self, tracking_number: str, *, address_line: str, postcode: str) -> None:
        self._call("POST", tracking_number, "/redirect", mapping.accepted,
                   json=mapping.address_request(address_line, postcode))

    def create_return(
        self, tracking_number: str, *, items: list[str], reason: str, method: str,
        locker_code: str | None = None, pickup: TimeWindow | None = None,
    ) -> ReturnLabel:
        label = self._call("POST", tracking_number, "/returns", mapping.label,
                           json=mapping.return_request(items, reason, method, locker_code, pickup))
        return label

    def open_claim(self, tracking_number: str, *, reference: str, kind: str, evidence: dict[str, Any]) -> str:
        """`POST …/claims` with the evidence; the carrier's claim id. Sent once (a change, not a read)."""
        return self._call("POST", tracking_number, "/claims", mapping.claim_id,
                          json=mapping.claim_request(reference, kind, evidence))
