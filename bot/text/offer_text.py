"""The bot's lists of choices (windows, lockers, return methods) as words, in the customer's language.

Over SMS a list is one message: the question, one numbered line per choice, and a footer; it must fit
in two segments (bot/notify/segments.py) with the longest values the world holds. So the texts here
stay in GSM-7: no "…" (it alone turns a whole SMS into UCS-2, 67 characters a segment instead of 153).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from bot.text import t
from bot.text.timefmt import kilometres, window

ALWAYS_OPEN = ("00:00", "24:00")


class Offer(NamedTuple):
    """What actions.context.offer takes: a question, its options and a footer."""

    question: str
    options: list[str]
    footer: str = ""


def numbered(question: str, options: Sequence[str], footer: str = "") -> str:
    """A list of choices as one SMS: the question, '1. …' per option, the footer."""
    lines = [question, *(f"{n}. {text}" for n, text in enumerate(options, start=1))]
    return "\n".join([*lines, footer] if footer else lines)


def reschedule_offer(language: str, short: str, windows: Sequence[tuple[datetime, datetime]], *,
                     now: datetime, tz: str) -> Offer:
    """'When should parcel 6558 come?', the windows ('Thu 26 Nov 18:00-20:00'), how else to answer."""
    return Offer(t(language, "When should parcel {ref} come?", ref=short),
                 [window(start, end, now, tz, language) for start, end in windows],
                 t(language, "Or say a day/time, e.g. \"sat morning\"."))


def locker_option(language: str, *, name: str, metres: float, hours: Sequence[str], free: int) -> str:
    """'Boxhagener Platz, 1.0 km, 24h, 34 free' (hours: Monday's opening and closing time)."""
    opening = t(language, "24h") if tuple(hours) == ALWAYS_OPEN else "-".join(hours)
    return t(language, "{name}, {km} km, {opening}, {free} free", name=name, km=kilometres(metres, language),
             opening=opening, free=free)
