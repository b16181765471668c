"""What the change form's parts share: the kind of change, windows as slot values, ending the form."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.context import Context, Parcel, context_for
from actions.handoff import open_handoff
from actions.language import reply_language
from actions.runtime import runtime
from bot.answers import is_cancel
from bot.carriers import Capability, Refusal, TimeWindow
from bot.choices import option_number, pick_by_name
from bot.text import N_, t

CAPABILITY = {"reschedule": Capability.RESCHEDULE, "locker": Capability.REDIRECT,
              "instructions": Capability.INSTRUCTIONS, "address": Capability.CHANGE_ADDRESS,
              "return": Capability.RETURNS}
SLOTS = {"reschedule": ["window_choice"], "locker": ["locker_choice"], "instructions": ["instructions_text"],
         "address": ["address_text"]}
FORM_SLOTS = ["parcel", "window_choice", "locker_choice", "instructions_text", "address_text", "return_items",
              "return_reason", "return_method", "return_option", "confirm_change"]
RETURN_METHODS = [("locker", N_("Drop it at a locker (QR code, no printer)")),
                  ("pickup", N_("Carrier pickup from your door")), ("label", N_("Label by email, drop at any shop"))]
MAX_OFFERED = 5
MAX_TEXT = 300
AGENT = N_("Reply AGENT for a person.")


def with_agent(lang: str, text: str) -> str:
    """`text` (already in `lang`) and the way to a person."""
    return f"{text} {t(lang, AGENT)}"


# What each carrier refusal says to the customer (bot/carriers/errors.Refusal).
REFUSALS: dict[Refusal, str] = {
    Refusal.OUT_FOR_DELIVERY: N_("Your parcel is already out with the driver, so I can't change that now."),
    Refusal.DELIVERED: N_("Your parcel has already arrived, so I can't change that now."),
    Refusal.GOING_TO_LOCKER: N_("Your parcel is on its way to a locker, so I can't change that now."),
    Refusal.NOT_OFFERED: N_("This carrier doesn't offer that."),
    Refusal.WINDOW_TAKEN: N_("That window is no longer available."),
    Refusal.UNKNOWN_LOCKER: N_("I don't know that locker."),
    Refusal.LOCKER_FULL: N_("That locker is full right now."),
    Refusal.OUTSIDE_AREA: N_("We don't deliver to that postcode from this depot."),
    Refusal.NOT_YET_DELIVERED: N_("A return can be booked once the parcel has been delivered."),
    Refusal.RETURN_WINDOW_CLOSED: N_("The return window for this order has closed."),
    Refusal.NOT_RETURNABLE: N_("Those items can't be returned."),
    Refusal.RETURN_METHOD_NOT_OFFERED: N_("That return method isn't offered."),
    Refusal.LOCKER_NEEDED: N_("Please choose a locker for the drop-off."),
    Refusal.PICKUP_WINDOW_NEEDED: N_("Please choose a pickup window."),
    Refusal.LABEL_FAILED: N_("The carrier couldn't create a return label for this parcel."),
    Refusal.REJECTED: N_("The carrier didn't accept that change."),
}


def refusal(lang: str, code: Refusal) -> str:
    """A carrier's refusal in the customer's language."""
    return t(lang, REFUSALS[code])


def change_kind(tracker: Tracker) -> str:
    return str(tracker.get_slot("pending_request") or "")


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


# What each change needs from the carrier, what to say when it can't, and what the bot offers instead.
NEEDS = {"reschedule": {Capability.WINDOWS, Capability.RESCHEDULE}, "locker": {Capability.REDIRECT, Capability.LOCKERS},
         "instructions": {Capability.INSTRUCTIONS}, "address": {Capability.CHANGE_ADDRESS}, "return": {Capability.RETURNS}}
CANNOT = {
    "reschedule": N_("This carrier doesn't let me move deliveries."),
    "locker": N_("This carrier has no lockers I can use."),
    "instructions": N_("This carrier doesn't take delivery notes."),
    "address": N_("This carrier doesn't let me send it to a neighbour or another address."),
    "return": N_("This carrier doesn't let me book returns here."),
}
INSTEAD = {"reschedule": N_("move the delivery"), "locker": N_("send it to a locker"),
           "address": N_("leave it with a neighbour"), "instructions": N_("pass a note to the driver")}


def can_do(capabilities: frozenset[Capability], kind: str) -> bool:
    return NEEDS.get(kind, set()) <= capabilities


def cannot_text(capabilities: frozenset[Capability], kind: str, lang: str = "en") -> str:
    """What this carrier can't do, and what it can do instead (for a parcel on its way), then a person."""
    instead = [t(lang, text) for other, text in INSTEAD.items() if other != kind and can_do(capabilities, other)]
    if kind == "return" or not instead:
        return with_agent(lang, t(lang, CANNOT[kind]))
    things = t(lang, "{first} or {second}", first=instead[0], second=instead[1]) if len(instead) > 1 else instead[0]
    return t(lang, "{cannot} I can {things} instead, or reply AGENT for a person.", cannot=t(lang, CANNOT[kind]),
             things=things)


def carrier_cannot(kind: str, parcel: Parcel, dispatcher: CollectingDispatcher,
                   lang: str) -> list[EventType] | None:
    """Before the first question: say plainly when the parcel's carrier can't make this change at all."""
    if kind not in NEEDS:
        return None
    capabilities = runtime().carrier(parcel.carrier).capabilities
    if can_do(capabilities, kind):
        return None
    dispatcher.utter_message(text=cannot_text(capabilities, kind, lang))
    return end_form()


def return_methods(parcel: Parcel) -> list[tuple[str, str]]:
    """The return methods offered for this parcel: those its carrier does, in our usual order."""
    offered = runtime().carrier(parcel.carrier).return_methods
    return [(key, text) for key, text in RETURN_METHODS if key in offered]


WITH_DRIVER_OR_DONE = {
    "out_for_delivery": N_("Your parcel is already out with the driver, so I can't change that now."),
    "at_locker": N_("Your parcel is already at the locker, so I can't change that now."),
}


def too_late(kind: str, parcel: Parcel, dispatcher: CollectingDispatcher, lang: str) -> list[EventType] | None:
    """Say plainly, before asking anything, when the parcel is past the point of changing."""
    if kind == "return":
        return None
    reason = WITH_DRIVER_OR_DONE.get(parcel.status)
    if reason is None:
        return None
    dispatcher.utter_message(text=with_agent(lang, t(lang, reason)))
    return end_form()


def why_not(kind: str, parcel: Parcel, language: str | None) -> str | None:
    """Why this parcel can't have this change (its state, then its carrier), in one sentence; None if it can."""
    ref = parcel.short
    if kind != "return" and parcel.status == "out_for_delivery":
        return t(language, "Parcel …{ref} is already out with the driver, so I can't change it now.", ref=ref)
    if kind != "return" and parcel.status == "at_locker":
        return t(language, "Parcel …{ref} is already at the locker, so I can't change it now.", ref=ref)
    if kind not in NEEDS or can_do(runtime().carrier(parcel.carrier).capabilities, kind):
        return None
    if kind == "reschedule":
        return t(language, "Parcel …{ref}'s carrier doesn't let me move deliveries.", ref=ref)
    if kind == "locker":
        return t(language, "Parcel …{ref}'s carrier has no lockers I can use.", ref=ref)
    if kind == "instructions":
        return t(language, "Parcel …{ref}'s carrier doesn't take delivery notes.", ref=ref)
    if kind == "address":
        return t(language, "Parcel …{ref}'s carrier doesn't let me send it to a neighbour or another address.", ref=ref)
    return t(language, "Parcel …{ref}'s carrier doesn't let me book returns here.", ref=ref)


def changeable(ctx: Context, kind: str) -> list[Parcel]:
    """The parcels this change can be made to now: the right state and a carrier that does it."""
    return [p for p in ctx.eligible(kind) if why_not(kind, p, None) is None]


async def carrier_down(dispatcher: CollectingDispatcher, tracker: Tracker, parcel: Parcel) -> list[EventType]:
    dispatcher.utter_message(text=t(reply_language(tracker), "I can't reach the carrier right now, so nothing "
                                    "was changed. I'm passing you to a person who can help."))
    events = await open_handoff(tracker, reason="carrier_error", shipment_id=parcel.id)
    return [*events, SlotSet("change_blocked", True), SlotSet("requested_slot", None)]


# -- committing ------------------------------------------------------------------------------------
