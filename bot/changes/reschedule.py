"""Moving a delivery to another window the carrier offers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bot.carriers import Carrier, TimeWindow
from bot.changes.common import ChangeRequest, Done, Kind, Parcel
from bot.changes.mirror import Booked
from bot.text import t
from bot.text.timefmt import window as window_text


@dataclass(frozen=True, kw_only=True)
class RescheduleRequest(ChangeRequest):
    kind: ClassVar[Kind] = Kind.RESCHEDULE
    window: TimeWindow


def options(carrier: Carrier, parcel: Parcel) -> list[TimeWindow]:
    """The windows the delivery can move to now."""
    return carrier.available_windows(parcel.tracking_number)


def apply(carrier: Carrier, parcel: Parcel, request: RescheduleRequest) -> Done:
    window = carrier.reschedule(parcel.tracking_number, request.window)
    when = window_text(window.start, window.end, parcel.now, parcel.tz, request.language)
    message = t(request.language, "Done: parcel …{ref} now comes {window}. We'll text you on the day.",
                ref=parcel.short, window=when)
    return Done(Kind.RESCHEDULE, message, {"start": window.start.isoformat(), "end": window.end.isoformat()},
                Booked(window))
