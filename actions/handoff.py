"""Handing a conversation to a person: a handoff record with a summary, and the bot goes quiet."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import texts
from actions.language import reply_language
from actions.runtime import channel_of, off_loop, runtime
from bot.conversation.handoffs import create_handoff
from bot.conversation.identity import link_may_see, verified_link
from bot.core.db import transaction
from bot.text import t

REASONS = {"request": "asked for a person", "misunderstood": "the bot did not understand twice",
           "carrier_error": "a carrier call failed", "angry": "the customer is upset",
           "verification": "could not verify identity", "low_rating": "rated the delivery low",
           "missing": "says a delivered parcel never reached them"}


def summarise(tracker: Tracker, limit: int = 8) -> str:
    """The last turns as 'customer: …' / 'bot: …' lines, for the agent who picks it up."""
    lines = []
    for event in tracker.events:
        if event.get("event") == "user" and event.get("text"):
            intent = (event.get("parse_data") or {}).get("intent", {}).get("name")
            lines.append(f"customer: {event['text']}" + (f"  [{intent}]" if intent else ""))
        elif event.get("event") == "bot" and event.get("text"):
            lines.append(f"bot: {event['text']}")
    return "\n".join(lines[-limit:])


def _open(channel: str, sender_id: str, reason: str, summary: str, shipment_id: int | None) -> int:
    """The parcel named by the conversation (a slot, a notification) is attached only when the
    database says this conversation may see it; the agent sees nobody else's parcel."""
    with transaction(runtime().sessions) as session:
        link = verified_link(session, channel=channel, sender_id=sender_id)
        if not link_may_see(session, link, shipment_id):
            shipment_id = link.shipment_id if link else None
        handoff = create_handoff(
            session, channel=channel, sender_id=sender_id, reason=reason, summary=summary,
            customer_id=link.customer_id if link else None, shipment_id=shipment_id,
        )
        return handoff.id


async def open_handoff(tracker: Tracker, *, reason: str, shipment_id: int | None = None,
                       details: str = "") -> list[EventType]:
    """Record the handoff and pause: while paused Rasa logs messages but runs no actions. `details`
    (what the bot found, e.g. the proof of delivery) go into the summary before the conversation."""
    slot = tracker.get_slot("shipment_id")
    current = shipment_id or (int(slot) if slot and str(slot).isdigit() else None)
    summary = (f"Reason: {REASONS.get(reason, reason)}\nLanguage: {reply_language(tracker)}\n"
               + (f"{details}\n" if details else "") + summarise(tracker))
    await off_loop(_open, channel_of(tracker), tracker.sender_id, reason, summary, current)
    return [SlotSet("handoff_reason", reason), ConversationPaused()]


class ActionHandoff(Action):
    def name(self) -> str:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        reason = "request" if (tracker.latest_message.get("intent") or {}).get("name") == "talk_to_human" else \
            str(tracker.get_slot("handoff_reason") or "request")
        dispatcher.utter_message(text=t(reply_language(tracker), texts.HANDOFF))
        return await open_handoff(tracker, reason=reason)

