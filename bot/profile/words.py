"""The profile in words: read a standing wish from a customer's message (en/de/nl), and say a profile back.

`wish_in` turns "always leave my parcels with the neighbour at no. 14", "ich arbeite freitags von zu
Hause", "nooit voor 10 uur" into profile items; it only reads, it never stores. `describe` says items in
the customer's language, for the confirmation question and for "what do you have stored about me?".
"""

from __future__ import annotations

import re
from typing import Any

from babel.dates import get_day_names

from bot.profile.store import WEEK, WISHES, Item, Profile
from bot.text import N_, language_of, t

DAYS: dict[str, str] = {}
for _index, _names in enumerate((
        ("monday", "montag", "maandag"), ("tuesday", "dienstag", "dinsdag"), ("wednesday", "mittwoch", "woensdag"),
        ("thursday", "donnerstag", "donderdag"), ("friday", "freitag", "vrijdag"), ("saturday", "samstag", "zaterdag"),
        ("sunday", "sonntag", "zondag"))):
    for _name in _names:
        DAYS[_name] = WEEK[_index]
DAY = re.compile(r"\b(" + "|".join(DAYS) + r")(s|e|en)?\b", re.IGNORECASE)
HOUR = r"(\d{1,2})(?:[:.](\d{2}))?\s*(am|pm|uhr|uur|h)?"
NOT_BEFORE = re.compile(r"\b(?:never|not|nothing|no deliveries|nie|nicht|niemals|nooit|niet)\s+(?:\w+\s+){0,2}?"
                        r"(?:before|earlier than|vor|voor|eher als|früher als)\s+" + HOUR, re.IGNORECASE)
NOT_AFTER = re.compile(r"\b(?:never|not|nothing|no deliveries|nie|nicht|niemals|nooit|niet)\s+(?:\w+\s+){0,2}?"
                       r"(?:after|later than|nach|na|später als|later dan)\s+" + HOUR, re.IGNORECASE)
NEVER_DAY = re.compile(r"\b(?:never|not|no deliveries|nie|nicht|niemals|nooit|niet|geen)\b[^.,;]*?\b(?:on\s+|am\s+|op\s+)?("
                       + "|".join(DAYS) + r")", re.IGNORECASE)
HOME = re.compile(r"\b(home|work from home|wfh|zu hause|zuhause|daheim|home ?office|thuis)\b", re.IGNORECASE)
NEIGHBOUR = re.compile(r"\b(?:neighbou?rs?|nachbarn?|nachbarin|buren|buurman|buurvrouw|buurt)\b(.*)$",
                       re.IGNORECASE)
SAFE_PLACE = re.compile(r"\b((?:behind|under|in|inside|on|at|by|next to|beside|hinter|unter|neben|vor|im|in der|auf|"
                        r"achter|onder|naast|bij|voor|op)\s+(?:the|my|our|die|der|dem|den|meine[mnr]?|de|het|mijn|"
                        r"onze)?\s*(?:green |back |front |blue |red )?(?:gate|porch|garage|shed|door|back ?door|"
                        r"terrace|balcony|garden|bin|box|mailbox|letterbox|doormat|mat|tor|gartentor|veranda|"
                        r"schuppen|tür|haustür|hintertür|terrasse|balkon|garten|mülltonne|briefkasten|fußmatte|"
                        r"poort|schuur|deur|achterdeur|voordeur|tuin|brievenbus|container|deurmat)\b.*)$",
                        re.IGNORECASE)
LOCKER_WORDS = re.compile(r"\b(locker|lockers|parcel ?box|packstation|paketstation|schließfach|paketbox|"
                          r"pakketautomaat|pakketkluis|kluis|automaat)\b", re.IGNORECASE)
ACCESS = re.compile(r"\b(hard of hearing|deaf|wheelchair|ring (?:twice|two times|loudly|long)|knock|extra time|more "
                    r"time|get to the door|slow|walking frame|crutches|blind|schwerhörig|taub|rollstuhl|"
                    r"(?:zweimal|zwei ?mal|lange) klingeln|klopfen|mehr zeit|länger|zur tür|rollator|krücken|"
                    r"slechthorend|doof|rolstoel|(?:twee keer|lang) (?:aan)?bellen|kloppen|meer tijd|langer|"
                    r"naar de deur|rollator|krukken|slecht ter been)\b", re.IGNORECASE)
NEEDS_TIME = re.compile(r"\b(extra time|more time|get to the door|slow|wheelchair|walking frame|crutches|mehr zeit|"
                        r"länger|zur tür|rollstuhl|rollator|krücken|meer tijd|langer|naar de deur|rolstoel|krukken|"
                        r"slecht ter been)\b", re.IGNORECASE)
LEAD = re.compile(r"^(?:at|in|on|by|with|the|bei|bij|von|van|de|der|die|dem|den|het|op|mit|met|im)\s+", re.IGNORECASE)
TRAIL = re.compile(r"\s+(?:abgeben|abstellen|abliefern|lassen|hinterlegen|geben|neerzetten|afgeven|achterlaten|"
                   r"bezorgen|leggen|zetten|leave|please|bitte|graag|thanks)$", re.IGNORECASE)
FILLER = re.compile(r"\b(please|pls|bitte|alsjeblieft|graag|from now on|ab jetzt|ab sofort|künftig|in zukunft|"
                    r"voortaan|vanaf nu|in de toekomst|always|immer|altijd|all my parcels|every parcel|alle meine "
                    r"pakete|al mijn pakketten|elk pakket|thanks?|danke|bedankt)\b[.!,]*", re.IGNORECASE)
DEFAULT_DOOR_MINUTES = 5


def _minutes(hour: str, minute: str | None, suffix: str | None) -> int | None:
    h, m = int(hour), int(minute or 0)
    if suffix and suffix.lower() == "pm" and h < 12:
        h += 12
    if suffix and suffix.lower() == "am" and h == 12:
        h = 0
    return h * 60 + m if 0 <= h < 24 and 0 <= m < 60 else None


def _tail(match: str) -> str:
    text = FILLER.sub("", match).strip(" .,!;:")
    while LEAD.match(text):
        text = LEAD.sub("", text, count=1)
    while TRAIL.search(text):
        text = TRAIL.sub("", text).strip(" .,!;:")
    return " ".join(text.split())


def wish_in(text: str, lockers: dict[str, str] | None = None, language: str | None = None) -> dict[str, Any]:
    """Profile items found in the message ({item: value}); `lockers` maps locker codes to names.

    A locker word without one locker's name gives `{locker: None}`: the caller asks which."""
    found: dict[str, Any] = {}
    lowered = text.lower()
    if (match := NOT_BEFORE.search(text)) and (at := _minutes(match.group(1), match.group(2), match.group(3))) is not None:
        found[Item.NOT_BEFORE] = at
    if (match := NOT_AFTER.search(text)) and (at := _minutes(match.group(1), match.group(2), match.group(3))) is not None:
        found[Item.NOT_AFTER] = at
    never = sorted({DAYS[m.group(1).lower()] for m in NEVER_DAY.finditer(text)}, key=WEEK.index)
    if never:
        found[Item.NEVER_DAYS] = never
    days = sorted({DAYS[m.group(1).lower()] for m in DAY.finditer(text)} - set(never), key=WEEK.index)
    if days and HOME.search(text):
        found[Item.SUIT_DAYS] = days
    if LOCKER_WORDS.search(text):
        named = [code for code, name in (lockers or {}).items() if name.lower() in lowered or code.lower() in lowered]
        found[Item.LOCKER] = named[0] if len(named) == 1 else None  # None: which locker? (asked)
    if (match := NEIGHBOUR.search(text)) is not None:
        who = _tail(match.group(1))
        found[Item.NEIGHBOUR] = who if len(who) >= 2 else t(language, "any neighbour")
    elif (match := SAFE_PLACE.search(text)) is not None and Item.LOCKER not in found:
        found[Item.SAFE_PLACE] = _tail(match.group(1)) or match.group(1).strip()
    if ACCESS.search(text):
        found[Item.ACCESSIBILITY] = " ".join(FILLER.sub("", text).split()).strip(" .,!;:")[:200]
        if NEEDS_TIME.search(text):
            found[Item.DOOR_MINUTES] = DEFAULT_DOOR_MINUTES
    return found


def _days(language: str, days: list[str] | tuple[str, ...]) -> str:
    names = get_day_names("wide", locale=language)
    return ", ".join(names[WEEK.index(day)] for day in days)


def _time(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


SAYS: dict[Item, str] = {
    Item.SAFE_PLACE: N_("leave parcels at your safe place \"{value}\""),
    Item.NEIGHBOUR: N_("leave parcels with the neighbour \"{value}\" if you're out"),
    Item.SUIT_DAYS: N_("deliver on {value} where possible"),
    Item.NEVER_DAYS: N_("never deliver on {value}"),
    Item.NOT_BEFORE: N_("never before {value}"),
    Item.NOT_AFTER: N_("never after {value}"),
    Item.LOCKER: N_("send every parcel to the locker {value}"),
    Item.ACCESSIBILITY: N_("tell the driver: \"{value}\""),
    Item.DOOR_MINUTES: N_("give you {value} extra minutes at the door"),
    Item.LANGUAGE: N_("write to you in {value}"),
    Item.CHANNELS: N_("send messages by {value}"),
    Item.QUIET_HOURS: N_("no messages between {value}"),
}
LANGUAGE_NAMES = {"en": N_("English"), "de": N_("German"), "nl": N_("Dutch")}
CHANNEL_NAMES = {"sms": N_("text message"), "email": N_("email")}


def say_item(language: str | None, item: Item, value: Any, lockers: dict[str, str] | None = None) -> str:
    """One item in the customer's language ("never before 10:00")."""
    lang = language_of(language)
    if item in (Item.SUIT_DAYS, Item.NEVER_DAYS):
        shown = _days(lang, value)
    elif item in (Item.NOT_BEFORE, Item.NOT_AFTER):
        shown = _time(int(value))
    elif item == Item.LOCKER:
        shown = (lockers or {}).get(value, value)
    elif item == Item.LANGUAGE:
        shown = t(lang, LANGUAGE_NAMES.get(value, value))
    elif item == Item.CHANNELS:
        shown = " / ".join(t(lang, CHANNEL_NAMES.get(c, c)) for c in value)
    elif item == Item.QUIET_HOURS:
        shown = f"{int(value[0]):02d}:00–{int(value[1]):02d}:00"
    else:
        shown = str(value)
    return t(lang, SAYS[item], value=shown)


def describe(language: str | None, items: dict[str, Any], lockers: dict[str, str] | None = None) -> str:
    """Several items, joined: "leave parcels with the neighbour "no. 14" if you're out; never before 10:00"."""
    return "; ".join(say_item(language, Item(item), value, lockers) for item, value in items.items()
                     if value not in (None, [], 0, ""))


def stored(profile: Profile) -> dict[str, Any]:
    """The wishes a profile holds, as items (empty ones left out)."""
    return {item.value: profile.value(item) for item in WISHES if profile.value(item)}
