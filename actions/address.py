"""A neighbour if the customer is out ("Meyer, no 14"), or a new address with its postcode.

The slot `address_text` holds the parsed answer: "N:<the customer's words about the neighbour>" or
"A:<address line>|<postcode>" (see `bot.conversation.choices.parse_address_answer`); only this module reads it.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import texts
from actions.change_common import MAX_TEXT, Answers, AskAfterCheck, prefilled
from actions.context import Context, Parcel
from actions.language import reply_language
from bot.changes import AddressRequest, Asker, NeighbourRequest
from bot.conversation.answers import NO_PREFIX, is_no
from bot.conversation.choices import parse_address_answer
from bot.text import t

SLOTS = ["address_text"]
NAME_OR_NUMBER = re.compile(r"\d|\b[A-ZÄÖÜ][a-zäöüß]+")


class AskAddress(AskAfterCheck):
    slot, text = "address_text", texts.ASK_ADDRESS


class AddressAnswers(Answers):
    async def validate_address_text(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> dict[str, Any]:
        if early := await self._before_answer(dispatcher, tracker, "address_text"):
            return early
        parsed = parse_address_answer(str(value or ""))
        if parsed is None and prefilled(tracker):
            return {"address_text": None}
        text = " ".join(str(value or "").split())[:MAX_TEXT]
        if parsed is None and NAME_OR_NUMBER.search(text) and not re.search(r"\b1[0-4]\d{3}\b", text):
            parsed = f"N:{text}"  # answering "who?" with "Meyer, no 14": a neighbour
        if parsed is None:
            dispatcher.utter_message(text=t(reply_language(tracker), "Send a neighbour's name and house number "
                                            "(e.g. \"neighbour Meyer at no. 12\"), or a new address with its postcode."))
        return {"address_text": parsed}


def correction(text: str, tracker: Tracker) -> dict[str, Any] | None:
    """Another neighbour or address given at the confirmation."""
    cleaned = NO_PREFIX.sub("", text)
    parsed = parse_address_answer(cleaned)
    if parsed is None and NAME_OR_NUMBER.search(cleaned) and not is_no(text):
        parsed = f"N:{text.strip()}"  # the neighbour's details, given at the confirmation
    return {"address_text": parsed} if parsed and parsed != tracker.get_slot("address_text") else None


def _parts(value: str) -> tuple[str, str | None]:
    """("the neighbour note", None) or ("address line", "postcode")."""
    if value.startswith("N:"):
        return value[2:], None
    line, postcode = value[2:].split("|")
    return line, postcode


def describe(tracker: Tracker, ctx: Context, parcel: Parcel, lang: str) -> str:
    text, postcode = _parts(str(tracker.get_slot("address_text")))
    if postcode is None:
        return t(lang, "Leave parcel …{ref} with a neighbour if you're out (your note: \"{note}\")", ref=parcel.short,
                 note=text)
    return t(lang, "Deliver parcel …{ref} to {line}, {postcode}", ref=parcel.short, line=text, postcode=postcode)


def request(slots: dict[str, Any], who: Asker) -> NeighbourRequest | AddressRequest:
    text, postcode = _parts(str(slots["address_text"]))
    if postcode is None:
        return NeighbourRequest(**asdict(who), neighbour=text)
    return AddressRequest(**asdict(who), address_line=text, postcode=postcode)
