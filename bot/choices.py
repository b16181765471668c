"""Understanding a customer's answer or pick in their own words: "2", "the second one", "saturday morning",
"tmrw after 5", "no, sunday". Pure functions over the options the carrier offered."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.carriers.models import TimeWindow
from bot.identity import normalise_postcode

ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
            "fifth": 5, "5th": 5, "sixth": 6, "6th": 6}
WEEKDAYS = {"mon": 0, "monday": 0, "tue": 1, "tues": 1, "tuesday": 1, "wed": 2, "weds": 2, "wednesday": 2,
            "thu": 3, "thur": 3, "thurs": 3, "thursday": 3, "fri": 4, "friday": 4, "sat": 5, "saturday": 5,
            "sun": 6, "sunday": 6, "weekend": 5}
TOMORROW = {"tomorrow", "tmrw", "tmr", "tmw", "tomoz", "2moro", "2morrow", "tommorow", "tomorow", "tmrow", "tomorro"}
MONTHS = {m: i for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                      "nov", "dec"], start=1)}
PARTS = {"morning": (time(0), time(12)), "midday": (time(11), time(14)), "lunchtime": (time(11), time(14)),
         "afternoon": (time(12), time(17)), "evening": (time(17), time(23, 59)), "tonight": (time(17), time(23, 59))}


@dataclass
class WhenRequest:
    """What a free-text answer asks for; empty when it names no day or time."""

    days: set[date] = field(default_factory=set)
    weekday: int | None = None
    not_before: time | None = None
    not_after: time | None = None
    around: time | None = None  # "at 10": the window that contains it

    @property
    def empty(self) -> bool:
        return not self.days and self.weekday is None and self.not_before is None and self.not_after is None \
            and self.around is None


def option_number(text: str, count: int) -> int | None:
    """1-based option from "2", "option 2", "#2", "the second one", "last one"; None if not a pick."""
    t = text.lower().strip()
    match = re.fullmatch(r"(?:option|number|no\.?|nr\.?|#)?\s*([1-9])\s*[.)!]?(?:\s*pl(?:ea)?se?)?", t)
    if match:
        n = int(match.group(1))
        return n if n <= count else None
    words = re.findall(r"[a-z0-9]+", t)
    if len(words) <= 4:
        for word in words:
            if word in ORDINALS and ORDINALS[word] <= count:
                return ORDINALS[word]
        if "last" in words and count:
            return count
    return None


def _hour(value: str, meridiem: str | None, *, assume_pm_below: int = 8) -> time | None:
    hour_text, _, minute_text = value.partition(":")
    hour, minute = int(hour_text), int(minute_text or 0)
    if meridiem == "pm" and hour < 12:
        hour += 12
    elif meridiem == "am" and hour == 12:
        hour = 0
    elif meridiem is None and hour < assume_pm_below:
        hour += 12  # "after 5" at a doorstep means 17:00
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    return time(hour, minute)


def parse_when(text: str, now: datetime, tz: str) -> WhenRequest:
    zone = ZoneInfo(tz)
    today = now.astimezone(zone).date()
    t = " " + re.sub(r"[^a-z0-9:/.\- ]", " ", text.lower()) + " "
    request = WhenRequest()
    words = set(t.split())
    if words & TOMORROW:
        request.days.add(today + timedelta(days=1))
    if "day after tomorrow" in t:
        request.days = {today + timedelta(days=2)}
    if "today" in words or "tonight" in words:
        request.days.add(today)
    for word in t.split():
        if word in WEEKDAYS:
            request.weekday = WEEKDAYS[word]
    for day, month in re.findall(r"\b(\d{1,2})[./](\d{1,2})\b", t):
        _add_date(request, today, int(day), int(month))
    for day, month in re.findall(r"\b(\d{1,2})(?:st|nd|rd|th)?\s+(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)", t):
        _add_date(request, today, int(day), MONTHS[month])
    for month, day in re.findall(r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\s+(\d{1,2})\b", t):
        _add_date(request, today, int(day), MONTHS[month])
    for day in re.findall(r"\bthe\s+(\d{1,2})(?:st|nd|rd|th)\b", t):
        _add_date(request, today, int(day), today.month if int(day) >= today.day else today.month % 12 + 1)
    for part, (start, end) in PARTS.items():
        if part in words:
            request.not_before, request.not_after = start, end
    clock_pattern = r"(\d{1,2}(?::\d{2})?)\s*(am|pm)?"
    between = re.search(rf"\b(?:between|from)\s+{clock_pattern}\s*(?:and|to|-|till|until)\s*{clock_pattern}", t)
    if between:
        request.not_before = _hour(between.group(1), between.group(2) or between.group(4))
        request.not_after = _hour(between.group(3), between.group(4))
    else:
        after = re.search(rf"\b(?:after|from|not before|any ?time after|after about)\s+{clock_pattern}", t)
        before = re.search(rf"\b(?:before|by|until|till|not after)\s+{clock_pattern}", t)
        if after:
            request.not_before = _hour(after.group(1), after.group(2))
        if before:
            request.not_after = _hour(before.group(1), before.group(2))
        if not after and not before:
            at = re.search(rf"\b(?:at|around|about|@)\s+{clock_pattern}|\b(\d{{1,2}}(?::\d{{2}})?)\s*(am|pm)\b", t)
            if at:
                value, meridiem = (at.group(1), at.group(2)) if at.group(1) else (at.group(3), at.group(4))
                request.around = _hour(value, meridiem)
    if "noon" in words and request.not_after is None:
        request.not_after = time(12)
    return request


def _add_date(request: WhenRequest, today: date, day: int, month: int) -> None:
    try:
        candidate = date(today.year, month, day)
    except ValueError:
        return
    if candidate < today:
        candidate = candidate.replace(year=today.year + 1)
    request.days.add(candidate)


def windows_matching(request: WhenRequest, windows: list[TimeWindow], tz: str) -> list[TimeWindow]:
    """The windows that fit every constraint the customer named, earliest first."""
    zone = ZoneInfo(tz)
    fitting = []
    for window in windows:
        start, end = window.start.astimezone(zone), window.end.astimezone(zone)
        if request.days and start.date() not in request.days:
            continue
        if request.weekday is not None and start.weekday() != request.weekday:
            continue
        if request.around is not None and not (start.time() <= request.around < end.time()):
            continue
        if request.not_before is not None and start.time() < request.not_before:
            continue
        if request.not_after is not None and end.time() > request.not_after and end.date() == start.date():
            continue
        fitting.append(window)
    return sorted(fitting, key=lambda w: w.start)


def pick_window(text: str, offered: list[TimeWindow], available: list[TimeWindow], *, now: datetime,
                tz: str) -> tuple[TimeWindow | None, WhenRequest]:
    """A number picks from what was offered; words pick the earliest available window that fits."""
    number = option_number(text, len(offered))
    if number is not None:
        return offered[number - 1], WhenRequest()
    request = parse_when(text, now, tz)
    if request.empty:
        return None, request
    matches = windows_matching(request, available, tz)
    return (matches[0] if matches else None), request


def pick_by_name(text: str, names: list[str]) -> int | None:
    """0-based index of the option whose name the text mentions ("the alexanderplatz one")."""
    t = re.sub(r"[^a-z0-9äöüß ]", " ", text.lower())
    for index, name in enumerate(names):
        key = name.lower()
        if key in t or key.split()[0] in t.split():
            return index
    return None


CANCEL = re.compile(r"^\s*(cancel|never\s*mind|nevermind|nvm|forget (it|that)|leave it|don'?t bother|no thanks?|"
                    r"nope,? (leave|forget) it|stop)\b[\s.!]*$", re.IGNORECASE)


INSTRUCTION_WORDS = re.compile(
    r"\b(door|back|front|side|porch|garage|garden|bins?|shed|code|reception|concierge|mailbox|letterbox|"
    r"gate|floor|stairs|behind|bell|buzzer|ring|knock|doorstep|step|balcony|terrace|under|next to|inside|outside)\b",
    re.IGNORECASE)


MAX_ANSWER = 300


def parse_address_answer(text: str) -> str | None:
    """"neighbour meyer no 12" -> "N:meyer no 12"; "Oranienstr 5, 10999" -> "A:Oranienstr 5|10999"."""
    cleaned = " ".join(text.split())[:MAX_ANSWER]
    if re.search(r"\b(neighbou?rs?|next door|nxt door)\b", cleaned, re.IGNORECASE) and not re.search(
            r"\b1[0-4]\d{3}\b", cleaned):
        filler = r"\b(pls|please|can|could|would|you|u|leave|give|drop|it|with|to|my|the|a|neighbou?rs?|next|door|" \
                 r"nxt|instead|deliver|parcel|package|if|i'?m|im|not|home|out|at|is|them|her|him|thx|thanks)\b"
        who = re.sub(r"\s+", " ", re.sub(filler, " ", cleaned, flags=re.IGNORECASE)).strip(" ,.?!")
        named = re.search(r"\d", who) or re.search(r"(?<!^)\b[A-ZÄÖÜ][a-zäöüß]+", cleaned)
        return f"N:{cleaned}" if len(who) >= 2 and named else None
    match = re.search(r"\b(1[0-4]\d{3})\b", cleaned)
    if match is None or normalise_postcode(match.group(1)) is None:
        return None
    line = cleaned[: match.start()].strip(" ,") or cleaned[match.end():].strip(" ,")
    line = re.sub(r"\s*,?\s*berlin\b", "", line, flags=re.IGNORECASE).strip(" ,")
    line = line.rsplit(":", 1)[-1].strip()
    return f"A:{line}|{match.group(1)}" if len(line) >= 4 else None


# -- the questions ---------------------------------------------------------------------------------
