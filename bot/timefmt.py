"""Times as a customer reads them: in their own time zone, relative to their today, in their language."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date
from babel.numbers import format_decimal

from bot.i18n import STRINGS, locale_of

# Babel patterns for a day that is not today/tomorrow/yesterday: "Mon 3 Dec", "Mo., 3. Dez.", "ma 3 dec".
DAY_PATTERNS = {"en": "EEE d MMM", "de": "EEE, d. MMM", "nl": "EEE d MMM"}


def day_label(moment: datetime, now: datetime, tz: str, language: str | None = "en") -> str:
    zone = ZoneInfo(tz)
    lang = locale_of(language)
    day, today = moment.astimezone(zone).date(), now.astimezone(zone).date()
    relative = {0: "today", 1: "tomorrow", -1: "yesterday"}.get((day - today).days)
    if relative is not None:
        return STRINGS[lang][relative]
    return format_date(day, DAY_PATTERNS[lang], locale=lang)


def clock(moment: datetime, tz: str) -> str:
    return moment.astimezone(ZoneInfo(tz)).strftime("%H:%M")


def window(start: datetime, end: datetime, now: datetime, tz: str, language: str | None = "en") -> str:
    """'today 14:00-15:00', 'morgen 14:00-15:00' (an en dash costs a UCS-2 SMS: so a plain hyphen)."""
    return f"{day_label(start, now, tz, language)} {clock(start, tz)}-{clock(end, tz)}"


def kilometres(metres: float, language: str | None = "en") -> str:
    """A distance with one decimal, as the customer writes numbers: '1.9' in English, '1,9' in German and Dutch."""
    return format_decimal(metres / 1000, format="0.0", locale=locale_of(language))
