"""What the change flows share: the kind of change, the parcel, windows and lockers as slot values, the
checks before a question (through the change service), ending the form, handing over when the carrier
is down."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.context import Context, Parcel, context_for
from actions.dialogue import return_lines
from actions.handoff import open_handoff
from actions.language import reply_language
from actions.questions import Ask
from actions.runtime import off_loop, runtime
from bot.carriers import Refusal, TimeWindow
from bot.changes import Asker, Code, Kind, Reason, Requester, carrier_does, reason_text, refusal_for_state
from bot.conversation.answers import is_cancel
from bot.conversation.choices import option_number, pick_by_name
from bot.text import N_, t

KINDS = {kind.value: kind for kind in Kind}
FORM_SLOTS = ["parcel", "window_choice", "locker_choice", "instructions_text", "address_text", "return_items",
              "return_reason", "return_method", "return_option", "hold_period", "confirm_change"]
MAX_OFFERED = 5
MAX_TEXT = 300
CONFIDENT = 0.6
AGENT = N_("Reply AGENT for a person.")


def with_agent(lang: str, text: str) -> str:
    """`text` (already in `lang`) and the way to a person."""
    return f"{text} {t(lang, AGENT)}"


def change_kind(tracker: Tracker) -> str:
    return str(tracker.get_slot("pending_request") or "")


def asker(ctx: Context, parcel: Parcel, language: str) -> Asker:
    """The verified customer asking the change service about one of their parcels."""
    return Asker(shipment_id=parcel.id, by=Requester.CUSTOMER, customer_id=ctx.customer_id, language=language)


def encode_window(window: TimeWindow) -> str:
    return f"{window.start.isoformat()}|{window.end.isoformat()}"


def decode_window(value: str) -> TimeWindow:
    start, end = value.split("|")
    return TimeWindow(datetime.fromisoformat(start), datetime.fromisoformat(end))


def wants_cancel(tracker: Tracker) -> bool:
    """"never mind", also as the first words of a longer message ("never mind, I'll be home after all")."""
    text = str(tracker.latest_message.get("text") or "")
    return is_cancel(text) or bool(LEADING_CANCEL.match(text))


# Words that end a change even at the start of a longer message without a comma ("nvm ill be home").
LEADING_CANCEL = re.compile(r"\s*(never\s*mind|nevermind|nvm|forget (it|that))\b", re.IGNORECASE)


async def context_and_parcel(tracker: Tracker) -> tuple[Context, Parcel | None]:
    ctx = await context_for(tracker)
    return ctx, ctx.current(change_kind(tracker), tracker.get_slot("shipment_id"))


def prefilled(tracker: Tracker) -> bool:
    """The form is starting: a value now came with the request itself, nobody was asked yet."""
    return tracker.get_slot("requested_slot") is None


def end_form() -> list[EventType]:
    return [SlotSet("change_blocked", True), SlotSet("requested_slot", None)]


def pick_locker(tracker: Tracker, text: str, *, by_number: bool = True) -> str | None:
    offered = tracker.get_slot("offered") or []  # [{"code", "name"}]
    entity = next(tracker.get_latest_entity_values("locker"), None)
    if by_number:
        number = option_number(text, len(offered))
        if number:
            return str(offered[number - 1]["code"])
    index = pick_by_name(entity or text, [str(o["name"]) for o in offered])
    return str(offered[index]["code"]) if index is not None else None


def spread(windows: list[TimeWindow], count: int, tz: str) -> list[TimeWindow]:
    """One window per day, morning, evening, midday in turn: a real choice, not five mornings."""
    zone = ZoneInfo(tz)
    by_day: dict[Any, list[TimeWindow]] = {}
    for w in windows:
        by_day.setdefault(w.start.astimezone(zone).date(), []).append(w)
    turn = (0, -1, 2, 3, 1, 4)
    shown = []
    for index, day in enumerate(by_day.values()):
        position = turn[index % len(turn)]
        shown.append(day[position] if -len(day) <= position < len(day) else day[0])
    return shown[:count]


# -- can this parcel have this change? (the service's checks, on the conversation's context) ---------
INSTEAD = {"reschedule": N_("move the delivery"), "locker": N_("send it to a locker"),
           "address": N_("leave it with a neighbour"), "instructions": N_("pass a note to the driver")}


def can_do(parcel: Parcel, kind: str) -> bool:
    return kind in KINDS and carrier_does(runtime().carrier(parcel.carrier).capabilities, KINDS[kind])


def cannot_text(parcel: Parcel, kind: str, lang: str = "en") -> str:
    """What this carrier can't do, and what it can do instead (for a parcel on its way), then a person."""
    cannot = reason_text(lang, Refusal.NOT_OFFERED, KINDS[kind])
    instead = [t(lang, text) for other, text in INSTEAD.items() if other != kind and can_do(parcel, other)]
    if kind == "return" or not instead:
        return with_agent(lang, cannot)
    things = t(lang, "{first} or {second}", first=instead[0], second=instead[1]) if len(instead) > 1 else instead[0]
    return t(lang, "{cannot} I can {things} instead, or reply AGENT for a person.", cannot=cannot, things=things)


def carrier_cannot(kind: str, parcel: Parcel, dispatcher: CollectingDispatcher,
                   lang: str) -> list[EventType] | None:
    """Before the first question: say plainly when the parcel's carrier can't make this change at all."""
    if kind not in KINDS or can_do(parcel, kind):
        return None
    dispatcher.utter_message(text=cannot_text(parcel, kind, lang))
    return end_form()


def state_code(kind: str, parcel: Parcel) -> Code | None:
    """Why the parcel's state rules this change out (a parcel on its way; returns are checked by `eligible`)."""
    if kind == "return" or kind not in KINDS:
        return None
    return refusal_for_state(KINDS[kind], status=parcel.status, going_to_locker=parcel.going_to_locker)


def too_late(kind: str, parcel: Parcel, dispatcher: CollectingDispatcher, lang: str) -> list[EventType] | None:
    """Say plainly, before asking anything, when the parcel is past the point of changing."""
    code = state_code(kind, parcel)
    if code is None:
        return None
    dispatcher.utter_message(text=with_agent(lang, reason_text(lang, code)))
    return end_form()


# Why one of several parcels can't have the change, naming it.
PARCEL_STATE = {
    Refusal.OUT_FOR_DELIVERY: N_("Parcel …{ref} is already out with the driver, so I can't change it now."),
    Reason.AT_LOCKER: N_("Parcel …{ref} is already at the locker, so I can't change it now."),
    Refusal.GOING_TO_LOCKER: N_("Parcel …{ref} is on its way to a locker, so I can't change it now."),
    Refusal.DELIVERED: N_("Parcel …{ref} has already arrived, so I can't change it now."),
}
PARCEL_CANNOT = {
    "reschedule": N_("Parcel …{ref}'s carrier doesn't let me move deliveries."),
    "locker": N_("Parcel …{ref}'s carrier has no lockers I can use."),
    "instructions": N_("Parcel …{ref}'s carrier doesn't take delivery notes."),
    "address": N_("Parcel …{ref}'s carrier doesn't let me send it to a neighbour or another address."),
    "return": N_("Parcel …{ref}'s carrier doesn't let me book returns here."),
}


def why_not(kind: str, parcel: Parcel, language: str | None) -> str | None:
    """Why this parcel can't have this change (its state, then its carrier), in one sentence; None if it can."""
    code = state_code(kind, parcel)
    if code is not None and code in PARCEL_STATE:
        return t(language, PARCEL_STATE[code], ref=parcel.short)
    if kind not in KINDS or can_do(parcel, kind):
        return None
    return t(language, PARCEL_CANNOT[kind], ref=parcel.short)


def changeable(ctx: Context, kind: str) -> list[Parcel]:
    """The parcels this change can be made to now: the right state and a carrier that does it."""
    return [p for p in ctx.eligible(kind) if why_not(kind, p, None) is None]


async def carrier_down(dispatcher: CollectingDispatcher, tracker: Tracker, parcel: Parcel) -> list[EventType]:
    dispatcher.utter_message(text=t(reply_language(tracker), "I can't reach the carrier right now, so nothing "
                                    "was changed. I'm passing you to a person who can help."))
    events = await open_handoff(tracker, reason="carrier_error", shipment_id=parcel.id)
    return [*events, SlotSet("change_blocked", True), SlotSet("requested_slot", None)]


class Answers:
    """What every flow's answer validation starts with (the flows' `validate_<slot>` methods are mixed into
    the change form's validation action): a cancel ends the change; a question about returns in between is
    answered, then the question comes again (the slot mappings take it as an answer, so Rasa's own
    digression rules never see it)."""

    async def _before_answer(self, dispatcher: CollectingDispatcher, tracker: Tracker, slot: str) -> dict[str, Any] | None:
        if wants_cancel(tracker):
            return {"change_cancelled": True}
        intent = tracker.latest_message.get("intent") or {}
        if intent.get("name") != "return_status" or float(intent.get("confidence") or 0) < CONFIDENT:
            return None
        ctx = await context_for(tracker)
        lang = reply_language(tracker)
        lines = await off_loop(return_lines, [p.id for p in ctx.parcels], lang)
        dispatcher.utter_message(text="\n".join(lines) if lines else t(lang, "I can't see a return for you yet."))
        return {slot: None}


class AskAfterCheck(Ask):
    """A plain question, after checking the parcel can still be changed."""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        _, parcel = await context_and_parcel(tracker)
        if parcel is None:
            return end_form()
        lang = reply_language(tracker)
        if (stop := too_late(change_kind(tracker), parcel, dispatcher, lang)) is not None:
            return stop
        if (stop := carrier_cannot(change_kind(tracker), parcel, dispatcher, lang)) is not None:
            return stop
        return await super().run(dispatcher, tracker, domain)
