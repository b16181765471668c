"""Onfleet's tasks, errors and webhooks as pure functions: our value types and `Refusal` codes. No I/O.

Windows are a task's completeAfter/completeBefore (milliseconds); a locker or another address is a new
destination; instructions and a neighbour are the task's notes. Onfleet's webhook triggers become our
events; a trigger or a task state we have no meaning for is "unknown" (kept by ingestion, not applied).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from bot.aftercare.compliance import drop_from_words
from bot.carriers.errors import CarrierError, CarrierUnavailable, ChangeRefused, Refusal, UnknownShipment
from bot.carriers.models import UNKNOWN, CarrierEvent, DropProof, TimeWindow

CARRIER = "onfleet"
METADATA_KEY = "doorstep_tracking_number"
UNASSIGNED, ASSIGNED, ACTIVE, COMPLETED = 0, 1, 2, 3
ETA_BEFORE, ETA_AFTER = timedelta(minutes=10), timedelta(minutes=20)
# Onfleet trigger → our status; None: read it from the task (a delay keeps the task's own state).
TRIGGERS: dict[str, str | None] = {
    "taskStarted": "out_for_delivery", "taskEta": "out_for_delivery", "taskArrival": "out_for_delivery",
    "taskCompleted": None, "taskFailed": "failed_attempt", "taskDelayed": None,
}


# -- requests --------------------------------------------------------------------------------------
def metadata_query(tracking_number: str) -> list[dict[str, Any]]:
    return [{"name": METADATA_KEY, "type": "string", "value": tracking_number}]


def window_update(window: TimeWindow) -> dict[str, Any]:
    return {"completeAfter": _ms(window.start), "completeBefore": _ms(window.end)}


def locker_update(name: str, code: str, address: str) -> dict[str, Any]:
    return {"destination": {"address": {"unparsed": address}, "notes": f"Parcel locker {name} ({code})"}}


def notes_update(notes: str) -> dict[str, Any]:
    return {"notes": notes}


def neighbour_note(neighbour: str) -> str:
    return f"Leave with neighbour: {neighbour}"


def neighbour_update(neighbour: str) -> dict[str, Any]:
    return {"notes": f"If the recipient is out: {neighbour_note(neighbour)}"}


def address_update(address_line: str, postcode: str) -> dict[str, Any]:
    return {"destination": {"address": {"unparsed": f"{address_line}, {postcode}"}}}


# -- answers ---------------------------------------------------------------------------------------
def answer(response: httpx.Response) -> Any:
    """Onfleet's JSON on success; its error (`{"code", "message": {"error", "message"}}`) as our error."""
    try:
        body = response.json()
    except ValueError as exc:  # an error page instead of Onfleet's JSON (a proxy's 502)
        raise CarrierUnavailable("onfleet: an answer that is not JSON") from exc
    if response.is_success:
        return body
    raise error(response.status_code, body)


def error(status: int, body: Any) -> CarrierError:
    """Onfleet's error codes (its errors.json): 1000-1012 invalid content, 1100-1112 and 1300 credentials,
    14xx not found, 2300-2301 too many requests, 2500+ failing."""
    detail = body.get("message") if isinstance(body, dict) else None
    if not isinstance(detail, dict):
        message = str(detail or "error")[:200]
        if status == 404:
            return UnknownShipment(f"onfleet: {message}")
        if status == 429 or status >= 500:
            return CarrierUnavailable(f"onfleet: {message}")
        return CarrierError(f"onfleet: {message} ({status})")
    raw_code = detail.get("error")
    code = raw_code if isinstance(raw_code, int) else 0
    message = str(detail.get("message") or "")[:200]
    if 1000 <= code <= 1012:
        return ChangeRefused(Refusal.REJECTED, message)
    if 1100 <= code <= 1112 or code == 1300:
        return CarrierError(f"onfleet refused our credentials: {message}")
    if 2300 <= code <= 2301 or code >= 2500 or status == 429 or status >= 500:
        return CarrierUnavailable(f"onfleet: {message}")
    if status == 404 or 1400 <= code < 1500:  # ResourceNotFound and friends
        return UnknownShipment(f"onfleet: {message}")
    return CarrierError(f"onfleet: {message} ({code})")


def task(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("id"), str):
        raise CarrierUnavailable("onfleet answered without a task")
    return body


def tasks(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, list):
        raise CarrierUnavailable("onfleet answered a metadata query without a list")
    return [task(item) for item in body]


def refuse_if_under_way(found: dict[str, Any], verb: str) -> None:
    if found.get("state") == ACTIVE:
        raise ChangeRefused(Refusal.OUT_FOR_DELIVERY, verb)
    if found.get("state") == COMPLETED:
        raise ChangeRefused(Refusal.DELIVERED, verb)


# -- a task, read ----------------------------------------------------------------------------------
def task_status(found: dict[str, Any]) -> str | None:
    """Our status for a task's state; None when the task says nothing we can use."""
    state = found.get("state")
    if state == COMPLETED:
        success = (found.get("completionDetails") or {}).get("success")
        return "delivered" if success else "failed_attempt"
    if not isinstance(state, int):
        return None
    return {UNASSIGNED: "at_depot", ASSIGNED: "at_depot", ACTIVE: "out_for_delivery"}.get(state)


def task_proof(found: dict[str, Any]) -> DropProof | None:
    """A completed task's proof: the driver's notes (read for a place or a neighbour), where the task was
    completed (`lastLocation`, else `firstLocation`: [lng, lat]) and the photo's upload id. The photo is not
    fetched: Onfleet serves uploads by id, and the id is kept with the event."""
    details = found.get("completionDetails")
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


def task_eta(found: dict[str, Any]) -> TimeWindow | None:
    """The driver's estimate when the task is under way, else the task's window."""
    arrival = _time(found.get("estimatedArrivalTime") or found.get("estimatedCompletionTime"))
    if arrival is not None and found.get("state") == ACTIVE:
        return _around(arrival)
    return task_window(found)


def task_window(found: dict[str, Any]) -> TimeWindow | None:
    start, end = _time(found.get("completeAfter")), _time(found.get("completeBefore"))
    if start is None or end is None or end <= start:
        return None
    return TimeWindow(start, end)


def tracking_number_of(found: dict[str, Any]) -> str | None:
    for item in found.get("metadata") or []:
        if isinstance(item, dict) and item.get("name") == METADATA_KEY and isinstance(item.get("value"), str):
            return item["value"]
    return None


# -- webhooks --------------------------------------------------------------------------------------
def webhook_task(payload: Any) -> tuple[str, dict[str, Any]]:
    """The task id and task a webhook is about; ValueError when the payload is not an Onfleet trigger."""
    if not isinstance(payload, dict):
        raise ValueError("not an object")
    trigger, task_id, at = payload.get("triggerName"), payload.get("taskId"), payload.get("time")
    data = payload.get("data")
    found = data.get("task") if isinstance(data, dict) else None
    if not isinstance(trigger, str) or not isinstance(task_id, str) or not (0 < len(task_id) <= 40):
        raise ValueError("triggerName and taskId are required")
    if not isinstance(at, int) or isinstance(at, bool) or not 0 < at < 10**14:
        raise ValueError("time must be milliseconds since the epoch")
    if not isinstance(found, dict) or found.get("id", task_id) != task_id:
        raise ValueError("data.task is required and must be the task")
    return task_id, found


def webhook_event(payload: dict[str, Any], tracking_number: str) -> tuple[CarrierEvent, str]:
    """A checked webhook (see `webhook_task`) for our shipment: our event and the trigger's name."""
    trigger, task_id, at = str(payload["triggerName"]), str(payload["taskId"]), int(payload["time"])
    found = payload["data"]["task"]
    occurred = datetime.fromtimestamp(at / 1000, UTC)
    status = TRIGGERS.get(trigger, UNKNOWN) or task_status(found) or UNKNOWN
    if trigger == "taskCompleted" and status not in ("delivered", "failed_attempt"):
        status = "delivered"
    eta = task_eta(found)
    eta_seconds = payload.get("etaSeconds")
    if trigger == "taskEta" and isinstance(eta_seconds, int | float) and 0 <= eta_seconds < 86400:
        eta = _around(occurred + timedelta(seconds=float(eta_seconds)))
    event = CarrierEvent(
        carrier=CARRIER, event_id=f"{trigger[:30]}:{task_id}:{at}", tracking_number=tracking_number[:40],
        status=status, occurred_at=occurred, description=f"Onfleet {trigger[:40]}", eta=eta,
        extra={"task_id": task_id, "trigger": trigger[:40]},
        proof=task_proof(found) if status == "delivered" else None,
    )
    return event, trigger[:40]


def _around(arrival: datetime) -> TimeWindow:
    return TimeWindow(arrival - ETA_BEFORE, arrival + ETA_AFTER)


def _time(ms: Any) -> datetime | None:
    if not isinstance(ms, int | float) or isinstance(ms, bool) or not 0 < ms < 10**14:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
