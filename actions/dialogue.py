"""Small dialogue actions: remembering what was asked, fallback with a way out, return status."""

from __future__ import annotations

import re

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy import select

from actions import complaint, texts
from actions.context import context_for
from actions.handoff import open_handoff
from actions.language import reply_language
from actions.missing import ReportMissing, answering_check, missing_pick
from actions.parcel_choice import focus_for_request, parcel_of_last_turn
from actions.rating import handle_rating
from actions.runtime import off_loop, runtime
from bot.core.models import Return, Shipment
from bot.text import N_, t
from bot.text.timefmt import day_label

REQUESTS = {"track_package": "track", "inform": "track", "reschedule_delivery": "reschedule",
            "redirect_to_locker": "locker", "delivery_instructions": "instructions", "change_address": "address",
            "start_return": "return", "return_status": "return_status", "report_missing": "missing",
            "delivery_complaint": "complaint", "hold_parcels": "hold", "cancel_hold": "unhold"}
CHANGES = {"reschedule", "locker", "instructions", "address", "return", "hold", "unhold"}
FALLBACK_ACTIONS = {"action_fallback"}


class RememberRequest(Action):
    """What the customer asked for, so the right flow starts (after verification if needed)."""

    def name(self) -> str:
        return "action_remember_request"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        intent = (tracker.latest_message.get("intent") or {}).get("name") or ""
        request = REQUESTS.get(intent, "track")
        events: list[EventType] = [
            SlotSet("pending_request", request), SlotSet("wants_change", request in CHANGES),
            SlotSet("change_blocked", False), SlotSet("change_cancelled", False), SlotSet("confirm_change", None)]
        if request not in CHANGES and request not in ("missing", "complaint"):
            return events
        ctx = await context_for(tracker)
        if not ctx.verified:
            return events  # verification names the parcel
        if request in CHANGES and off_topic_request(tracker):
            dispatcher.utter_message(text=t(reply_language(tracker), "Sorry, I can only help with your delivery. "
                                                                     "Reply HELP to see what I can do, or AGENT for a person."))
            return [*events, SlotSet("change_blocked", True), SlotSet("wants_change", False)]
        # Which parcel: the one the message names or our last message was about; otherwise the form asks.
        return [*events, SlotSet("shipment_id", focus_for_request(tracker, ctx.parcels))]


DELIVERY_WORDS = re.compile(
    r"\b(parcels?|packages?|pkg|deliver\w*|driver|locker|move|reschedul\w*|return\w*|send|sent|refund|neighbou?rs?|"
    r"address|instructions?|note|door|order|drop|leave|bring|come|arrive|pick ?up|paket\w*|liefer\w*|pakket\w*|"
    r"bezorg\w*|DS\d+)\b", re.IGNORECASE)
CHATTER = re.compile(r"\b(weather|joke|lol|haha\w*|football|movie|pizza|recipe|bored|love you|"
                     r"how are you|who are you)\b", re.IGNORECASE)


def off_topic_request(tracker: Tracker) -> bool:
    """A change intent on a message that is about something else ("what's the weather tomorrow"): the
    classifier was fooled by a time word. Not when it answers our message about a parcel."""
    text = str(tracker.latest_message.get("text") or "")
    if DELIVERY_WORDS.search(text) or parcel_of_last_turn(tracker) is not None:
        return False
    return bool(CHATTER.search(text))


def _previous_turn_fell_back(tracker: Tracker) -> bool:
    """Did the bot answer the customer's previous message with the fallback too?"""
    users = [i for i, e in enumerate(tracker.events) if e.get("event") == "user"]
    if len(users) < 2:
        return False
    previous_turn = tracker.events[users[-2] + 1: users[-1]]
    return any(e.get("event") == "action" and e.get("name") in FALLBACK_ACTIONS for e in previous_turn)


class Fallback(Action):
    """Not understood: say how to go on; the second time in a row, hand over to a person."""

    def name(self) -> str:
        return "action_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        rating = await handle_rating(dispatcher, tracker)  # "4" after "delivered, how did we do?"
        if rating is not None:
            return rating
        if await missing_pick(tracker) is not None or answering_check(tracker):  # "the shoes", "still not here"
            return await ReportMissing().run(dispatcher, tracker, domain)
        if complaint.answering(tracker):  # "yes", "2", "not ok" to one of the complaint's questions
            return await complaint.DeliveryComplaint().run(dispatcher, tracker, domain)
        if _previous_turn_fell_back(tracker):
            dispatcher.utter_message(text=t(reply_language(tracker), "Sorry, I'm still not getting it. "
                                            "I'm passing you to a person, who will reply here."))
            return await open_handoff(tracker, reason="misunderstood")
        dispatcher.utter_message(text=t(reply_language(tracker), texts.NOT_UNDERSTOOD))
        return []


RETURN_STATES = {"created": N_("booked, waiting for the parcel"), "in_transit": N_("on its way back to us"),
                 "received": N_("received; refund on its way"), "refunded": N_("refunded")}
RETURN_METHODS = {"locker": N_("locker"), "pickup": N_("pickup"), "label": N_("label")}


def return_lines(shipment_ids: list[int], lang: str) -> list[str]:
    """The customer's latest returns (at most 3), one line each, in their language."""
    rt = runtime()
    now = rt.clock.now()
    with rt.sessions() as session:
        rows = session.scalars(select(Return).where(Return.shipment_id.in_(shipment_ids))
                               .order_by(Return.created_at.desc())).all()
        lines = []
        for ret in rows[:3]:
            shipment = session.get(Shipment, ret.shipment_id)
            tz = shipment.customer.time_zone if shipment else "Europe/Berlin"
            state = t(lang, RETURN_STATES.get(ret.status, ret.status))
            method = t(lang, RETURN_METHODS.get(ret.method, ret.method))
            lines.append(t(lang, "Return {rma} ({method}, {day}): {state}.", rma=ret.rma, method=method,
                           day=day_label(ret.created_at, now, tz, lang), state=state))
        return lines


class ReturnStatus(Action):
    def name(self) -> str:
        return "action_return_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        ctx = await context_for(tracker)
        if not ctx.verified:
            dispatcher.utter_message(text=t(reply_language(tracker), texts.VERIFY_LOCKED))
            return []
        lang = reply_language(tracker)
        lines = await off_loop(return_lines, [p.id for p in ctx.parcels], lang)
        dispatcher.utter_message(text="\n".join(lines) if lines else
                                 t(lang, "I can't see a return for you. To start one, say \"return\"."))
        return [SlotSet("pending_request", None)]
