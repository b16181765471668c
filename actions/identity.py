"""Session start, and the verification form: tracking number + postcode for web chat and REST."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActionExecuted, ConversationPaused, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy import select

from actions import texts
from actions.context import context_for, forget_context
from actions.language import reply_language
from actions.notified import notification_of
from actions.runtime import channel_of, off_loop, runtime
from bot.conversation.identity import (
    link_conversation,
    normalise_postcode,
    normalise_tracking_number,
    read_link_token,
    verified_link,
)
from bot.conversation.verify_limits import VerifyPolicy, address_client, verify
from bot.core.models import Customer, Handoff, Shipment
from bot.text import LANGUAGES, t

MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class Identity:
    verified: bool
    shipment_id: int | None
    locale: str | None  # the linked customer's language, if any


def _identify(channel: str, sender_id: str, link_token: str | None) -> Identity:
    """Verified by the database: a known signed phone, an earlier check, or a valid link token."""
    rt = runtime()
    with rt.sessions() as session, session.begin():
        if link_token and channel in ("socketio", "rest"):
            shipment_id = read_link_token(rt.settings.link_secret, link_token,
                                          max_age_days=rt.settings.link_max_age_days)
            shipment = session.get(Shipment, shipment_id) if shipment_id is not None else None
            if shipment is not None:
                link_conversation(session, channel=channel, sender_id=sender_id,
                                  customer_id=shipment.customer_id, shipment_id=shipment.id)
        link = verified_link(session, channel=channel, sender_id=sender_id)
        if link is None:
            return Identity(False, None, None)
        customer = session.get(Customer, link.customer_id) if link.customer_id is not None else None
        return Identity(True, link.shipment_id, customer.locale if customer else None)


def session_language(hint: object, locale: str | None, carried: object) -> str | None:
    """The language a new session starts in: the web page's (the customer picked or their browser asked
    for it), else the customer's own, else the language the last session ended in."""
    for candidate in (hint, locale, carried):
        code = str(candidate or "").split("-", 1)[0].split("_", 1)[0].lower()
        if code in LANGUAGES:
            return code
    return None


def _with_a_person(sender_id: str) -> bool:
    """An agent has (or will take) this conversation: a new session must not wake the bot.
    (Conversation ids are unique across channels: phone numbers, `web:…`, `rest:…`.)"""
    with runtime().sessions() as session:
        return session.scalar(select(Handoff.id).where(Handoff.sender_id == sender_id, Handoff.status != "closed")
                              .limit(1)) is not None


class ActionSessionStart(Action):
    """Starts a session with identity from the database: a known phone on signed SMS is verified."""

    def name(self) -> str:
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        events: list[EventType] = [SessionStarted()]
        carried = {k: v for k, v in tracker.slots.items()
                   if k not in ("session_started_metadata", "verified", "shipment_id", "requested_slot")}
        events += [SlotSet(k, v) for k, v in carried.items() if v is not None]
        metadata = tracker.get_slot("session_started_metadata") or {}
        identity = await off_loop(_identify, channel_of(tracker), tracker.sender_id, metadata.get("link_token"))
        verified, shipment_id = identity.verified, identity.shipment_id
        if shipment_id is None and verified:
            shipment_id = notified_parcel(tracker.events)
        events += [SlotSet("verified", verified), SlotSet("shipment_id", str(shipment_id) if shipment_id else None)]
        language = session_language(metadata.get("language"), identity.locale, carried.get("language"))
        if language is not None:
            events.append(SlotSet("language", language))
        events.append(ActionExecuted("action_listen"))
        # A session start resets the tracker and with it the pause (Rasa's SessionStarted unpauses):
        # while a handoff is open, pause again, or the bot would answer over the agent after an hour.
        if await off_loop(_with_a_person, tracker.sender_id):
            events.append(ConversationPaused())
        return events


def notified_parcel(events: list[dict[str, Any]]) -> int | None:
    """The parcel of the last message we sent on our own (a notification), if the customer has not
    written since: their first words ("yes", "can it come tomorrow") are about that parcel. The
    actions still only ever offer the customer's own parcels."""
    for event in reversed(events):
        if event.get("event") == "user":
            return None
        notified = notification_of(event)
        if notified is not None:
            return notified.shipment_id
    return None


def clients_of(tracker: Tracker) -> list[str]:
    """Who is guessing, as far as the action server can tell: the conversation (a signed phone is a
    real identity, a REST sender or a web session id is not), and the client address that our REST
    and web chat channels put into the message's metadata (clients cannot set it; addons/)."""
    clients = [f"{channel_of(tracker)}:{tracker.sender_id}"]
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            address = address_client((event.get("metadata") or {}).get("client_address"))
            if address is not None:
                clients.append(address)
            break
    return clients


class ValidateVerifyForm(FormValidationAction):
    def name(self) -> str:
        return "validate_verify_form"

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> list[str]:
        if (tracker.get_slot("verify_attempts") or 0) >= MAX_ATTEMPTS:
            return []  # give up: the form ends and action_after_verification offers a person
        if (await context_for(tracker)).verified:
            # The database knows who this is: nothing to ask. (A signed phone whose session began while
            # the action server was down: Rasa's own session start left the `verified` slot unset.)
            return []
        return domain_slots

    async def get_validation_events(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> list[EventType]:
        if (await context_for(tracker)).verified:
            return [SlotSet("verified", True)]
        return await super().get_validation_events(dispatcher, tracker, domain)

    def validate_tracking_number(self, value: Any, dispatcher: CollectingDispatcher,
                                 tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        tracking_number = normalise_tracking_number(str(value or ""))
        if tracking_number is None:
            dispatcher.utter_message(text=t(reply_language(tracker), texts.BAD_TRACKING_NUMBER))
        return {"tracking_number": tracking_number}

    async def validate_postcode(self, value: Any, dispatcher: CollectingDispatcher,
                                tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        postcode = normalise_postcode(str(value or ""))
        if postcode is None:
            dispatcher.utter_message(text=t(reply_language(tracker), texts.BAD_POSTCODE))
            return {"postcode": None}
        tracking_number = tracker.get_slot("tracking_number")
        shipment_id = await off_loop(self._verify, channel_of(tracker), tracker.sender_id, tracking_number, postcode,
                                     clients_of(tracker))
        forget_context(tracker)  # the conversation may be verified now
        if shipment_id is None:
            attempts = (tracker.get_slot("verify_attempts") or 0) + 1
            if attempts < MAX_ATTEMPTS:
                dispatcher.utter_message(text=t(reply_language(tracker), texts.VERIFY_FAILED))
            return {"tracking_number": None, "postcode": None, "verify_attempts": attempts}
        return {"postcode": postcode, "verified": True, "shipment_id": str(shipment_id), "verify_attempts": 0}

    @staticmethod
    def _verify(channel: str, sender_id: str, tracking_number: str | None, postcode: str,
                clients: list[str]) -> int | None:
        if not tracking_number:
            return None
        rt = runtime()
        now = rt.clock.now()
        with rt.sessions() as session, session.begin():
            # Limited per tracking number and per client across conversations (bot/conversation/verify_limits.py):
            # a locked number answers like a wrong postcode, the right one included.
            shipment = verify(session, tracking_number=tracking_number, postcode=postcode, clients=clients,
                              now=now, policy=VerifyPolicy.from_settings(rt.settings))
            if shipment is None:
                return None
            # A phone-verified SMS customer may only add their own parcels this way.
            link = verified_link(session, channel=channel, sender_id=sender_id)
            if link is not None and link.customer_id != shipment.customer_id:
                return None
            link_conversation(session, channel=channel, sender_id=sender_id,
                              customer_id=shipment.customer_id, shipment_id=shipment.id)
            return shipment.id
