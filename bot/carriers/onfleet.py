"""Onfleet (a last-mile dispatch API) through its SDK, pyonfleet: a shipment is an Onfleet task.

A task is found by its id in `carrier_refs`, or by the task metadata `doorstep_tracking_number`.
Windows are the task's completeAfter/completeBefore (Onfleet takes any window: we offer two-hour
slots); a locker or another address is a new destination; instructions and a neighbour are the
task's notes. Onfleet's own events arrive by webhook (bot/web/carrier_webhooks.py).

pyonfleet builds every URL from a module constant, keeps one `requests.Session` (with the key) and its
endpoints on the `Onfleet` class, so they are shared by every client in the process, sets no timeout,
and retries a 429 up to eight times with exponential backoff (minutes). It offers no public way to give
a client its own base URL or session. So we change none of that: each adapter binds the SDK's request
objects for tasks to a session of its own (its key, our timeout, the configured API URL put in place of
the SDK's), and calls each request's undecorated method: our own retry (reads only) and circuit breaker
decide. Two adapters with different URLs or keys never see each other's.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import onfleet.request as onfleet_request
import requests
from onfleet import Onfleet
from onfleet.error import HttpError, PermissionError, RateLimitError, ServiceError, ValidationError
from requests.adapters import HTTPAdapter
from sqlalchemy.orm import Session, sessionmaker

from bot.aftercare.compliance import drop_from_words
from bot.carriers import local
from bot.carriers.errors import CarrierError, CarrierUnavailable, ChangeRefused, Refusal, UnknownShipment
from bot.carriers.models import Capability, DropProof, LockerOption, ReturnLabel, TimeWindow, TrackingInfo
from bot.carriers.resilience import DEFAULT_ROBUSTNESS, Robustness
from bot.clock import sim_now
from bot.models import Locker, Shipment

METADATA_KEY = "doorstep_tracking_number"
UNASSIGNED, ASSIGNED, ACTIVE, COMPLETED = 0, 1, 2, 3
ETA_BEFORE, ETA_AFTER = timedelta(minutes=10), timedelta(minutes=20)
T = TypeVar("T")
_raw_call = inspect.unwrap(onfleet_request.Request.__call__)


class _TimeoutAdapter(HTTPAdapter):
    def __init__(self, timeout: float) -> None:
        super().__init__(max_retries=0)
        self._timeout = timeout

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self._timeout
        return super().send(request, **kwargs)


class _OnfleetSession(requests.Session):
    """One adapter's HTTP session: its API key, our timeout, and its API URL in place of pyonfleet's constant."""

    def __init__(self, *, api_key: str, api_url: str, timeout: float) -> None:
        super().__init__()
        self.auth = (api_key, "")
        self.api_url = api_url.rstrip("/")
        adapter = _TimeoutAdapter(timeout)
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    def request(self, method: str, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        sdk_base = onfleet_request.API_BASE_URL  # what pyonfleet prefixed; read, never written
        if isinstance(url, str) and url.startswith(sdk_base):
            url = self.api_url + url[len(sdk_base):]
        return super().request(method, url, *args, **kwargs)


def _bound(request: onfleet_request.Request, session: requests.Session) -> onfleet_request.Request:
    """The SDK's request (method, path, URL building, error mapping) on this adapter's session."""
    return onfleet_request.Request(request.http_method, request.path, session)


class OnfleetCarrier:
    name = "onfleet"
    capabilities = frozenset({Capability.TRACK, Capability.WINDOWS, Capability.RESCHEDULE, Capability.REDIRECT,
                              Capability.LOCKERS, Capability.INSTRUCTIONS, Capability.CHANGE_ADDRESS})
    return_methods: frozenset[str] = frozenset()

    def __init__(self, session_factory: sessionmaker[Session], *, api_key: str, api_url: str, time_zone: str,
                 robustness: Robustness = DEFAULT_ROBUSTNESS) -> None:
        self._sessions = session_factory
        self._tz = time_zone
        self._guard = robustness.guard(self.name)
        self._http = _OnfleetSession(api_key=api_key, api_url=api_url, timeout=robustness.timeout)
        self._get_task = _bound(Onfleet.tasks.get, self._http)
        self._match_tasks = _bound(Onfleet.tasks.matchMetadata, self._http)
        self._update_task = _bound(Onfleet.tasks.update, self._http)

    def close(self) -> None:
        self._http.close()

    def __repr__(self) -> str:
        return f"OnfleetCarrier(api_url={self._http.api_url!r})"

    # -- the SDK, guarded ------------------------------------------------------------------
    def _call(self, request: onfleet_request.Request, *, idempotent: bool, parse: Callable[[Any], T] = lambda x: x,
              **kwargs: Any) -> T:
        def send() -> T:
            try:
                return parse(_raw_call(request, **kwargs))
            except (requests.Timeout, requests.ConnectionError) as exc:
                raise CarrierUnavailable(f"onfleet: {type(exc).__name__}") from exc
            except (RateLimitError, ServiceError) as exc:
                raise CarrierUnavailable(f"onfleet: {exc.message}") from exc
            except ValidationError as exc:
                raise ChangeRefused(Refusal.REJECTED) from exc
            except PermissionError as exc:
                raise CarrierError(f"onfleet refused our credentials: {exc.message}") from exc
            except HttpError as exc:
                raise _http_error(exc) from exc
            except json.JSONDecodeError as exc:  # an error page instead of Onfleet's JSON (a proxy's 502)
                raise CarrierUnavailable("onfleet: an answer that is not JSON") from exc

        return self._guard.call(send, idempotent=idempotent)

    def _task(self, tracking_number: str) -> dict[str, Any]:
        ref = local.external_id(self._sessions, self.name, tracking_number)
        if ref != tracking_number:
            return self._call(self._get_task, idempotent=True, parse=_task_dict, id=ref)
        found = self._call(self._match_tasks, idempotent=True, parse=_task_list,
                           body=[{"name": METADATA_KEY, "type": "string", "value": tracking_number}])
        if not found:
            raise UnknownShipment(f"onfleet has no task for {tracking_number}")
        return found[0]

    def _changeable_task(self, tracking_number: str, verb: str) -> dict[str, Any]:
        local.refuse_if_settled(self._sessions, self.name, tracking_number, verb)
        task = self._task(tracking_number)
        if task.get("state") == ACTIVE:
            raise ChangeRefused(Refusal.OUT_FOR_DELIVERY, verb)
        if task.get("state") == COMPLETED:
            raise ChangeRefused(Refusal.DELIVERED, verb)
        return task

    def _update(self, task: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        return self._call(self._update_task, idempotent=False, parse=_task_dict, id=str(task["id"]), body=body)

    # -- reading ---------------------------------------------------------------------------
    def track(self, tracking_number: str) -> TrackingInfo:
        task = self._task(tracking_number)
        status = task_status(task)
        if status is None:
            with self._sessions() as session:
                status = local.shipment_of(session, self.name, tracking_number).status
        eta = task_eta(task)
        with self._sessions() as session:
            shipment = local.shipment_of(session, self.name, tracking_number)
            locker = shipment.locker.name if shipment.locker else None
        return TrackingInfo(tracking_number=tracking_number, status=status, status_at=None, eta=eta,
                            stops_away=None, driver_position=None, locker_name=locker)

    def available_windows(self, tracking_number: str) -> list[TimeWindow]:
        self._changeable_task(tracking_number, "move")
        with self._sessions() as session:
            now = sim_now(session)
        return local.slot_windows(now, self._tz)

    def nearby_lockers(self, tracking_number: str, limit: int = 5) -> list[LockerOption]:
        return local.nearby_lockers(self._sessions, self.name, tracking_number, limit)

    def pickup_windows(self, tracking_number: str) -> list[TimeWindow]:
        raise ChangeRefused(Refusal.NOT_OFFERED, "returns")

    # -- changing --------------------------------------------------------------------------
    def reschedule(self, tracking_number: str, window: TimeWindow) -> TimeWindow:
        task = self._changeable_task(tracking_number, "move")
        updated = self._update(task, {"completeAfter": _ms(window.start), "completeBefore": _ms(window.end)})
        booked = _window_of(updated) or window

        def apply(session: Session, shipment: Shipment) -> None:
            shipment.promised_start, shipment.promised_end = booked.start, booked.end
            shipment.eta_start, shipment.eta_end = booked.start, booked.end

        local.record_change(self._sessions, self.name, tracking_number, "reschedule", apply,
                            {"start": booked.start.isoformat(), "task": str(task["id"])})
        return booked

    def redirect_to_locker(self, tracking_number: str, locker_code: str) -> LockerOption:
        task = self._changeable_task(tracking_number, "send to a locker")
        locker = local.locker_by_code(self._sessions, locker_code)
        self._update(task, {
            "destination": {"address": {"unparsed": f"{locker.address}, {locker.postcode}"},
                            "notes": f"Parcel locker {locker.name} ({locker.code})"},
        })
        chosen: dict[str, LockerOption] = {}

        def apply(session: Session, shipment: Shipment) -> None:
            row = session.get(Locker, locker.id)
            assert row is not None
            row.occupied += 1
            shipment.locker_id = row.id
            chosen["option"] = local.locker_option(row, shipment)

        local.record_change(self._sessions, self.name, tracking_number, "redirect_to_locker", apply,
                            {"locker": locker.code, "task": str(task["id"])})
        return chosen["option"]

    def set_instructions(self, tracking_number: str, instructions: str) -> None:
        task = self._changeable_task(tracking_number, "change the instructions for")
        self._update(task, {"notes": instructions})
        local.record_change(self._sessions, self.name, tracking_number, "instructions",
                            _set_instructions(instructions), {"length": len(instructions)})

    def deliver_to_neighbour(self, tracking_number: str, neighbour: str) -> None:
        task = self._changeable_task(tracking_number, "change where it goes for")
        note = f"Leave with neighbour: {neighbour}"
        self._update(task, {"notes": f"If the recipient is out: {note}"})
        local.record_change(self._sessions, self.name, tracking_number, "neighbour", _set_instructions(note),
                            {"length": len(neighbour)})

    def change_address(self, tracking_number: str, *, address_line: str, postcode: str) -> None:
        task = self._changeable_task(tracking_number, "change the address of")
        self._update(task, {"destination": {"address": {"unparsed": f"{address_line}, {postcode}"}}})
        local.record_address_change(self._sessions, self.name, tracking_number, address_line=address_line,
                                    postcode=postcode)

    def create_return(
        self, tracking_number: str, *, items: list[str], reason: str, method: str,
        locker_code: str | None = None, pickup: TimeWindow | None = None,
    ) -> ReturnLabel:
        raise ChangeRefused(Refusal.NOT_OFFERED, "returns")


# -- Onfleet's task, read -------------------------------------------------------------------------
def task_status(task: dict[str, Any]) -> str | None:
    """Our status for a task's state; None when the task says nothing we can use."""
    state = task.get("state")
    if state == COMPLETED:
        success = (task.get("completionDetails") or {}).get("success")
        return "delivered" if success else "failed_attempt"
    if not isinstance(state, int):
        return None
    return {UNASSIGNED: "at_depot", ASSIGNED: "at_depot", ACTIVE: "out_for_delivery"}.get(state)


def task_proof(task: dict[str, Any]) -> DropProof | None:
    """A completed task's proof: the driver's notes (read for a place or a neighbour), where the task was
    completed (`lastLocation`, else `firstLocation`: [lng, lat]) and the photo's upload id. The photo is not
    fetched: Onfleet serves uploads by id, and the id is kept with the event."""
    details = task.get("completionDetails")
    if not isinstance(details, dict):
        return None
    notes = details.get("notes") if isinstance(details.get("notes"), str) else None
    place, neighbour = drop_from_words(notes)
    lat = lng = None
    for key in ("lastLocation", "firstLocation"):
        point = details.get(key)
        if isinstance(point, list) and len(point) == 2 and all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in point) \
                and -180 <= point[0] <= 180 and -90 <= point[1] <= 90:
            lng, lat = float(point[0]), float(point[1])
            break
    uploads = details.get("photoUploadIds")
    photo = details.get("photoUploadId") or (uploads[0] if isinstance(uploads, list) and uploads else None)
    photo_ref = f"onfleet-upload:{photo[:60]}" if isinstance(photo, str) and photo.isalnum() else None
    if not (notes or lat is not None or photo_ref):
        return None
    return DropProof(place=place, note=notes[:500] if notes else None, neighbour=neighbour, lat=lat, lng=lng,
                     photo_ref=photo_ref)


def task_eta(task: dict[str, Any]) -> TimeWindow | None:
    """The driver's estimate when the task is under way, else the task's window."""
    arrival = _time(task.get("estimatedArrivalTime") or task.get("estimatedCompletionTime"))
    if arrival is not None and task.get("state") == ACTIVE:
        return TimeWindow(arrival - ETA_BEFORE, arrival + ETA_AFTER)
    return _window_of(task)


def tracking_number_of(task: dict[str, Any]) -> str | None:
    for item in task.get("metadata") or []:
        if isinstance(item, dict) and item.get("name") == METADATA_KEY and isinstance(item.get("value"), str):
            return item["value"]
    return None


def _window_of(task: dict[str, Any]) -> TimeWindow | None:
    start, end = _time(task.get("completeAfter")), _time(task.get("completeBefore"))
    if start is None or end is None or end <= start:
        return None
    return TimeWindow(start, end)


def _time(ms: Any) -> datetime | None:
    if not isinstance(ms, int | float) or isinstance(ms, bool) or not 0 < ms < 10**14:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _task_dict(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("id"), str):
        raise CarrierUnavailable("onfleet answered without a task")
    return body


def _task_list(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, list):
        raise CarrierUnavailable("onfleet answered a metadata query without a list")
    return [_task_dict(item) for item in body]


def _http_error(exc: HttpError) -> CarrierError:
    code = exc.status if isinstance(exc.status, int) else 0
    if code == 404 or 1400 <= code < 1500:  # ResourceNotFound and friends
        return UnknownShipment(f"onfleet: {exc.message}")
    if code in (429, 2300, 2301) or code >= 500:
        return CarrierUnavailable(f"onfleet: {exc.message}")
    return CarrierError(f"onfleet: {exc.message} ({code})")


def _set_instructions(text: str) -> Callable[[Session, Shipment], None]:
    def apply(session: Session, shipment: Shipment) -> None:
        shipment.instructions = text

    return apply
