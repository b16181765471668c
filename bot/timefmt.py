"""Times as a customer reads them: in their own time zone, relative to their today."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo


def day_label(moment: datetime, now: datetime, tz: str) -> str:
    zone = ZoneInfo(tz)
    day, today = moment.astimezone(zone).date(), now.astimezone(zone).date()
    delta = (day - today).days
    if delta == 0:
        return "today"
    if delta == 1:
        return "tomorrow"
    if delta == -1:
        return "yesterday"
    return moment.astimezone(zone).strftime("%a %-d %b")


def clock(moment: datetime, tz: str) -> str:
    return moment.astimezone(ZoneInfo(tz)).strftime("%H:%M")


def window(start: datetime, end: datetime, now: datetime, tz: str) -> str:
    """'today 14:00–15:00' (an en dash costs a UCS-2 SMS: so a plain hyphen)."""
    return f"{day_label(start, now, tz)} {clock(start, tz)}-{clock(end, tz)}"
