"""Another day: which window (a number or "sat morning"), a correction at the confirmation ("no, friday after 5")."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.change_common import (
    MAX_OFFERED,
    Answers,
    carrier_cannot,
    carrier_down,
    context_and_parcel,
    decode_window,
    encode_window,
    end_form,
    prefilled,
    spread,
    with_agent,
)
from actions.context import Context, Parcel, offer
from actions.language import reply_language
from actions.runtime import off_loop, runtime
from bot.carriers import CarrierError, ChangeRefused
from bot.changes import Asker, Kind, RescheduleRequest, reason_text
from bot.conversation.choices import parse_when, pick_window
from bot.text import t
from bot.text.offer_text import reschedule_offer
from bot.text.timefmt import window as window_text

SLOTS = ["window_choice"]


class AskWindowChoice(Action):
    def name(self) -> str:
        return "action_ask_window_choice"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        ctx, parcel = await context_and_parcel(tracker)
        lang = reply_language(tracker)
        if parcel is None:
            return end_form()
        if (stop := carrier_cannot("reschedule", parcel, dispatcher, lang)) is not None:
            return stop
        carrier = runtime().carrier(parcel.carrier)
        try:
            available = await off_loop(carrier.available_windows, parcel.tracking_number)
        except ChangeRefused as refused:
            dispatcher.utter_message(text=with_agent(lang, reason_text(lang, refused.code, Kind.RESCHEDULE)))
            return end_form()
        except CarrierError:
            return await carrier_down(dispatcher, tracker, parcel)
        if not available:
            dispatcher.utter_message(text=with_agent(lang, t(lang, "There are no free delivery windows in the next days.")))
            return end_form()
        shown = spread(available, MAX_OFFERED, ctx.tz)
        # Two SMS segments at most (bot/text/offer_text.py): no "…" in the question.
        offer(dispatcher, tracker, *reschedule_offer(lang, parcel.short, [(w.start, w.end) for w in shown],
                                                     now=ctx.now, tz=ctx.tz))
        return [SlotSet("offered", [encode_window(w) for w in shown])]


class RescheduleAnswers(Answers):
    async def validate_window_choice(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                     domain: DomainDict) -> dict[str, Any]:
        if early := await self._before_answer(dispatcher, tracker, "window_choice"):
            return early
        ctx, parcel = await context_and_parcel(tracker)
        if parcel is None:
            return {"window_choice": None}
        offered = [decode_window(v) for v in tracker.get_slot("offered") or []]
        try:
            available = await off_loop(runtime().carrier(parcel.carrier).available_windows, parcel.tracking_number)
        except CarrierError:
            available = offered
        chosen, request = pick_window(str(value or ""), offered, available, now=ctx.now, tz=ctx.tz)
        if chosen is None and prefilled(tracker) and request.empty:
            return {"window_choice": None}  # the request named no time: just ask
        if chosen is None:  # in the request too ("nächste Woche Freitag"): say so before the list, not silently
            if request.empty:
                dispatcher.utter_message(text=t(reply_language(tracker), "Reply with a number from the list, or a "
                                                "day and time, e.g. \"saturday morning\" or \"tmrw after 5\"."))
            elif request.weekday == 6 or any(day.weekday() == 6 for day in request.days):
                dispatcher.utter_message(text=t(reply_language(tracker), "Sorry, there's no free window then (no "
                                                "deliveries on Sundays). Try another day or time, or pick a number."))
            else:  # "nächste Woche Freitag" past the last window, "morgen um 7"
                dispatcher.utter_message(text=t(reply_language(tracker), "Sorry, there's no free window then. "
                                                "Try another day or time, or pick a number."))
            return {"window_choice": None}
        return {"window_choice": encode_window(chosen)}


async def correction(text: str, tracker: Tracker) -> dict[str, Any] | None:
    """"no, Sunday" at the confirmation: another window instead of a plain no."""
    ctx, parcel = await context_and_parcel(tracker)
    if parcel is None or parse_when(text, ctx.now, ctx.tz).empty:
        return None
    try:
        available = await off_loop(runtime().carrier(parcel.carrier).available_windows, parcel.tracking_number)
    except CarrierError:
        return None
    chosen, _ = pick_window(text, [], available, now=ctx.now, tz=ctx.tz)
    if chosen is None:
        return {"window_choice": None}  # asks again, with the options
    return {"window_choice": encode_window(chosen)}


def describe(tracker: Tracker, ctx: Context, parcel: Parcel, lang: str) -> str:
    w = decode_window(tracker.get_slot("window_choice"))
    return t(lang, "Move parcel …{ref} to {window}", ref=parcel.short,
             window=window_text(w.start, w.end, ctx.now, ctx.tz, lang))


def request(slots: dict[str, Any], who: Asker) -> RescheduleRequest:
    return RescheduleRequest(**asdict(who), window=decode_window(str(slots["window_choice"])))
