"""A locker instead of the door: which locker (a number or its name), "the other one, Hermannplatz" at the confirmation."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.change_common import (
    Answers,
    carrier_cannot,
    carrier_down,
    context_and_parcel,
    end_form,
    pick_locker,
    prefilled,
    too_late,
    with_agent,
)
from actions.context import Context, Parcel, offer
from actions.language import reply_language
from actions.runtime import off_loop, runtime
from bot.carriers import Capability, CarrierError
from bot.changes import Asker, LockerRequest
from bot.conversation.choices import pick_by_name
from bot.text import t
from bot.text.timefmt import kilometres

SLOTS = ["locker_choice"]
SHOWN = 4


class AskLockerChoice(Action):
    def name(self) -> str:
        return "action_ask_locker_choice"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        _, parcel = await context_and_parcel(tracker)
        if parcel is None:
            return end_form()
        return await offer_lockers(dispatcher, tracker, parcel, t(reply_language(tracker), "Which locker?"),
                                   check_redirect=True)


async def offer_lockers(dispatcher: CollectingDispatcher, tracker: Tracker, parcel: Parcel, question: str,
                        *, check_redirect: bool) -> list[EventType]:
    """The nearby lockers with room, as options (for a redirect, or a return's drop-off)."""
    carrier, lang = runtime().carrier(parcel.carrier), reply_language(tracker)
    if check_redirect and (stop := carrier_cannot("locker", parcel, dispatcher, lang)) is not None:
        return stop
    if Capability.LOCKERS not in carrier.capabilities:
        dispatcher.utter_message(text=with_agent(lang, t(lang, "This carrier has no lockers I can use.")))
        return end_form()
    if check_redirect and parcel.status == "out_for_delivery":
        dispatcher.utter_message(text=with_agent(lang, t(
            lang, "Your parcel is already out with the driver, so I can't send it to a locker now.")))
        return end_form()
    if check_redirect and (stop := too_late("locker", parcel, dispatcher, lang)) is not None:
        return stop
    try:
        lockers = await off_loop(carrier.nearby_lockers, parcel.tracking_number)
    except CarrierError:
        return await carrier_down(dispatcher, tracker, parcel)
    usable = [lk for lk in lockers if lk.free > 0][:SHOWN]
    if not usable:
        dispatcher.utter_message(text=with_agent(lang, t(lang, "All lockers near you are full right now.")))
        return end_form()
    options = []
    for lk in usable:
        hours = lk.opening_hours.get("mon", ["", ""])
        opening = t(lang, "24h") if hours == ["00:00", "24:00"] else f"{hours[0]}-{hours[1]}"
        options.append(t(lang, "{name}, {km} km, {opening}, {free} free", name=lk.name, km=kilometres(lk.distance_m, lang),
                         opening=opening, free=lk.free))
    offer(dispatcher, tracker, question, options)
    return [SlotSet("offered", [{"code": lk.code, "name": lk.name} for lk in usable])]


class LockerAnswers(Answers):
    async def validate_locker_choice(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                     domain: DomainDict) -> dict[str, Any]:
        if early := await self._before_answer(dispatcher, tracker, "locker_choice"):
            return early
        if prefilled(tracker):
            return await _named_in_request(tracker, str(value or ""))
        code = pick_locker(tracker, str(value or ""))
        if code is None:
            dispatcher.utter_message(text=t(reply_language(tracker),
                                            "Reply with the number of a locker from the list, or its name."))
        return {"locker_choice": code}


async def _named_in_request(tracker: Tracker, text: str) -> dict[str, Any]:
    """"send it to the alexanderplatz locker": take it if that locker is near and has room."""
    _, parcel = await context_and_parcel(tracker)
    if parcel is None:
        return {"locker_choice": None}
    try:
        lockers = await off_loop(runtime().carrier(parcel.carrier).nearby_lockers, parcel.tracking_number)
    except CarrierError:
        return {"locker_choice": None}
    usable = [lk for lk in lockers if lk.free > 0]
    entity = next(tracker.get_latest_entity_values("locker"), None)
    index = pick_by_name(entity or text, [lk.name for lk in usable])
    if index is None:
        return {"locker_choice": None}
    chosen = usable[index]
    return {"locker_choice": chosen.code, "offered": [{"code": chosen.code, "name": chosen.name}]}


def offered_name(tracker: Tracker, code: object) -> str | None:
    """The name of an offered locker, by its code."""
    return next((str(o["name"]) for o in tracker.get_slot("offered") or [] if o["code"] == code), None)


def correction(text: str, tracker: Tracker) -> dict[str, Any] | None:
    """"the other locker, Hermannplatz" at the confirmation."""
    code = pick_locker(tracker, text, by_number=False)
    return {"locker_choice": code} if code and code != tracker.get_slot("locker_choice") else None


def describe(tracker: Tracker, ctx: Context, parcel: Parcel, lang: str) -> str:
    code = tracker.get_slot("locker_choice")
    return t(lang, "Send parcel …{ref} to the {locker} locker", ref=parcel.short,
             locker=offered_name(tracker, code) or code)


def request(slots: dict[str, Any], who: Asker) -> LockerRequest:
    return LockerRequest(**asdict(who), locker_code=str(slots["locker_choice"]))
