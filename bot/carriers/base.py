"""The `Carrier` protocol every adapter implements; the bot offers only what `capabilities` holds."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from bot.carriers.models import Capability, LockerOption, ReturnLabel, TimeWindow, TrackingInfo


class Carrier(Protocol):
    name: str
    capabilities: frozenset[Capability]
    return_methods: frozenset[str]  # of RETURN_METHODS, when RETURNS is a capability: the bot offers only these
    uses_our_lockers: bool  # it delivers into our locker network (the `lockers` table), not a network of its own

    def track(self, tracking_number: str) -> TrackingInfo: ...

    def available_windows(self, tracking_number: str) -> list[TimeWindow]: ...

    def reschedule(self, tracking_number: str, window: TimeWindow) -> TimeWindow: ...

    def nearby_lockers(self, tracking_number: str, limit: int = 5) -> list[LockerOption]: ...

    def redirect_to_locker(self, tracking_number: str, locker_code: str) -> LockerOption: ...

    def set_instructions(self, tracking_number: str, instructions: str) -> None: ...

    def deliver_to_neighbour(self, tracking_number: str, neighbour: str) -> None: ...

    def change_address(self, tracking_number: str, *, address_line: str, postcode: str) -> None: ...

    def pickup_windows(self, tracking_number: str) -> list[TimeWindow]: ...

    def create_return(
        self, tracking_number: str, *, items: list[str], reason: str, method: str,
        locker_code: str | None = None, pickup: TimeWindow | None = None,
    ) -> ReturnLabel: ...


@runtime_checkable
class ClaimsApi(Protocol):
    """Optional: a carrier with a claims API takes our claims (a missing parcel, a complaint) too.

    `open_claim` sends the claim's evidence and returns the carrier's own claim id; it raises a
    `CarrierError` when the carrier refuses or does not answer (the claim stays open with us).
    """

    def open_claim(self, tracking_number: str, *, reference: str, kind: str, evidence: dict[str, Any]) -> str: ...


def claims_api(carrier: object) -> ClaimsApi | None:
    """The carrier's claims API, when it has one."""
    return carrier if isinstance(carrier, ClaimsApi) else None
