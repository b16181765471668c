"""Understanding a customer's answer or pick in their own words, in English, German or Dutch (customers mix):
"2", "the second one", "die zweite", "saturday morning", "Samstagvormittag", "tmrw after 5", "morgen na vijven",
"no, sunday". Pure functions over the options the carrier offered."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.carriers.models import TimeWindow
from bot.conversation.answers import fold, is_yes
from bot.conversation.identity import normalise_postcode

ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
            "fifth": 5, "5th": 5, "sixth": 6, "6th": 6,
            # German (any ending: "die zweite", "den zweiten", "das erste")
            **{f"{stem}{end}": n for n, stem in enumerate(("erst", "zweit", "dritt", "viert", "funft", "sechst"), 1)
               for end in ("e", "en", "er", "es")},
            # Dutch ("de tweede", "2e", "2de")
            "eerste": 1, "tweede": 2, "derde": 3, "vierde": 4, "vijfde": 5, "zesde": 6,
            **{f"{n}{end}": n for n in range(1, 7) for end in ("e", "de", "ste")}}
LAST = {"last", "letzte", "letzten", "letzter", "letztes", "laatste"}
PICK_FILLER = {"the", "one", "option", "please", "pls", "plz", "die", "der", "das", "den", "bitte", "nehme", "ich",
               "de", "het", "doe", "maar", "graag", "neem", "ik", "ok", "okay", "oke", "dann", "dan", "then"}
WEEKDAY_NAMES = {
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6,
    "montag": 0, "dienstag": 1, "mittwoch": 2, "donnerstag": 3, "freitag": 4, "samstag": 5, "sonnabend": 5,
    "sonntag": 6, "maandag": 0, "dinsdag": 1, "woensdag": 2, "donderdag": 3, "vrijdag": 4, "zaterdag": 5,
    "zondag": 6, "weekend": 5, "wochenende": 5, "weekeinde": 5,
}
WEEKDAYS = {**WEEKDAY_NAMES, "mon": 0, "tue": 1, "tues": 1, "wed": 2, "weds": 2, "thu": 3, "thur": 3, "thurs": 3,
            "fri": 4, "sat": 5, "sun": 6,
            # unambiguous abbreviations ("do", "so", "zo", "wo", "ma" are also ordinary words: only as "do.")
            "mo": 0, "di": 1, "mi": 2, "fr": 4, "sa": 5, "vr": 4, "za": 5, "vrydag": 4}
DOTTED_WEEKDAYS = {"do.": 3, "so.": 6, "zo.": 6, "wo.": 2, "ma.": 0}
TOMORROW = {"tomorrow", "tmrw", "tmr", "tmw", "tomoz", "2moro", "2morrow", "tommorow", "tomorow", "tmrow", "tomorro",
            "morgen", "morgn", "morge"}
DAY_AFTER = {"ubermorgen", "uebermorgen", "overmorgen"}
TODAY = {"today", "tonight", "heute", "heut", "vandaag", "vanavond", "vanmiddag", "vanochtend", "vanmorgen"}
MONTH_NAMES = {
    **{m: i for i, m in enumerate(["january", "february", "march", "april", "may", "june", "july", "august",
                                   "september", "october", "november", "december"], start=1)},
    **{m: i for i, m in enumerate(["januar", "februar", "marz", "april", "mai", "juni", "juli", "august",
                                   "september", "oktober", "november", "dezember"], start=1)},
    **{m: i for i, m in enumerate(["januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
                                   "september", "oktober", "november", "december"], start=1)},
    "maerz": 3, "jaenner": 1, "mrt": 3, "sept": 9,
}
MONTHS = {**{name[:3]: number for name, number in MONTH_NAMES.items()}, **MONTH_NAMES}
MORNING, MIDDAY, AFTERNOON, EVENING = (time(0), time(12)), (time(11), time(14)), (time(12), time(17)), (time(17), time(23, 59))
PARTS = {
    "morning": MORNING, "midday": MIDDAY, "lunchtime": MIDDAY, "afternoon": AFTERNOON, "evening": EVENING,
    "tonight": EVENING,
    "morgens": MORNING, "fruh": MORNING, "frueh": MORNING, "vormittag": MORNING, "vormittags": MORNING,
    "mittag": MIDDAY, "mittags": MIDDAY, "mittagszeit": MIDDAY, "nachmittag": AFTERNOON, "nachmittags": AFTERNOON,
    "abend": EVENING, "abends": EVENING,
    "ochtend": MORNING, "ochtends": MORNING, "voormiddag": MORNING, "lunchtijd": MIDDAY, "middag": AFTERNOON,
    "middags": AFTERNOON, "namiddag": AFTERNOON, "avond": EVENING, "avonds": EVENING,
    "vanavond": EVENING, "vanmiddag": AFTERNOON, "vanochtend": MORNING, "vanmorgen": MORNING,
    "nachm": AFTERNOON, "vroeg": MORNING,  # "Fr nachm.", "morgen vroeg", "morgenvroeg"
}
# "next week" ("nächste Woche Freitag", "volgende week dinsdag"): a day of the coming Monday-to-Sunday week
NEXT_WEEK = re.compile(r"\b(?:next week|(?:nachste|naechste|kommende) woche|(?:volgende|komende) week)\b")
# A clause that turns a day down ("bin morgen nicht da", "can't do tomorrow", "ik ben er zaterdag niet"); "nicht
# vor 10", "niet later dan 5" are limits, not refusals. Clauses end at punctuation and at "but", "aber", "maar", ...
TURNED_DOWN = re.compile(r"(?:\b(?:nicht|nich|niet|not|cant|cannot|wont|geen|keine?|kein)\b|n't\b)"
                         r"(?!\s+(?:vor|nach|voor|na|before|after|fruher|spater|eerder|later|als|than)\b)")
CLAUSE = re.compile(r"[,;!?]|\b(?:aber|but|maar|sondern|dafur|lieber|liever|rather|instead|besser|beter|better|"
                    r"also|dus|dann|then)\b")
# When work ends: "nach Feierabend", "na het werk", "after work" mean after five
AFTER_WORK = re.compile(r"\b(?:after work|nach (?:der|dem) (?:arbeit|job)|nach (?:dem )?feierabend|"
                        r"na (?:het|mijn) werk|na werktijd)\b")
# "morgen" after a day is its morning ("Samstag Morgen", "heute morgen", "zaterdagmorgen"), else tomorrow
MORNING_WORD = "morgen"
# Hours in words, after a preposition ("after five", "nach fünf", "na vijven": the Dutch "-en" form is the usual one)
HOUR_WORDS = {
    **{w: n for n, w in enumerate(["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                                   "eleven", "twelve"], start=1) if w != "one"},  # "at one point"
    **{w: n for n, w in enumerate(["eins", "zwei", "drei", "vier", "funf", "sechs", "sieben", "acht", "neun",
                                   "zehn", "elf", "zwolf"], start=1)},
    **{w: n for n, w in enumerate(["enen", "tweeen", "drieen", "vieren", "vijven", "zessen", "zevenen", "achten",
                                   "negenen", "tienen", "elven", "twaalven"], start=1)},
    **{w: n for n, w in enumerate(["een", "twee", "drie", "vier", "vijf", "zes", "zeven", "acht", "negen", "tien",
                                   "elf", "twaalf"], start=1) if w != "een"},  # "na een uur" is "in an hour"
    "fuenf": 5, "zwoelf": 12,
}
AFTER = r"after|from|not before|any ?time after|after about|nach|ab|von|nicht vor|nicht fruher als|fruhestens(?: um)?|" \
        r"na|vanaf|van|niet voor|niet eerder dan|pas na"
BEFORE = r"before|by|until|till|not after|vor|bis|spatestens(?: um)?|nicht nach|nicht spater als|voor|tot|uiterlijk(?: om)?|" \
         r"niet na|niet later dan"
AT = r"at|around|about|@|um|gegen|ca\.?|circa|so gegen|om|rond|omstreeks|tegen"
AND = r"and|to|-|till|until|und|bis|en|tot"
NEGATED = r"(?<!not )(?<!nicht )(?<!niet )"
MERIDIEM = r"(am(?!\s+(?:[a-z]*(?:tag|ende|abend|morgen|mittag)|mittwoch)\b|\s+\d)|pm)"
CLOCK = r"(\d{1,2}(?::\d{2})?)\s*" + MERIDIEM + r"?(?:\s*(?:uhr|uur|u|h|o'?\s?clock)\b)?"


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
    """1-based option from "2", "option 2", "#2", "the second one", "last one", "die zweite", "nr 2", "de laatste";
    None if not a pick."""
    t = fold(text).strip()
    match = re.fullmatch(r"(?:(?:the|die|das|der|den|de|het)\s+)?(?:option|optie|number|nummer|no\.?|nr\.?|#)?\s*([1-9])"
                         r"\s*[.)!]?(?:\s*(?:pl(?:ea)?se?|plz|bitte|graag|aub|alsjeblieft|danke|thanks?))?[.!]?", t)
    if match:
        n = int(match.group(1))
        return n if n <= count else None
    words = re.findall(r"[a-z0-9]+", t)
    if len(words) <= 4 or len([w for w in words if w not in PICK_FILLER]) <= 2:
        for word in words:
            if word in ORDINALS and ORDINALS[word] <= count:
                return ORDINALS[word]
        if LAST & set(words) and count:
            return count
    return None


THE_OTHER = re.compile(r"\b(?:other|andere[nmrs]?|ander)\b")


def picks_the_only_option(text: str) -> bool:
    """With one option left, "yes", "ok then that one", "die andere", "de andere" take it."""
    return is_yes(text) or THE_OTHER.search(fold(text)) is not None


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


def _month(word: str) -> int | None:
    """"dec", "Dezember", "mrt", "decemb" -> the month; None for other words ("maal", "mal")."""
    word = word.rstrip(".")
    if word in MONTHS:
        return MONTHS[word]
    return next((n for name, n in MONTH_NAMES.items() if len(word) >= 4 and name.startswith(word)), None)


def _weekday(word: str) -> int | None:
    """The weekday a word names, also misspelt ("dinstag", "thrusday", "zaterdg") or plural ("samstags")."""
    if word in WEEKDAYS:
        return WEEKDAYS[word]
    if len(word) >= 6 and word.isalpha():
        close = difflib.get_close_matches(word, WEEKDAY_NAMES, n=1, cutoff=0.86)
        return WEEKDAY_NAMES[close[0]] if close else None
    return None


def _is_day_word(word: str) -> bool:
    return word in TOMORROW or word in TODAY or word in DAY_AFTER or _weekday(word) is not None


def _words(t: str) -> list[str]:
    """The words of a folded text, compounds split: "samstagvormittag" -> "samstag", "vormittag";
    "zaterdagochtend", "morgenavond", "heuteabend" likewise."""
    words: list[str] = []
    for raw in t.split():
        word = raw if raw in DOTTED_WEEKDAYS else raw.strip(".,:/-'")
        if word in PARTS or _is_day_word(word) or word in DOTTED_WEEKDAYS:
            words.append(word)
            continue
        for cut in range(2, len(word) - 3):
            left, right = word[:cut], word[cut:]
            if (right in PARTS or right == MORNING_WORD) and _is_day_word(left):
                words += [left, right]
                break
        else:
            words.append(word)
    return words


def _prepare(text: str) -> str:
    """Folded, greetings out, hour words and "17.30 Uhr" as digits, so that one set of patterns reads all three."""
    t = fold(text)
    t = re.sub(r"\b(?:guten|goede|good|goeie)\s*morgen\b|\bgoedemorgen\b|\bgood morning\b|\bmoin\b", " ", t)
    t = re.sub(r"\btussen de middag\b", " lunchtijd ", t)
    t = AFTER_WORK.sub(" after 17:00 ", t)
    t = re.sub(r"\b(?:voor de middag|vor dem mittag(?:essen)?)\b", " ochtend ", t)  # before noon: the morning
    t = re.sub(r"\b(?:na de middag|nach dem mittag(?:essen)?)\b", " namiddag ", t)
    t = re.sub(r"\bhalb\s+(\d{1,2})\b", lambda m: f"{int(m.group(1)) - 1 or 12}:30 uhr", t)  # "halb 6" is 5:30
    hour_words = "|".join(sorted(HOUR_WORDS, key=len, reverse=True))
    t = re.sub(rf"\b({AFTER}|{BEFORE}|{AT}|between|zwischen|tussen|{AND})\s+({hour_words})\b",
               lambda m: f"{m.group(1)} {HOUR_WORDS[m.group(2)]}", t)
    t = re.sub(rf"\b({hour_words})\s+(uhr|uur|o'?\s?clock)\b", lambda m: f"{HOUR_WORDS[m.group(1)]} {m.group(2)}", t)
    t = re.sub(r"\b(\d{1,2})\.(\d{2})(?=\s*(?:uhr|uur|u|h)\b)", r"\1:\2", t)
    t = re.sub(rf"\b({AFTER}|{BEFORE}|{AT})\s+(\d{{1,2}})\.(\d{{2}})\b", r"\1 \2:\3", t)
    return " " + re.sub(r"[^a-z0-9:/.\-'@ ]", " ", t) + " "


def _clock(match: re.Match[str], first: int = 1) -> time | None:
    return _hour(match.group(first), match.group(first + 1))


def parse_when(text: str, now: datetime, tz: str) -> WhenRequest:
    """The day and time a free-text answer names, in English, German or Dutch ("tmrw after 5",
    "morgen nach 17 Uhr", "zaterdagochtend", "tussen 2 en 4", "am 12.", "12 december", "vanavond")."""
    zone = ZoneInfo(tz)
    today = now.astimezone(zone).date()
    t = _prepare(text)
    request = WhenRequest()
    # "bin morgen nicht da, geht Freitag?", "not home tomorrow": a day turned down is not the day wanted
    clauses = [_prepare(clause) for clause in CLAUSE.split(fold(text))]
    words = _words(" ".join(c for c in clauses if not TURNED_DOWN.search(c)))
    previous = ""
    for word in words:
        if word == MORNING_WORD and (_is_day_word(previous) or previous in ("am", "den", "in", "de", "s", "this")):
            request.not_before, request.not_after = MORNING  # "Samstag Morgen", "heute morgen"
        elif word in TOMORROW:
            request.days.add(today + timedelta(days=1))
        if word in TODAY:
            request.days.add(today)
        weekday = DOTTED_WEEKDAYS.get(word, _weekday(word))
        if weekday is not None:
            request.weekday = weekday
        if word in PARTS:
            request.not_before, request.not_after = PARTS[word]
        previous = word
    if set(words) & DAY_AFTER or "day after tomorrow" in t:
        request.days = {today + timedelta(days=2)}
    _dates(request, t, today)
    if not request.days and NEXT_WEEK.search(t):
        monday = today + timedelta(days=7 - today.weekday())
        request.days = {monday + timedelta(days=n) for n in range(7)}
    _times(request, t)
    if "noon" in words and request.not_after is None:
        request.not_after = time(12)
    refused_days, refused_weekdays = _turned_down(clauses, today)
    request.days -= refused_days
    if request.weekday in refused_weekdays:
        request.weekday = None
    return request


def _turned_down(clauses: list[str], today: date) -> tuple[set[date], set[int]]:
    """The days and weekdays named in clauses that say no to them ("morgen passt nicht", "ik ben er zaterdag niet")."""
    days: set[date] = set()
    weekdays: set[int] = set()
    for clause in clauses:
        if not TURNED_DOWN.search(clause):
            continue
        for word in _words(clause):
            if word in TOMORROW:
                days.add(today + timedelta(days=1))
            elif word in TODAY:
                days.add(today)
            elif word in DAY_AFTER:
                days.add(today + timedelta(days=2))
            elif (weekday := DOTTED_WEEKDAYS.get(word, _weekday(word))) is not None:
                weekdays.add(weekday)
    return days, weekdays


def _dates(request: WhenRequest, t: str, today: date) -> None:
    found: set[date] = set()
    for day, month in re.findall(r"\b(\d{1,2})[./](\d{1,2})\b", t):
        _add_date(found, today, int(day), int(month))
    for day, word in re.findall(r"\b(\d{1,2})(?:st|nd|rd|th|e|de|ste|ten)?\.?\s+(?:of\s+)?([a-z]+\.?)", t):
        if (month := _month(word)) is not None:
            _add_date(found, today, int(day), month)
    not_a_time = r"(?![:\d]|\.\d|\s*(?:uhr|uur|u|h|am|pm)\b)"
    for word, day in re.findall(rf"\b([a-z]{{3,}}\.?)\s+(\d{{1,2}})(?:st|nd|rd|th|e|de|ste)?\b{not_a_time}", t):
        if (month := _month(word)) is not None:
            _add_date(found, today, int(day), month)
    if not found:  # "the 12th", "am 12.", "op de 12e": this month's, or next month's when it has passed
        for day in re.findall(r"\b(?:the|am|den|dem|vom|zum|op de|de)\s+(\d{1,2})(?:st|nd|rd|th|e|de|ste|\.)(?![\d:])", t):
            month = today.month if int(day) >= today.day else today.month % 12 + 1
            _add_date(found, today, int(day), month)
    request.days |= found


def _times(request: WhenRequest, t: str) -> None:
    between = re.search(rf"\b(?:between|from|zwischen|von|tussen|van)\s+{CLOCK}\s*(?:{AND})\s*{CLOCK}", t) or \
        re.search(r"(?<![\d.:/])(\d{1,2}(?::\d{2})?)()\s*-\s*(\d{1,2}(?::\d{2})?)()\s*(?:uhr|uur|u|h)\b", t)
    if between:
        request.not_before = _hour(between.group(1), between.group(2) or between.group(4) or None)
        request.not_after = _hour(between.group(3), between.group(4) or None)
        return
    after = re.search(rf"\b{NEGATED}(?:{AFTER})\s+{CLOCK}", t)
    before = re.search(rf"\b{NEGATED}(?:{BEFORE})\s+{CLOCK}", t)
    if after:
        request.not_before = _clock(after)
    if before:
        request.not_after = _clock(before)
    if not after and not before:
        at = re.search(rf"\b(?:{AT})\s+{CLOCK}", t) or re.search(r"\b(\d{1,2}(?::\d{2})?)\s*(am|pm)\b", t) or \
            re.search(r"\b(\d{1,2}(?::\d{2})?)()\s*(?:uhr|uur|u|h|o'?\s?clock)\b", t)
        if at:
            request.around = _hour(at.group(1), at.group(2) or None)


def _add_date(found: set[date], today: date, day: int, month: int) -> None:
    try:
        candidate = date(today.year, month, day)
    except ValueError:
        return
    if candidate < today:
        candidate = candidate.replace(year=today.year + 1)
    found.add(candidate)


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
    """0-based index of the option whose name the text mentions ("the alexanderplatz one", "die am Hermannplatz")."""
    t = re.sub(r"[^a-z0-9 ]", " ", fold(text))
    for index, name in enumerate(names):
        key = fold(name)
        if key in t or key.split()[0] in t.split():
            return index
    return None





INSTRUCTION_WORDS = re.compile(
    r"\b(door|back|front|side|porch|garage|garden|bins?|shed|code|reception|concierge|mailbox|letterbox|"
    r"gate|floor|stairs|behind|bell|buzzer|ring|knock|doorstep|step|balcony|terrace|under|next to|inside|outside)\b"
    # German: compounds end in the word ("Haustür", "Hintertür", "Briefkasten", "Mülltonne", "Gartenhaus")
    r"|\w*t(?:ür|uer)\b|\b(?:haus|hinter|vorder|keller|wohnungs|eingangs|garten|terrassen|balkon)?tur\b"
    r"|\b(?:garten|hof|einfahrts?)?tor\b"
    r"|\bgarten\w*|\bterrasse\b|\w*kasten\b|\w*tonne\b|\bklingel\w*|\bcode\b|\betage\b|\bstock(?:werk)?\b"
    r"|\b(?:hinter|innen)?hof\b|\bhinter(?:m|s| dem)?\b|\bkeller\b|\btreppe\w*|\bbalkon\b|\bschuppen\b"
    r"|\bneben\b|\bunter\b|\bvor der\b|\bdrau(?:ß|ss)en\b|\bdrinnen\b|\babstell\w*|\bcarport\b|\bpaketbox\b"
    # Dutch
    r"|\w*deur\b|\bschuur(?:tje)?\b|\btuin\w*|\bbrievenbus\b|\b(?:aan)?bell?(?:en)?\b|\bverdieping\b|\bachterom\b"
    r"|\bachter\b|\bnaast\b|\bonder\b|\bbinnen\b|\bbuiten\b|\bportiek\b|\bpoort\b|\bstoep\b|\bberging\b"
    r"|\bkliko\b|\bcontainer\b|\bvuilnisbak\b|\btrap\b|\bterras\b|\bpakketbox\b",
    re.IGNORECASE)


MAX_ANSWER = 300
NEIGHBOUR = re.compile(r"\b(neighbou?rs?|next door|nxt door|nachbar(?:n|in|s)?|nebenan|gegen(?:ü|ue|u)ber|buren|"
                       r"buurman|buurvrouw|buurtjes|buurjongen|buurmeisje|hiernaast|overbuurman|overbuurvrouw|"
                       r"overburen)\b", re.IGNORECASE)
_FILLER = r"\b(pls|please|can|could|would|you|u|leave|give|drop|it|with|to|my|the|a|neighbou?rs?|next|door|" \
          r"nxt|instead|deliver|parcel|package|if|i'?m|im|not|home|out|at|is|them|her|him|thx|thanks|" \
          r"bitte|beim?|zum|zur|dem|den|der|die|das|an|abgeben|geben|lassen|nachbar(?:n|in|s)?|nebenan|" \
          r"gegen(?:ü|ue|u)ber|familie|fam|frau|herr|ich|bin|nicht|zu|hause|zuhause|da|wenn|es|paket|dann|danke|" \
          r"bij|de|het|op|aan|afgeven|geven|laten|buren|buurman|buurvrouw|buurtjes|hiernaast|overbuurman|" \
          r"overbuurvrouw|overburen|familie|mevrouw|meneer|ik|ben|niet|thuis|als|pakket|dan|graag|dank|je|" \
          r"nummer|huisnummer|hausnummer|nr|no)\b"
_NEW_ADDRESS = re.compile(r"^\s*(?:(?:my|the|a|meine|die|eine|mijn|het|een)\s+)?(?:new\s+address|neue\s+adresse|"
                          r"nieuwe?\s+adres|address|adresse|adres)\b\s*(?:is|ist|:)?\s*|^\s*(?:to|an|naar|nach)\s+",
                          re.IGNORECASE)


def parse_address_answer(text: str) -> str | None:
    """"neighbour meyer no 12" / "beim Nachbarn Meyer Nr. 12" / "buurvrouw Jansen, huisnummer 8" -> "N:<the text>";
    "Oranienstr 5, 10999" -> "A:Oranienstr 5|10999"."""
    cleaned = " ".join(text.split())[:MAX_ANSWER]
    if NEIGHBOUR.search(cleaned) and not re.search(r"\b1[0-4]\d{3}\b", cleaned):
        who = re.sub(r"\s+", " ", re.sub(_FILLER, " ", cleaned, flags=re.IGNORECASE)).strip(" ,.?!")
        first = cleaned.split()[0]
        named = re.search(r"\d", who) or any(re.fullmatch(r"[A-ZÄÖÜ][a-zäöüß]+\W*", w) and w != first for w in who.split())
        return f"N:{cleaned}" if len(who) >= 2 and named else None
    match = re.search(r"\b(1[0-4]\d{3})\b", cleaned)
    if match is None or normalise_postcode(match.group(1)) is None:
        return None
    line = cleaned[: match.start()].strip(" ,") or cleaned[match.end():].strip(" ,")
    line = re.sub(r"\s*,?\s*berlin\b", "", line, flags=re.IGNORECASE).strip(" ,")
    line = _NEW_ADDRESS.sub("", line.rsplit(":", 1)[-1]).strip()
    return f"A:{line}|{match.group(1)}" if len(line) >= 4 else None


# -- the questions ---------------------------------------------------------------------------------
