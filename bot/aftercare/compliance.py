"""Did the driver leave the parcel where the customer asked? A pure comparison of one drop with the
instructions in force, read in English, German or Dutch.

The instructions are read into what they ask for: a neighbour (with a house number or a name, when
given) or a place (back door, garage, mailbox…). The drop is compared with that and with the distance
from the address. Two guarantees hold whatever the instructions say: a drop farther than
`max_distance_m` is never "as asked", and neither is a drop with a different neighbour (or none) when
the instructions ask for one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from bot.conversation.answers import fold
from bot.conversation.choices import NEIGHBOUR
from bot.core.models import DropPlace

Verdict = Literal["as_asked", "differs", "unknown"]
MAX_INSTRUCTIONS = 500

# Most specific first: "back door" before "door", "Hintertür" before "Tür". Matched on folded text.
PLACES: tuple[tuple[DropPlace, re.Pattern[str]], ...] = tuple((place, re.compile(pattern)) for place, pattern in (
    (DropPlace.BACK_DOOR, r"\b(?:back|rear|side|kitchen|garden)\s*(?:door|entrance|gate)|\bbackdoor\b|\bat the back\b|"
                          r"\bround the back\b|\bpatio\b|\bterrace\b|\bbalcony\b|\bgarden\b|\bbackyard\b|"
                          r"\bhinter(?:tur|eingang|hof|m haus|s haus)\b|\bterrasse\b|\bbalkon\b|\bgarten\b|"
                          r"\bachter\s*deur\b|\bachterom\b|\bachter het huis\b|\bterras\b|\bachtertuin\b|\btuin\b"),
    (DropPlace.GARAGE, r"\bgarage\b|\bcarport\b"),
    (DropPlace.SHED, r"\bshed\b|\bschuppen\b|\bgartenhaus\b|\bschuur(?:tje)?\b|\bberging\b"),
    (DropPlace.MAILBOX, r"\b(?:mail|letter|parcel)\s*box\b|\bbriefkasten\b|\bpaket(?:box|kasten)\b|\bbrievenbus\b|"
                        r"\bpakket(?:box|brievenbus)\b"),
    (DropPlace.RECEPTION, r"\breception\b|\bconcierge\b|\bfront desk\b|\bempfang\b|\brezeption\b|\bpforte\b|"
                          r"\breceptie\b|\bbalie\b|\bportier\b"),
    (DropPlace.PORCH, r"\bporch\b|\bveranda\b|\bvordach\b|\bportiek\b"),
    (DropPlace.FRONT_DOOR, r"\bfront\s*door\b|\bdoor\s*step\b|\bdoormat\b|\b(?:at|by|outside) (?:the|my) door\b|"
                           r"\b(?:haus|wohnungs|eingangs)tur\b|\bvor (?:der|die|meiner|meine) tur\b|\bfussmatte\b|"
                           r"\bvoordeur\b|\b(?:bij|voor) de deur\b|\bdeurmat\b"),
    (DropPlace.HANDED_OVER, r"\bin person\b|\bhand (?:it )?(?:to me|over)\b|\bpersonlich\b|\bpersoonlijk\b"),
))
# Places that satisfy a request for another: a porch is at the front door; a parcel handed over in person
# is better than any safe place.
SAME_PLACE: dict[DropPlace, frozenset[DropPlace]] = {
    DropPlace.FRONT_DOOR: frozenset({DropPlace.FRONT_DOOR, DropPlace.PORCH}),
    DropPlace.PORCH: frozenset({DropPlace.PORCH, DropPlace.FRONT_DOOR}),
}
_NUMBER = re.compile(r"(?<!\w)(\d{1,4}[a-z]?)(?!\w)(?!\.?\s*(?:floor|etage|stock|og|obergeschoss|verdieping|"
                     r"hoog|stockwerk)\b)")
# Capitalised words that are not names, in a neighbour instruction.
_NOT_NAMES = frozenset(fold(w) for w in " ".join((
    "leave please pls if i'm im not home can could you it with the my a an at to next door neighbour neighbours",
    "neighbor neighbors number no nr mr mrs ms family delivered left took handed",
    "bitte beim bei dem den der die das nachbar nachbarn nachbarin nebenan gegenüber paket abgeben lassen wenn",
    "ich nicht da zu hause bin familie fam frau herr hausnummer nummer haus tür etage stock og zugestellt",
    "laat het bij de buren buurman buurvrouw hiernaast pakket afgeven graag als ik niet thuis ben familie",
    "mevrouw meneer huisnummer nummer op deur verdieping bezorgd",
)).split())


@dataclass(frozen=True)
class Expected:
    """What the instructions ask for; all empty when they ask nothing comparable."""

    neighbour: bool = False
    numbers: frozenset[str] = frozenset()  # the neighbour's house numbers, when given
    names: frozenset[str] = frozenset()  # the neighbour's names (folded), when given
    place: DropPlace | None = None


@dataclass(frozen=True)
class Comparison:
    verdict: Verdict
    reasons: tuple[str, ...]  # "distance", "neighbour", "place"


def _numbers(text: str) -> frozenset[str]:
    return frozenset(m.group(1) for m in _NUMBER.finditer(fold(text)))


def _names(text: str) -> frozenset[str]:
    words = re.findall(r"[A-ZÄÖÜ][A-Za-zÄÖÜäöüßéèëïçñ'-]+", text)
    return frozenset(fold(w) for w in words if fold(w).strip("'-") not in _NOT_NAMES and len(w) > 1)


def expected(instructions: str | None) -> Expected:
    """The neighbour or place the instructions ask for ("leave it with the neighbour at no. 14",
    "beim Nachbarn Nr. 14", "bij de buren op 14", "back door", "Terrasse", "achterdeur", "in the garage")."""
    text = " ".join((instructions or "").split())[:MAX_INSTRUCTIONS]
    if not text:
        return Expected()
    if NEIGHBOUR.search(text):
        return Expected(neighbour=True, numbers=_numbers(text), names=_names(text))
    folded = fold(text)
    for place, pattern in PLACES:
        if pattern.search(folded):
            return Expected(place=place)
    return Expected()


def drop_from_words(text: str | None) -> tuple[str | None, str | None]:
    """A carrier's words about a drop ("Left with neighbour no. 14", "Delivered at front desk") read as a place
    and a neighbour, for carriers that report the drop only in words."""
    wanted = expected(text)
    if wanted.neighbour:
        who = [f"no. {n}" for n in sorted(wanted.numbers)] + [n.title() for n in sorted(wanted.names)]
        return DropPlace.NEIGHBOUR.value, (", ".join(who) or None)
    return (wanted.place.value if wanted.place else None), None


def same_neighbour(wanted: Expected, neighbour: str) -> bool | None:
    """True when the drop's neighbour is the one asked for, False when it is another, None when we can't tell
    (the instructions name one by number and the driver by name only)."""
    numbers, names = _numbers(neighbour), _names(neighbour)
    if wanted.numbers and numbers:
        return bool(wanted.numbers & numbers)
    if wanted.names and names:
        return bool(wanted.names & names)
    if not wanted.numbers and not wanted.names:
        return True  # "leave it with a neighbour": any neighbour will do
    return None


def compare(instructions: str | None, place: str | None, neighbour: str | None, distance_m: float | None,
            max_distance_m: float) -> Comparison:
    """The drop (place, neighbour, distance from the address) against the instructions in force."""
    reasons: list[str] = []
    if distance_m is not None and distance_m > max_distance_m:
        reasons.append("distance")
    wanted = expected(instructions)
    matched = False
    try:
        dropped = DropPlace(place) if place else None
    except ValueError:
        dropped = DropPlace.OTHER
    if wanted.neighbour:
        same = same_neighbour(wanted, neighbour) if neighbour and neighbour.strip() else False
        if same is False:
            reasons.append("neighbour")
        matched = same is True
    elif wanted.place is not None and dropped is not None:
        if dropped == DropPlace.HANDED_OVER or dropped in SAME_PLACE.get(wanted.place, frozenset({wanted.place})):
            matched = True
        else:
            reasons.append("place")
    if reasons:
        return Comparison("differs", tuple(reasons))
    return Comparison("as_asked" if matched else "unknown", ())
