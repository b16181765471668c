"""The Onfleet adapter: the `Carrier` protocol over Onfleet's tasks (client: HTTP; mapping: Onfleet's format).

A task is found by its id in `carrier_refs`, or by the task metadata `doorstep_tracking_number`.
Onfleet takes any window, so we offer two-hour slots. Onfleet's own events arrive by webhook
(`bot.web.carrier_webhooks`, parsed by `mapping.webhook_event`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import httpx
from sqlalchemy.orm import Session, sessionmaker

from bot.carriers.errors import ChangeRefused, Refusal, UnknownShipment
from bot.carriers.local import Mirror, slot_windows
from bot.carriers.models import Capability, LockerOption, ReturnLabel, TimeWindow, TrackingInfo
from bot.carriers.onfleet import mapping
from bot.carriers.onfleet.client import OnfleetClient
from bot.carriers.resilience import DEFAULT_ROBUSTNESS, Robustness

T = TypeVar("T")


class OnfleetCarrier:
    name = mapping.CARRIER
    capabilities = frozenset({Capability.TRACK, Capability.WINDOWS, Capability.RESCHEDULE, Capability.REDIRECT,
                              Capability.LOCKERS, Capability.INSTRUCTIONS, Capability.CHANGE_ADDRESS})
    return_methods: frozenset[str] = frozenset()
    uses_our_lockers = True  # Onfleet delivers to any address: to our locker network too

    def __init__(self, session_factory: sessionmaker[Session], *, api_key: str, api_url: str, time_zone: str,
                 robustness: Robustness = DEFAULT_ROBUSTNESS, transport: httpx.BaseTransport | None = None,
                 mirror: Mirror | None = None) -> None:
        self._mirror = mirror or Mirror(session_factory, self.name)
        self._tz = time_zone
        self._guard = robustness.guard(self.name)
        self._client = OnfleetClient(api_key=api_key, api_url=api_url, timeout=robustness.timeout, transport=transport)

    def close(self) -> None:
        self._client.close()

    def __repr__(self) -> str:
        return f"OnfleetCarrier(api_url={self._client.api_url!r})"

    def _call(self, send: Callable[[], httpx.Response], parse: Callable[[Any], T], *, idempotent: bool) -> T:
        return self._guard.call(lambda: parse(mapping.answer(send())), idempotent=idempotent)

    def _task(self, tracking_number: str) -> dict[str, Any]:
        ref = self._mirror.external_id(tracking_number)
        if ref != tracking_number:
            return self._call(lambda: self._client.get_task(ref), mapping.task, idempotent=True)
        query = mapping.metadata_query(tracking_number)
        found = self._call(lambda: self._client.match_metadata(query), mapping.tasks, idempotent=True)
        if not found:
            raise UnknownShipment(f"onfleet has no task for {tracking_number}")
        return found[0]

    def _changeable_task(self, tracking_number: str, verb: str) -> dict[str, Any]:
        self._mirror.refuse_if_settled(tracking_number, verb)
        task = self._task(tracking_number)
        mapping.refuse_if_under_way(task, verb)
        return task

    def _update(self, task: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        task_id = str(task["id"])
        return self._call(lambda: self._client.update_task(task_id, body), mapping.task, idempotent=False)

    # -- reading ---------------------------------------------------------------------------
    def track(self, tracking_number: str) -> TrackingInfo:
        task = self._task(tracking_number)
        status = mapping.task_status(task) or self._mirror.status(tracking_number)
        return TrackingInfo(tracking_number=tracking_number, status=status, status_at=None, eta=mapping.task_eta(task),
                            stops_away=None, driver_position=None, locker_name=self._mirror.locker_name(tracking_number))

    def available_windows(self, tracking_number: str) -> list[TimeWindow]:
        self._changeable_task(tracking_number, "move")
        return slot_windows(self._mirror.now(), self._tz)

    def nearby_lockers(self, tracking_number: str, limit: int = 5) -> list[LockerOption]:
        return self._mirror.nearby_lockers(tracking_number, limit)

    def pickup_windows(self, tracking_number: str) -> list[TimeWindow]:
        raise ChangeRefused(Refusal.NOT_OFFERED, "returns")

    # -- changing --------------------------------------------------------------------------
    def reschedule(self, tracking_number: str, window: TimeWindow) -> TimeWindow:
        task = self._changeable_task(tracking_number, "move")
        updated = self._update(task, mapping.window_update(window))
        booked = mapping.task_window(updated) or window
        return booked

    def redirect_to_locker(self, tracking_number: str, locker_code: str) -> LockerOption:
        task = self._changeable_task(tracking_number, "send to a locker")
        locker = self._mirror.free_locker(locker_code)
        self._update(task, mapping.locker_update(locker.name, locker.code, f"{locker.address}, {locker.postcode}"))
        return self._mirror.our_locker_option(tracking_number, locker.code)

    def set_instructions(self, tracking_number: str, instructions: str) -> None:
        task = self._changeable_task(tracking_number, "change the instructions for")
        self._update(task, mapping.notes_update(instructions))

    def deliver_to_neighbour(self, tracking_number: str, neighbour: str) -> None:
        task = self._changeable_task(tracking_number, "change where it goes for")
        self._update(task, mapping.neighbour_update(neighbour))

    def change_address(self, tracking_number: str, *, address_line: str, postcode: str) -> None:
        task = self._changeable_task(tracking_number, "change the address of")
        self._update(task, mapping.address_update(address_line, postcode))

    def create_return(
        self, tracking_number: str, *, items: list[str], reason: str, method: str,
        locker_code: str | None = None, pickup: TimeWindow | None = None,
    ) -> ReturnLabel:
        raise ChangeRefused(Refusal.NOT_OFFERED, "returns")
