"""A note for the driver: what it says, telling a note from chatter, a corrected note at the confirmation."""

from __future__ import annotations

import re
from dataclasses import asdict
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import texts
from actions.change_common import CONFIDENT, MAX_TEXT, Answers, AskAfterCheck, prefilled
from actions.context import Context, Parcel
from actions.language import reply_language
from bot.changes import Asker, InstructionsRequest
from bot.conversation.answers import NO_PREFIX
from bot.conversation.choices import INSTRUCTION_WORDS
from bot.text import t

SLOTS = ["instructions_text"]

# Words of a note for the driver beyond the place words: who to ring, a pet, a parcel box, a time.
NOTE_WORDS = re.compile(r"\b(neighbou?rs?|leave|ring|call|text|knock|wait|dog|cat|box|flat|apartment|house|"
                        r"hall|lobby|entrance|porch|parcel|package|careful|fragile|heavy|home|door\w*)\b|\d",
                        re.IGNORECASE)
CHATTER = re.compile(r"\?\s*$|\b(lol|haha\w*|hehe|weather|joke|football|pizza|bored|hello|hi|hey|how are you|"
                     r"who are you|what are you|thanks?|thank you|bye|ok|okay|cool|nice)\b", re.IGNORECASE)
CHATTY_INTENTS = {"out_of_scope", "greet", "goodbye", "thank", "bot_challenge", "affirm"}


def off_topic_answer(tracker: Tracker, text: str) -> bool:
    """An answer to "what should the driver know?" that is no note: NLU says out of scope (or small talk)
    with confidence, or it names no place, door or code and reads like chatter."""
    intent = tracker.latest_message.get("intent") or {}
    confident = float(intent.get("confidence") or 0) >= CONFIDENT
    if intent.get("name") == "out_of_scope" and confident:
        return True
    if INSTRUCTION_WORDS.search(text) or NOTE_WORDS.search(text):
        return False
    return bool(CHATTER.search(text)) or (intent.get("name") in CHATTY_INTENTS and confident)


class AskInstructions(AskAfterCheck):
    slot, text = "instructions_text", texts.ASK_INSTRUCTIONS


class InstructionsAnswers(Answers):
    async def validate_instructions_text(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                         domain: DomainDict) -> dict[str, Any]:
        if early := await self._before_answer(dispatcher, tracker, "instructions_text"):
            return early
        text = " ".join(str(value or "").split())
        asks = any(word in text.lower() for word in ("instruction", "anweisung", "hinweis", "instructie", "aanwijzing"))
        if prefilled(tracker) and (not INSTRUCTION_WORDS.search(text) or asks):
            return {"instructions_text": None}  # "can I leave instructions?" is a request, not the instructions
        if len(text) < 3:
            dispatcher.utter_message(text=t(reply_language(tracker),
                                            "What should the driver do? E.g. \"leave it at the back door\"."))
            return {"instructions_text": None}
        if not prefilled(tracker) and off_topic_answer(tracker, text):
            dispatcher.utter_message(text=t(reply_language(tracker), "That doesn't look like a note for the driver. "
                                                                     "Where should they leave it? Or say \"never mind\"."))
            return {"instructions_text": None}
        return {"instructions_text": text[:MAX_TEXT]}


def correction(text: str, tracker: Tracker) -> dict[str, Any] | None:
    """"no, the side door" at the confirmation: the corrected note."""
    if not INSTRUCTION_WORDS.search(text):
        return None
    cleaned = NO_PREFIX.sub("", text)
    return {"instructions_text": " ".join(cleaned.split())[:MAX_TEXT]}


def describe(tracker: Tracker, ctx: Context, parcel: Parcel, lang: str) -> str:
    return t(lang, "Tell the driver for parcel …{ref}: \"{note}\"", ref=parcel.short,
             note=tracker.get_slot("instructions_text"))


def request(slots: dict[str, Any], who: Asker) -> InstructionsRequest:
    return InstructionsRequest(**asdict(who), note=str(slots["instructions_text"]))
