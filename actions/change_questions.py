"""The change form's questions: which parcel, which window or locker, what to return and how."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import texts
from actions.change_common import (
    MAX_OFFERED,
    carrier_cannot,
    carrier_down,
    change_kind,
    changeable,
    context_and_parcel,
    encode_window,
    end_form,
    refusal,
    return_methods,
    spread,
    too_late,
    why_not,
    with_agent,
)
from actions.context import Parcel, context_for, offer
from actions.language import reply_language
from actions.questions import Ask
from actions.runtime import off_loop, runtime
from bot.carriers import Capability, CarrierError, ChangeRefused
from bot.text import t
from bot.timefmt import kilometres
from bot.timefmt import window as window_text


class AskParcel(Action):
    def name(self) -> str:
        return "action_ask_parcel"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        ctx = await context_for(tracker)
        kind = change_kind(tracker)
        language = reply_language(tracker)
        eligible = ctx.eligible(kind)
        candidates = changeable(ctx, kind)[:MAX_OFFERED]
        if not eligible:
            text = (t(language, "I can't see a delivered order that can still be returned.") if kind == "return"
                    else t(language, "I can't see a parcel on its way that I could change."))
            dispatcher.utter_message(text=with_agent(language, text))
            return end_form()
        if not candidates:  # say plainly why not, for each (at most two), before anything else
            first = eligible[0]
            if len({p.carrier for p in eligible}) == 1 and (
                    stop := carrier_cannot(kind, first, dispatcher, language)):
                return stop
            if len(eligible) == 1 and (stop := too_late(kind, first, dispatcher, language)):
                return stop
            reasons = " ".join(str(why_not(kind, p, language)) for p in eligible[:2])
            dispatcher.utter_message(text=with_agent(language, reasons))
            return end_form()
        # The parcels that can't have this change: why not, in a line, then the ones that can.
        blocked = [why_not(kind, p, language) for p in eligible if p not in candidates][:1]
        question = t(language, "Which parcel?") if not blocked else t(
            language, "{reason} Which parcel then?", reason=blocked[0])
        offer(dispatcher, tracker, question, [p.label for p in candidates])
        return [SlotSet("listed_parcels", [str(p.id) for p in candidates])]


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
            dispatcher.utter_message(text=with_agent(lang, refusal(lang, refused.code)))
            return end_form()
        except CarrierError:
            return await carrier_down(dispatcher, tracker, parcel)
        if not available:
            dispatcher.utter_message(text=with_agent(lang, t(lang, "There are no free delivery windows in the next days.")))
            return end_form()
        shown = spread(available, MAX_OFFERED, ctx.tz)
        offer(dispatcher, tracker, t(lang, "When should parcel …{ref} come?", ref=parcel.short),
              [window_text(w.start, w.end, ctx.now, ctx.tz, lang) for w in shown],
              footer=t(lang, "Or say a day/time, e.g. \"sat morning\"."))
        return [SlotSet("offered", [encode_window(w) for w in shown])]


class AskLockerChoice(Action):
    def name(self) -> str:
        return "action_ask_locker_choice"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        _, parcel = await context_and_parcel(tracker)
        if parcel is None:
            return end_form()
        return await _offer_lockers(dispatcher, tracker, parcel, t(reply_language(tracker), "Which locker?"),
                                    check_redirect=True)


async def _offer_lockers(dispatcher: CollectingDispatcher, tracker: Tracker, parcel: Parcel, question: str,
                         *, check_redirect: bool) -> list[EventType]:
    carrier, lang = runtime().carrier(parcel.carrier), reply_language(tracker)
    if check_redirect and (stop := carrier_cannot("locker", parcel, dispatcher, lang)) is not None:
        return stop
    if Capability.LOCKERS not in carrier.capabilities:
        dispatcher.utter_message(text=with_agent(lang, t(lang, "This carrier has no lockers I can use.")))
        return end_form()
    if check_redirect and parcel.status in ("out_for_delivery",):
        dispatcher.utter_message(text=with_agent(lang, t(
            lang, "Your parcel is already out with the driver, so I can't send it to a locker now.")))
        return end_form()
    try:
        lockers = await off_loop(carrier.nearby_lockers, parcel.tracking_number)
    except CarrierError:
        return await carrier_down(dispatcher, tracker, parcel)
    usable = [lk for lk in lockers if lk.free > 0][:4]
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


class AskReturnItems(Action):
    def name(self) -> str:
        return "action_ask_return_items"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        _, parcel = await context_and_parcel(tracker)
        if parcel is None:
            return end_form()
        items = [i["name"] for i in parcel.items if i.get("returnable")]
        offer(dispatcher, tracker, t(reply_language(tracker), "Which item(s)? Reply e.g. \"1\" or \"all\"."), items)
        return []


class AskReturnMethod(Action):
    def name(self) -> str:
        return "action_ask_return_method"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        _, parcel = await context_and_parcel(tracker)
        if parcel is None:
            return end_form()
        methods, lang = return_methods(parcel), reply_language(tracker)
        if not methods:
            return carrier_cannot("return", parcel, dispatcher, lang) or end_form()
        offer(dispatcher, tracker, t(lang, "How do you want to send it back? All free."),
              [t(lang, text) for _, text in methods])
        return []


class AskReturnOption(Action):
    def name(self) -> str:
        return "action_ask_return_option"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        ctx, parcel = await context_and_parcel(tracker)
        lang = reply_language(tracker)
        if parcel is None:
            return end_form()
        if tracker.get_slot("return_method") == "locker":
            return await _offer_lockers(dispatcher, tracker, parcel, t(lang, "Which locker will you drop it at?"),
                                        check_redirect=False)
        try:
            windows = await off_loop(runtime().carrier(parcel.carrier).pickup_windows, parcel.tracking_number)
        except CarrierError:
            windows = []
        if not windows:
            dispatcher.utter_message(text=with_agent(lang, t(
                lang, "Pickup isn't available right now; a locker or an email label works.")))
            return end_form()
        shown = spread(windows, MAX_OFFERED, ctx.tz)
        offer(dispatcher, tracker, t(lang, "When should we pick it up?"),
              [window_text(w.start, w.end, ctx.now, ctx.tz, lang) for w in shown])
        return [SlotSet("offered", [encode_window(w) for w in shown])]


class _AskText(Ask):
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


class AskInstructions(_AskText):
    slot, text = "instructions_text", texts.ASK_INSTRUCTIONS


class AskAddress(_AskText):
    slot, text = "address_text", texts.ASK_ADDRESS
