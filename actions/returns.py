"""A return: which items, why, how (a locker drop-off, a pickup, a label by email) and where or when."""

from __future__ import annotations

import re
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
    context_and_parcel,
    decode_window,
    encode_window,
    end_form,
    pick_locker,
    spread,
    with_agent,
)
from actions.context import Context, Parcel, offer
from actions.language import reply_language
from actions.locker import offer_lockers, offered_name
from actions.runtime import off_loop, runtime
from bot.carriers import CarrierError
from bot.changes import RETURN_METHODS, Asker, ReturnRequest
from bot.changes.returns import methods as carrier_methods
from bot.conversation.choices import option_number, pick_window
from bot.text import N_, t
from bot.text.timefmt import window as window_text

RETURN_HOW = {"locker": N_("drop-off at a locker"), "pickup": N_("pickup"), "label": N_("an email label")}
MAX_REASON = 200


def return_methods(parcel: Parcel) -> list[tuple[str, str]]:
    """The return methods offered for this parcel (those its carrier does, in our usual order), with their text."""
    return [(key, RETURN_METHODS[key]) for key in carrier_methods(runtime().carrier(parcel.carrier))]


def required(tracker: Tracker, parcel: Parcel | None) -> list[str]:
    """The return's questions: the items (when there is a choice), why, how, and where or when."""
    method = tracker.get_slot("return_method")
    many_items = parcel is not None and sum(1 for i in parcel.items if i.get("returnable")) > 1
    return ((["return_items"] if many_items else []) + ["return_reason", "return_method"]
            + (["return_option"] if method in ("locker", "pickup") else []))


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
            return await offer_lockers(dispatcher, tracker, parcel, t(lang, "Which locker will you drop it at?"),
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


class ReturnAnswers(Answers):
    async def validate_return_items(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> dict[str, Any]:
        if early := await self._before_answer(dispatcher, tracker, "return_items"):
            return early
        _, parcel = await context_and_parcel(tracker)
        items = [i for i in (parcel.items if parcel else []) if i.get("returnable")]
        text = str(value or "").lower()
        if re.search(r"\b(all|both|everything|every|alle|alles|beide|beiden|allemaal|allebei)\b", text):
            chosen = items
        else:
            numbers = {int(n) for n in re.findall(r"\b([1-9])\b", text)}
            chosen = [item for n, item in enumerate(items, start=1) if n in numbers or item["name"].lower() in text]
        if not chosen:
            dispatcher.utter_message(text=t(reply_language(tracker),
                                            "Reply with the item numbers, e.g. \"1\" or \"1 and 2\", or \"all\"."))
            return {"return_items": None}
        return {"return_items": ",".join(item["sku"] for item in chosen)}

    async def validate_return_reason(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                     domain: DomainDict) -> dict[str, Any]:
        if early := await self._before_answer(dispatcher, tracker, "return_reason"):
            return early
        text = " ".join(str(value or "").split())
        if len(text) < 2:
            return {"return_reason": None}
        _, parcel = await context_and_parcel(tracker)
        methods = return_methods(parcel) if parcel is not None else []
        if len(methods) == 1:  # the carrier does one kind of return only: nothing to ask
            return {"return_reason": text[:MAX_REASON], "return_method": methods[0][0]}
        return {"return_reason": text[:MAX_REASON]}

    async def validate_return_method(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                     domain: DomainDict) -> dict[str, Any]:
        if early := await self._before_answer(dispatcher, tracker, "return_method"):
            return early
        _, parcel = await context_and_parcel(tracker)
        methods = [key for key, _ in return_methods(parcel)] if parcel is not None else []
        text = str(value or "").lower()
        number = option_number(text, len(methods))
        if number:
            return {"return_method": methods[number - 1]}
        for key, words in (("locker", ("locker", "qr", "drop", "packstation", "automat", "automaat", "kluis")),
                           ("pickup", ("pick", "collect", "door", "abhol", "tür", "ophalen", "deur")),
                           ("label", ("label", "email", "print", "shop", "etikett", "druck", "winkel", "filiale"))):
            if key in methods and any(word in text for word in words):
                return {"return_method": key}
        numbers = [str(n) for n in range(1, len(methods) + 1)]
        lang = reply_language(tracker)
        dispatcher.utter_message(text=t(lang, "Reply {numbers} or {last}.", numbers=", ".join(numbers[:-1]),
                                        last=numbers[-1]) if len(numbers) > 1 else t(lang, "Reply 1."))
        return {"return_method": None}

    async def validate_return_option(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                     domain: DomainDict) -> dict[str, Any]:
        if early := await self._before_answer(dispatcher, tracker, "return_option"):
            return early
        if tracker.get_slot("return_method") == "locker":
            code = pick_locker(tracker, str(value or ""))
            if code is None:
                dispatcher.utter_message(text=t(reply_language(tracker),
                                                "Reply with the number of a locker from the list, or its name."))
            return {"return_option": code}
        ctx, _ = await context_and_parcel(tracker)
        offered = [decode_window(v) for v in tracker.get_slot("offered") or []]
        chosen, _ = pick_window(str(value or ""), offered, offered, now=ctx.now, tz=ctx.tz)
        if chosen is None:
            dispatcher.utter_message(text=t(reply_language(tracker), "Reply with a number from the list, or a day and time."))
        return {"return_option": encode_window(chosen) if chosen else None}


def _skus(slots: dict[str, Any]) -> list[str]:
    """The chosen items; none chosen (one returnable item, nothing asked) means every returnable item."""
    return [s for s in str(slots.get("return_items") or "").split(",") if s]


def describe(tracker: Tracker, ctx: Context, parcel: Parcel, lang: str) -> str:
    skus = _skus(tracker.current_slot_values())
    names = [i["name"] for i in parcel.items if i["sku"] in skus] or [
        i["name"] for i in parcel.items if i.get("returnable")]
    method = str(tracker.get_slot("return_method"))
    how = t(lang, RETURN_HOW[method])
    if method == "locker" and (name := offered_name(tracker, tracker.get_slot("return_option"))):
        how = t(lang, "drop-off at the {locker} locker", locker=name)
    if method == "pickup":
        w = decode_window(tracker.get_slot("return_option"))
        how = t(lang, "pickup {window}", window=window_text(w.start, w.end, ctx.now, ctx.tz, lang))
    return t(lang, "Return {items} by {how}", items=", ".join(names), how=how)


def request(slots: dict[str, Any], who: Asker) -> ReturnRequest:
    method, option = str(slots["return_method"]), slots.get("return_option")
    return ReturnRequest(**asdict(who), items=_skus(slots), reason=str(slots["return_reason"]), method=method,
                         locker_code=str(option) if method == "locker" and option else None,
                         pickup=decode_window(str(option)) if method == "pickup" and option else None)
