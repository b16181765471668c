"""Dates, times and delivery windows as a customer reads them: in their own time zone, relative to their
today, in their language. The one formatter for the chat, the notifications, the tracking page and the
console.

A day that is not yesterday, today or tomorrow is Babel's abbreviated weekday, day and month without
abbreviation dots ("Thu 3 Dec", "Do 3 Dez", "do 3 dec"): short, because SMS is paid per segment. A
window's times are joined with a plain hyphen, as an en dash would force an SMS into UCS-2; a web page
may pass `dash="–"`.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date
from babel.numbers import format_decimal

from bot.text import N_, language_of, t

RELATIVE_DAYS = {-1: N_("yesterday"), 0: N_("today"), 1: N_("tomorrow")}
DAY_PATTERN = "EEE d MMM"


def day_label(moment: datetime, now: datetime, tz: str, language: str | None = "en") -> str:
    """'today', 'morgen', 'gisteren', else 'Thu 3 Dec' / 'Do 3 Dez' / 'do 3 dec'."""
    zone = ZoneInfo(tz)
    lang = language_of(language)
    day, today = moment.astimezone(zone).date(), now.astimezone(zone).date()
    relative = RELATIVE_DAYS.get((day - today).days)
    if relative is not None:
        return t(lang, relative)
    return format_date(day, DAY_PATTERN, locale=lang).replace(".", "")


def clock(moment: datetime, tz: str) -> str:
    """'14:05' in the customer's time zone (24-hour in all three languages: Babel's "HH:mm", written
    with strftime, since every notification formats two or three of them)."""
    return moment.astimezone(ZoneInfo(tz)).strftime("%H:%M")


def moment_text(moment: datetime, now: datetime, tz: str, language: str | None = "en") -> str:
    """A day and a time: 'today 14:05', 'Do 3 Dez 09:30'."""
    return f"{day_label(moment, now, tz, language)} {clock(moment, tz)}"


def window(start: datetime, end: datetime, now: datetime, tz: str, language: str | None = "en", *,
           dash: str = "-") -> str:
    """'today 14:00-15:00', 'morgen 14:00-15:00', 'Thu 3 Dec 14:00-15:00'."""
    return f"{day_label(start, now, tz, language)} {clock(start, tz)}{dash}{clock(end, tz)}"


def kilometres(metres: float, language: str | None = "en") -> str:
    """A distance with one decimal, as the customer writes numbers: '1.9' in English, '1,9' in German and Dutch."""
    return format_decimal(metres / 1000, format="0.0", locale=language_of(language))
