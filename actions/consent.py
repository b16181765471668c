"""STOP / START / HELP, as keywords and in plain words ("pls stop texting me")."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.language import reply_language
from actions.runtime import channel_of, off_loop, runtime
from bot.conversation.answers import says_stop
from bot.conversation.consent import set_opt_out
from bot.conversation.identity import customer_by_phone, verified_link
from bot.core.db import transaction
from bot.text import t


def said(tracker: Tracker) -> str:
    """What the customer typed (a carrier keyword reaches the bot as `/opt_out`; the text is kept)."""
    metadata = tracker.latest_message.get("metadata") or {}
    return str(metadata.get("text") or tracker.latest_message.get("text") or "")


SURE = 0.9


def unsure_opt_out(tracker: Tracker) -> bool:
    """Plain words the classifier took for an opt-out without being sure, and with no word of stopping in them
    ("telefoonnummer van jullie?"): no opt-out is recorded for those. Carrier keywords (`/opt_out`) always count."""
    text = str(tracker.latest_message.get("text") or "")
    confidence = float((tracker.latest_message.get("intent") or {}).get("confidence") or 0)
    return not text.startswith("/") and confidence < SURE and not says_stop(said(tracker))


def _channel_meant(tracker: Tracker) -> str:
    """Email or WhatsApp when they say so; else the channel they write on: STOP on WhatsApp is about
    WhatsApp only, on SMS about SMS (and on web chat, "stop texting me" means SMS too)."""
    text = said(tracker).lower()
    if any(word in text for word in ("email", "e-mail", "mail")):
        return "email"
    if "whatsapp" in text or (tracker.sender_id or "").startswith("whatsapp:"):
        return "whatsapp"
    return "sms"


def _record(channel: str, sender_id: str, target: str, opted_out: bool, source: str) -> bool | None:
    """None when we don't know who this is; otherwise whether anything changed."""
    with transaction(runtime().sessions) as session:
        link = verified_link(session, channel=channel, sender_id=sender_id)
        customer_id = link.customer_id if link else None
        if customer_id is None and channel == "twilio":
            customer = customer_by_phone(session, sender_id)
            customer_id = customer.id if customer else None
        if customer_id is None:
            return None
        return set_opt_out(session, customer_id=customer_id, channel=target, opted_out=opted_out, source=source)


class ConfirmOptOut(Action):
    """Said before the opt-out is recorded: this one confirmation is the last message they get."""

    def name(self) -> str:
        return "action_confirm_opt_out"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        lang = reply_language(tracker)
        if unsure_opt_out(tracker):
            dispatcher.utter_message(text=t(lang, "Sorry, I didn't get that. To stop our texts, reply STOP. "
                                                  "Reply AGENT for a person."))
            return []
        if _channel_meant(tracker) == "email":
            dispatcher.utter_message(text=t(lang, "OK, no more delivery emails. Reply START EMAIL to undo."))
        elif _channel_meant(tracker) == "whatsapp":
            dispatcher.utter_message(text=t(lang, "OK, no more WhatsApp messages from us. Reply START to undo."))
        else:
            dispatcher.utter_message(text=t(lang, "OK, you won't get more texts from us. Reply START to undo."))
        return []


class RecordOptOut(Action):
    def name(self) -> str:
        return "action_record_opt_out"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        if unsure_opt_out(tracker):
            return []  # not an opt-out (see ConfirmOptOut)
        text = said(tracker)[:60]
        await off_loop(_record, channel_of(tracker), tracker.sender_id, _channel_meant(tracker), True,
                       f"{channel_of(tracker)}: {text}")
        return []


class OptIn(Action):
    def name(self) -> str:
        return "action_opt_in"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        target = _channel_meant(tracker)
        text = said(tracker)[:60]
        changed = await off_loop(_record, channel_of(tracker), tracker.sender_id, target, False,
                                 f"{channel_of(tracker)}: {text}")
        lang = reply_language(tracker)
        if changed is None:
            dispatcher.utter_message(text=t(lang, "I can't find your details yet. Send your tracking number and I'll look."))
        elif changed and target == "email":
            dispatcher.utter_message(text=t(lang, "Welcome back: delivery emails are on again. Reply STOP to stop."))
        elif changed and target == "whatsapp":
            dispatcher.utter_message(text=t(lang, "WhatsApp is on: your delivery updates will come here. "
                                                  "Reply STOP to stop."))
        elif changed:
            dispatcher.utter_message(text=t(lang, "Welcome back: delivery texts are on again. Reply STOP to stop."))
        elif target == "email":
            dispatcher.utter_message(text=t(lang, "Delivery emails are already on. Reply STOP to stop."))
        elif target == "whatsapp":
            dispatcher.utter_message(text=t(lang, "WhatsApp updates are already on. Reply STOP to stop."))
        else:
            dispatcher.utter_message(text=t(lang, "Delivery texts are already on. Reply STOP to stop."))
        return []
