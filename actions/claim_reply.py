"""What the missing-parcel and complaint conversations share: opening the parcel's claim for the
verified customer of this conversation, the reply with its reference, and our own yes/no questions.

A question we ask is marked in our turn's events (`claim_question` slot: which question, with the
`shipment_id` it is about), so an answer is taken only straight after it; the parcel always comes from
the conversation's verified link (`Context.parcels`), never from a slot the customer could set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet

from actions.context import Context
from actions.parcel_choice import last_bot_turn
from actions.runtime import SMS_SENDER, channel_of, off_loop, runtime
from bot.aftercare.claims import ClaimRefused, ClaimTicket, open_or_add
from bot.conversation.answers import is_cancel, is_no, is_yes, said_yes
from bot.core.models import ClaimKind
from bot.text import t
from bot.text.timefmt import clock, day_label

QUESTION_SLOT = "claim_question"  # missing_check | complaint_confirm | delivery_check (set by the recorder)
CHANNELS = {"twilio": "sms", "socketio": "web", "rest": "rest"}
MAX_WORDS = 1000


@dataclass(frozen=True)
class Asked:
    question: str
    shipment_id: int


def ask(question: str, shipment_id: int) -> list[EventType]:
    """The events that mark our question about one parcel."""
    return [SlotSet(QUESTION_SLOT, question), SlotSet("shipment_id", str(shipment_id))]


def done() -> list[EventType]:
    return [SlotSet(QUESTION_SLOT, None)]


def asked_in_last_turn(tracker: Tracker, question: str) -> Asked | None:
    """Our previous turn asked `question` about one parcel (and nothing was said since)."""
    turn = last_bot_turn(tracker)
    marks = [e.get("value") for e in turn if e.get("event") == "slot" and e.get("name") == QUESTION_SLOT]
    if not marks or marks[-1] != question:
        return None
    focus = [str(e.get("value")) for e in turn if e.get("event") == "slot" and e.get("name") == "shipment_id"]
    return Asked(question, int(focus[-1])) if focus and focus[-1].isdigit() else None


def answer_of(tracker: Tracker) -> str:
    """'yes', 'no', 'cancel' or '' for the latest message, by its words first, then by its intent."""
    text = str(tracker.latest_message.get("text") or "")
    intent = (tracker.latest_message.get("intent") or {}).get("name")
    if is_cancel(text):
        return "cancel"
    if is_no(text):
        return "no"
    if is_yes(text):
        return "yes"
    confidence = (tracker.latest_message.get("intent") or {}).get("confidence")
    if said_yes(text, intent, confidence):
        return "yes"
    return "no" if intent == "deny" else ""


def words_of(tracker: Tracker, intents: tuple[str, ...]) -> str:
    """What the customer said about the problem: their last message with one of `intents`, else the latest."""
    for event in reversed(tracker.events):
        if event.get("event") == "user" and (event.get("parse_data") or {}).get("intent", {}).get("name") in intents:
            return str(event.get("text") or "")[:MAX_WORDS]
    return str(tracker.latest_message.get("text") or "")[:MAX_WORDS]


def claim_channel(tracker: Tracker) -> str:
    channel = CHANNELS.get(channel_of(tracker), "rest")
    sender = tracker.sender_id or ""
    return "whatsapp" if channel == "sms" and sender.startswith("whatsapp:") and SMS_SENDER.fullmatch(sender) else channel


async def open_claim(tracker: Tracker, ctx: Context, shipment_id: int, kind: ClaimKind, words: str
                     ) -> ClaimTicket | None:
    """The parcel's claim for this conversation's verified customer; None when the parcel is not theirs."""
    if ctx.customer_id is None or not any(p.id == shipment_id for p in ctx.parcels):
        return None
    try:
        return await off_loop(open_or_add, runtime(), shipment_id=shipment_id, customer_id=ctx.customer_id,
                              kind=kind, channel=claim_channel(tracker), sender_id=tracker.sender_id, words=words)
    except ClaimRefused:
        return None


def by_when(ticket: ClaimTicket, ctx: Context, language: str) -> str:
    return t(language, "{day} at {time}", day=day_label(ticket.due_by, ctx.now, ctx.tz, language),
             time=clock(ticket.due_by, ctx.tz))


def ticket_reply(ticket: ClaimTicket, ctx: Context, language: str, **extra: Any) -> str:
    """The reference, what happens next and by when; a repeated report says it was added."""
    when = by_when(ticket, ctx, language)
    if not ticket.new:
        return t(language, "You reported this parcel before: claim {reference}. I've added this to it. "
                           "We'll answer by {when}. Reply AGENT for a person.", reference=ticket.reference, when=when)
    if ticket.kind == ClaimKind.MISSING:
        return t(language, "I've opened claim {reference}. We'll check with the driver and the carrier and answer "
                           "by {when}. Reply AGENT for a person.", reference=ticket.reference, when=when)
    return t(language, "I've raised complaint {reference} with the carrier. We'll answer by {when}. "
                       "Reply AGENT for a person.", reference=ticket.reference, when=when)
