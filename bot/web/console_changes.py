"""The console's change forms on top of the change service: what to offer an agent, and the agent's form
turned into a change request. The service makes the change and words what the customer is told."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.carriers import TimeWindow
from bot.changes import (
    Asker,
    CarrierDown,
    Done,
    Kind,
    LockerRequest,
    Refused,
    Request,
    Requester,
    RescheduleRequest,
    ReturnRequest,
    make,
    options,
)
from bot.core.models import ShipmentStatus
from bot.core.runtime import Runtime
from bot.text import language_of
from bot.text.timefmt import window as window_text

KINDS = ("reschedule", "locker", "return")


class ChangeFailed(RuntimeError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _encode(window: TimeWindow) -> str:
    return f"{window.start.isoformat()}|{window.end.isoformat()}"


def _decode(value: str) -> TimeWindow:
    try:
        start, end = value.split("|")
        return TimeWindow(datetime.fromisoformat(start), datetime.fromisoformat(end))
    except ValueError:
        raise ChangeFailed("not a window") from None


def change_options(runtime: Runtime, shipment_id: int) -> dict[str, Any]:
    """What the console offers for this parcel right now; each part empty when the change can't be made."""
    found = options(runtime, Asker(shipment_id=shipment_id, by=Requester.AGENT))
    parcel = found.parcel
    # Why a change that fits the parcel's stage (a return once delivered, the others before) can't be made.
    notes = [f"{kind}: {refusal.code}" for kind, refusal in found.refusals.items()
             if refusal is not None and kind in KINDS and parcel is not None
             and (kind == Kind.RETURN) == (parcel.status == ShipmentStatus.DELIVERED)]
    windows = [{"value": _encode(w), "label": window_text(w.start, w.end, parcel.now, parcel.tz)}
               for w in found.windows[:12]] if parcel is not None else []
    lockers = found.lockers or found.return_lockers
    return {
        "windows": windows,
        "lockers": [{"value": o.code, "label": f"{o.name} ({o.distance_m / 1000:.1f} km, {o.free} free)"}
                    for o in lockers],
        "items": [{"value": item["sku"], "label": item["name"]} for item in found.return_items],
        "notes": notes,
    }


def _request(shipment_id: int, form: dict[str, str], items: list[str], language: str) -> Request:
    kind = form.get("kind", "")
    who: dict[str, Any] = {"shipment_id": shipment_id, "by": Requester.AGENT, "language": language}
    if kind == "reschedule":
        return RescheduleRequest(**who, window=_decode(form.get("window", "")))
    if kind == "locker":
        return LockerRequest(**who, locker_code=form.get("locker", ""))
    if kind == "return":
        method = form.get("method", "label")
        return ReturnRequest(**who, items=items, reason=form.get("reason", "")[:200].strip() or "agent", method=method,
                             locker_code=form.get("locker") if method == "locker" else None)
    raise ChangeFailed("unknown change")


def make_change(runtime: Runtime, shipment_id: int, form: dict[str, str], items: list[str], locale: str) -> Done:
    """The agent's change, made by the service; `ChangeFailed` with the reason code when it wasn't."""
    outcome = make(runtime, _request(shipment_id, form, items, language_of(locale)))
    if isinstance(outcome, Refused):
        raise ChangeFailed(outcome.code.value)
    if isinstance(outcome, CarrierDown):
        raise ChangeFailed("carrier_down")
    return outcome
