"""A period away from home in the customer's own words, in English, German or Dutch: "till the 12th",
"until Friday", "next week", "bis zum 12.", "nächste Woche", "tot en met de 12e", "volgende week",
"from the 5th to the 12th", "for two weeks", or a bare date given as an answer ("12 Dec", "12/12").

The days themselves are read by `bot.conversation.choices.parse_when` (the one reader of days and times);
this module only says which day starts the period and which day ends it (inclusive). Pure functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.conversation.answers import fold
from bot.conversation.choices import NEXT_WEEK, WhenRequest, parse_when

MAX_DAYS = 62  # a hold longer than two months is not a holiday: a person should look at it

# "until", "till", "bis (zum)", "tot (en met)", "t/m", "through": what follows is the last day away
UNTIL = re.compile(r"\b(?:until|till|til|untill|through|thru|up to|up until|to|bis(?: einschliesslich| inklusive)?|"
                   r"tot en met|tot|t/m|tm)\b")
# "from", "ab", "vom", "van", "vanaf", "starting": what follows is the first day away
FROM = re.compile(r"\b(?:from|starting|start|beginning|ab|vom|von|van|vanaf|per)\b")
# A bare ordinal straight after "until" ("till 12th", "bis 12.", "tot 12e") reads as "the 12th"
BARE_ORDINAL = re.compile(r"^\s*(?:zum|zu|de|den|dem)?\s*(\d{1,2})(st|nd|rd|th|e|de|ste|\.)(?![\d:/])")
NEGATION = re.compile(r"\b(?:nicht|nich|niet|not|never|nie|niemals|nooit|geen|keine?|kein)\b|n't\b")
NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "a couple of": 2,
                "eine": 1, "einen": 1, "ein": 1, "zwei": 2, "drei": 3, "vier": 4,
                "een": 1, "twee": 2, "drie": 3}
DURATION = re.compile(r"\b(?:for|fur|voor)?\s*(\d{1,2}|a couple of|an?|one|two|three|four|eine[n]?|ein|zwei|drei|"
                      r"vier|een|twee|drie)\s+(days?|tage?n?|dagen|dag|weeks?|wochen?|weken|week)\b")
WEEK_WORDS = ("week", "weeks", "woche", "wochen", "weken")


@dataclass(frozen=True)
class Period:
    """The days away, both included, in the customer's time zone."""

    first: date
    last: date

    def __contains__(self, day: date) -> bool:
        return self.first <= day <= self.last


def _cleaned(text: str) -> str:
    """Folded, negations out: "bin bis zum 12. nicht da" names the 12th as much as "bis zum 12." does."""
    return NEGATION.sub(" ", fold(text).replace("’", "'"))


def _day_after(today: date, request: WhenRequest, *, latest: bool) -> date | None:
    """The day a part of the sentence names: a date (the latest or the earliest of several) or a weekday
    (the next one after today)."""
    if request.days:
        return max(request.days) if latest else min(request.days)
    if request.weekday is not None:
        ahead = (request.weekday - today.weekday()) % 7 or 7
        return today + timedelta(days=ahead)
    return None


def _read_day(part: str, now: datetime, tz: str, today: date, *, latest: bool) -> date | None:
    ordinal = BARE_ORDINAL.match(part)
    if ordinal:
        part = f"the {ordinal.group(1)}{ordinal.group(2)} {part[ordinal.end():]}"
    return _day_after(today, parse_when(part, now, tz), latest=latest)


def _same_month(part: str, last: date) -> date | None:
    """"van 5 tot 12 december", "from 5 to 12 Dec": a bare first day in the last day's month (or the one before)."""
    match = re.fullmatch(r"\s*(?:the|de|den|dem)?\s*(\d{1,2})(?:st|nd|rd|th|e|de|ste|ten|\.)?\s*", part)
    if match is None:
        return None
    day = int(match.group(1))
    month_start = last.replace(day=1) if day <= last.day else (last.replace(day=1) - timedelta(days=1)).replace(day=1)
    try:
        return month_start.replace(day=day)
    except ValueError:
        return None


def _next_monday(today: date) -> date:
    return today + timedelta(days=7 - today.weekday())


def _duration(text: str) -> timedelta | None:
    match = DURATION.search(text)
    if match is None:
        return None
    amount = match.group(1).strip()
    count = int(amount) if amount.isdigit() else NUMBER_WORDS.get(amount, 1)
    unit = match.group(2)
    return timedelta(days=count * 7 if unit in WEEK_WORDS else count)


def parse_period(text: str, now: datetime, tz: str) -> Period | None:
    """The period the text names, from today unless it says when it starts; None when it names no end
    day, or one in the past, or a period longer than `MAX_DAYS`."""
    today = now.astimezone(ZoneInfo(tz)).date()
    cleaned = _cleaned(text)
    first, last = today, None
    until = None
    for match in reversed(list(UNTIL.finditer(cleaned))):  # "till the 12th, send them to the locker"
        after = cleaned[match.end():]
        if NEXT_WEEK.search(after) and not re.search(r"\d", after):
            last = _next_monday(today) - timedelta(days=1)  # "until next week": back on Monday
        else:
            last = _read_day(after, now, tz, today, latest=True)
        if last is not None:
            until = match
            break
    if until is not None:
        before = cleaned[: until.start()]
        start = FROM.search(before)
        if start is not None:
            first = _read_day(before[start.end():], now, tz, today, latest=False) or (
                _same_month(before[start.end():], last) if last is not None else None) or today
        elif NEXT_WEEK.search(before):
            first = _next_monday(today)  # "I'm away next week, hold them till the 12th"
    if last is None and (length := _duration(cleaned)) is not None:
        start = FROM.search(cleaned)
        if start is not None:
            first = _read_day(cleaned[start.end():], now, tz, today, latest=False) or today
        last = first + length - timedelta(days=1)
    if last is None and until is None:
        if NEXT_WEEK.search(cleaned) and not re.search(r"\d", cleaned):
            first = _next_monday(today)
            last = first + timedelta(days=6)
        else:
            last = _read_day(cleaned, now, tz, today, latest=True)
    if last is None or last < today or first > last or (last - first).days > MAX_DAYS:
        return None
    return Period(max(first, today), last)
