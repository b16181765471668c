"""Changing a delivery: reschedule, locker, instructions, neighbour or address, return.

One form (`change_form`) whose questions depend on the change asked for (`pending_request`). Every
change ends with an explicit confirmation; nothing is committed without "yes". "cancel" / "never
mind" leaves with nothing changed; "no, Sunday" at the confirmation is taken as a correction.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import texts
from actions.context import Context, Parcel, context_for, offer
from actions.handoff import open_handoff
from actions.questions import Ask
from actions.runtime import off_loop, runtime
from bot.carriers import Capability, CarrierError, ChangeRefused, TimeWindow
from bot.choices import option_number, parse_when, pick_by_name, pick_window
from bot.identity import normalise_postcode, normalise_tracking_number
from bot.timefmt import window as window_text

CAPABILITY = {"reschedule": Capability.RESCHEDULE, "locker": Capability.REDIRECT,
              "instructions": Capability.INSTRUCTIONS, "address": Capability.CHANGE_ADDRESS,
              "return": Capability.RETURNS}
SLOTS = {"reschedule": ["window_choice"], "locker": ["locker_choice"], "instructions": ["instructions_text"],
         "address": ["address_text"]}
FORM_SLOTS = ["parcel", "window_choice", "locker_choice", "instructions_text", "address_text", "return_items",
              "return_reason", "return_method", "return_option", "confirm_change"]
CANCEL = re.compile(r"^\s*(cancel|never\s*mind|nevermind|nvm|forget (it|that)|leave it|don'?t bother|no thanks?|"
                    r"nope,? (leave|forget) it|stop)\b[\s.!]*$", re.IGNORECASE)
RETURN_METHODS = [("locker", "Drop it at a locker (QR code, no printer)"),
                  ("pickup", "Carrier pickup from your door"), ("label", "Label by email, drop at any shop")]
MAX_OFFERED = 5
MAX_TEXT = 300
AGENT = " Reply AGENT for a person."


def _kind(tracker: Tracker) -> str:
    return str(tracker.get_slot("pending_request") or "")


def _encode_window(window: TimeWindow) -> str:
    return f"{window.start.isoformat()}|{window.end.isoformat()}"


def _decode_window(value: str) -> TimeWindow:
    start, end = value.split("|")
    return TimeWindow(datetime.fromisoformat(start), datetime.fromisoformat(end))


def _wants_cancel(tracker: Tracker) -> bool:
    text = tracker.latest_message.get("text") or ""
    return bool(CANCEL.match(text))


async def _context_and_parcel(tracker: Tracker) -> tuple[Context, Parcel | None]:
    ctx = await context_for(tracker)
    return ctx, ctx.current(_kind(tracker), tracker.get_slot("shipment_id"))


def _prefilled(tracker: Tracker) -> bool:
    """The form is starting: a value now came with the request itself, nobody was asked yet."""
    return tracker.get_slot("requested_slot") is None


INSTRUCTION_WORDS = re.compile(
    r"\b(door|back|front|side|porch|garage|garden|bins?|shed|code|reception|concierge|mailbox|letterbox|"
    r"gate|floor|stairs|behind|bell|buzzer|ring|knock|doorstep|step|balcony|terrace|under|next to|inside|outside)\b",
    re.IGNORECASE)


def _end_form() -> list[EventType]:
    return [SlotSet("change_blocked", True), SlotSet("requested_slot", None)]


class ValidateChangeForm(FormValidationAction):
    def name(self) -> str:
        return "validate_change_form"

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> list[str]:
        kind = _kind(tracker)
        if tracker.get_slot("change_blocked") or tracker.get_slot("change_cancelled") or kind not in CAPABILITY:
            return []
        ctx, parcel = await _context_and_parcel(tracker)
        if not ctx.verified:
            return []
        slots = [] if parcel is not None else ["parcel"]
        if kind == "return":
            method = tracker.get_slot("return_method")
            many_items = parcel is not None and sum(1 for i in parcel.items if i.get("returnable")) > 1
            slots += (["return_items"] if many_items else []) + ["return_reason", "return_method"]
            slots += ["return_option"] if method in ("locker", "pickup") else []
        else:
            slots += SLOTS[kind]
        return [*slots, "confirm_change"]

    # -- cancel, from any question ---------------------------------------------------------
    async def _cancelled(self, tracker: Tracker) -> dict[str, Any] | None:
        if _wants_cancel(tracker):
            return {"change_cancelled": True}
        return None

    async def validate_parcel(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                              domain: DomainDict) -> dict[str, Any]:
        if cancelled := await self._cancelled(tracker):
            return cancelled
        ctx = await context_for(tracker)
        candidates = ctx.eligible(_kind(tracker))
        text = str(value or "")
        number = option_number(text, len(candidates))
        wanted = normalise_tracking_number(text.split()[0] if text.split() else "")
        chosen = candidates[number - 1] if number else next((p for p in candidates if p.tracking_number == wanted), None)
        if chosen is None:
            dispatcher.utter_message(text="Please reply with the number of the parcel from the list.")
            return {"parcel": None}
        return {"parcel": chosen.tracking_number, "shipment_id": str(chosen.id)}

    async def validate_window_choice(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                     domain: DomainDict) -> dict[str, Any]:
        if cancelled := await self._cancelled(tracker):
            return cancelled
        ctx, parcel = await _context_and_parcel(tracker)
        if parcel is None:
            return {"window_choice": None}
        offered = [_decode_window(v) for v in tracker.get_slot("offered") or []]
        try:
            available = await off_loop(runtime().carrier(parcel.carrier).available_windows, parcel.tracking_number)
        except CarrierError:
            available = offered
        chosen, request = pick_window(str(value or ""), offered, available, now=ctx.now, tz=ctx.tz)
        if chosen is None and _prefilled(tracker):
            return {"window_choice": None}  # the request named no usable time: just ask
        if chosen is None:
            if request.empty:
                dispatcher.utter_message(text="Reply with a number from the list, or a day and time, "
                                              "e.g. \"saturday morning\" or \"tmrw after 5\".")
            else:
                dispatcher.utter_message(text="Sorry, there's no free window then (no deliveries on Sundays). "
                                              "Try another day or time, or pick a number.")
            return {"window_choice": None}
        return {"window_choice": _encode_window(chosen)}

    async def validate_locker_choice(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                     domain: DomainDict) -> dict[str, Any]:
        if cancelled := await self._cancelled(tracker):
            return cancelled
        if _prefilled(tracker):
            return await self._locker_named_in_request(tracker, str(value or ""))
        code = _pick_locker(tracker, str(value or ""))
        if code is None:
            dispatcher.utter_message(text="Reply with the number of a locker from the list, or its name.")
        return {"locker_choice": code}

    async def _locker_named_in_request(self, tracker: Tracker, text: str) -> dict[str, Any]:
        """"send it to the alexanderplatz locker": take it if that locker is near and has room."""
        _, parcel = await _context_and_parcel(tracker)
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

    async def validate_instructions_text(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                         domain: DomainDict) -> dict[str, Any]:
        if cancelled := await self._cancelled(tracker):
            return cancelled
        text = " ".join(str(value or "").split())
        if _prefilled(tracker) and (not INSTRUCTION_WORDS.search(text) or "instruction" in text.lower()):
            return {"instructions_text": None}  # "can I leave instructions?" is a request, not the instructions
        if len(text) < 3:
            dispatcher.utter_message(text="What should the driver do? E.g. \"leave it at the back door\".")
            return {"instructions_text": None}
        return {"instructions_text": text[:MAX_TEXT]}

    async def validate_address_text(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> dict[str, Any]:
        if cancelled := await self._cancelled(tracker):
            return cancelled
        parsed = parse_address_answer(str(value or ""))
        if parsed is None and _prefilled(tracker):
            return {"address_text": None}
        text = " ".join(str(value or "").split())[:MAX_TEXT]
        if parsed is None and re.search(r"\d|\b[A-ZÄÖÜ][a-zäöüß]+", text) and not re.search(r"\b1[0-4]\d{3}\b", text):
            parsed = f"N:{text}"  # answering "who?" with "Meyer, no 14": a neighbour
        if parsed is None:
            dispatcher.utter_message(text="Send a neighbour's name and house number (e.g. \"neighbour Meyer at no. 12\"), "
                                          "or a new address with its postcode.")
        return {"address_text": parsed}

    async def validate_return_items(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> dict[str, Any]:
        if cancelled := await self._cancelled(tracker):
            return cancelled
        _, parcel = await _context_and_parcel(tracker)
        items = [i for i in (parcel.items if parcel else []) if i.get("returnable")]
        text = str(value or "").lower()
        if re.search(r"\b(all|both|everything|every)\b", text):
            chosen = items
        else:
            numbers = {int(n) for n in re.findall(r"\b([1-9])\b", text)}
            chosen = [item for n, item in enumerate(items, start=1) if n in numbers or item["name"].lower() in text]
        if not chosen:
            dispatcher.utter_message(text="Reply with the item numbers, e.g. \"1\" or \"1 and 2\", or \"all\".")
            return {"return_items": None}
        return {"return_items": ",".join(item["sku"] for item in chosen)}

    async def validate_return_reason(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                     domain: DomainDict) -> dict[str, Any]:
        if cancelled := await self._cancelled(tracker):
            return cancelled
        text = " ".join(str(value or "").split())
        return {"return_reason": text[:200] if len(text) >= 2 else None}

    async def validate_return_method(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                     domain: DomainDict) -> dict[str, Any]:
        if cancelled := await self._cancelled(tracker):
            return cancelled
        text = str(value or "").lower()
        number = option_number(text, len(RETURN_METHODS))
        if number:
            return {"return_method": RETURN_METHODS[number - 1][0]}
        for key, words in (("locker", ("locker", "qr", "drop")), ("pickup", ("pick", "collect", "door")),
                           ("label", ("label", "email", "print", "shop"))):
            if any(word in text for word in words):
                return {"return_method": key}
        dispatcher.utter_message(text="Reply 1, 2 or 3.")
        return {"return_method": None}

    async def validate_return_option(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                     domain: DomainDict) -> dict[str, Any]:
        if cancelled := await self._cancelled(tracker):
            return cancelled
        if tracker.get_slot("return_method") == "locker":
            code = _pick_locker(tracker, str(value or ""))
            if code is None:
                dispatcher.utter_message(text="Reply with the number of a locker from the list, or its name.")
            return {"return_option": code}
        ctx, _ = await _context_and_parcel(tracker)
        offered = [_decode_window(v) for v in tracker.get_slot("offered") or []]
        chosen, _ = pick_window(str(value or ""), offered, offered, now=ctx.now, tz=ctx.tz)
        if chosen is None:
            dispatcher.utter_message(text="Reply with a number from the list, or a day and time.")
        return {"return_option": _encode_window(chosen) if chosen else None}

    async def validate_confirm_change(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                      domain: DomainDict) -> dict[str, Any]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        text = tracker.latest_message.get("text") or ""
        if value is True or intent == "affirm":
            return {"confirm_change": True}
        correction = await self._correction(text, tracker)
        if correction:
            return {**correction, "confirm_change": None}
        if value is False or intent == "deny" or _wants_cancel(tracker):
            return {"confirm_change": False}
        return {"confirm_change": None}  # asked again

    async def _correction(self, text: str, tracker: Tracker) -> dict[str, Any] | None:
        """"no, Sunday" / "the other locker, Hermannplatz": a new choice instead of a plain no."""
        kind = _kind(tracker)
        if kind == "reschedule":
            ctx, parcel = await _context_and_parcel(tracker)
            if parcel is None or parse_when(text, ctx.now, ctx.tz).empty:
                return None
            try:
                available = await off_loop(runtime().carrier(parcel.carrier).available_windows, parcel.tracking_number)
            except CarrierError:
                return None
            chosen, _ = pick_window(text, [], available, now=ctx.now, tz=ctx.tz)
            if chosen is None:
                return {"window_choice": None}  # asks again, with the options
            return {"window_choice": _encode_window(chosen)}
        if kind == "locker":
            code = _pick_locker(tracker, text, by_number=False)
            return {"locker_choice": code} if code and code != tracker.get_slot("locker_choice") else None
        if kind == "address":
            parsed = parse_address_answer(re.sub(r"^\s*(no|nope|nah)\b[,.!]?\s*", "", text, flags=re.IGNORECASE))
            if parsed is None and re.search(r"\d|\b[A-Z][a-z]+", text) and not re.match(r"(?i)\s*(no|nope)\s*$", text):
                parsed = f"N:{text.strip()}"  # the neighbour's details, given at the confirmation
            return {"address_text": parsed} if parsed and parsed != tracker.get_slot("address_text") else None
        if kind == "instructions" and INSTRUCTION_WORDS.search(text):
            cleaned = re.sub(r"^\s*(no|nope|nah|actually)\b[,.!]?\s*", "", text, flags=re.IGNORECASE)
            return {"instructions_text": " ".join(cleaned.split())[:MAX_TEXT]}
        return None


def _pick_locker(tracker: Tracker, text: str, *, by_number: bool = True) -> str | None:
    offered = tracker.get_slot("offered") or []  # [{"code", "name"}]
    entity = next(tracker.get_latest_entity_values("locker"), None)
    if by_number:
        number = option_number(text, len(offered))
        if number:
            return str(offered[number - 1]["code"])
    index = pick_by_name(entity or text, [str(o["name"]) for o in offered])
    return str(offered[index]["code"]) if index is not None else None


def parse_address_answer(text: str) -> str | None:
    """"neighbour meyer no 12" -> "N:meyer no 12"; "Oranienstr 5, 10999" -> "A:Oranienstr 5|10999"."""
    cleaned = " ".join(text.split())[:MAX_TEXT]
    if re.search(r"\b(neighbou?rs?|next door|nxt door)\b", cleaned, re.IGNORECASE) and not re.search(
            r"\b1[0-4]\d{3}\b", cleaned):
        filler = r"\b(pls|please|can|could|would|you|u|leave|give|drop|it|with|to|my|the|a|neighbou?rs?|next|door|" \
                 r"nxt|instead|deliver|parcel|package|if|i'?m|im|not|home|out|at|is|them|her|him|thx|thanks)\b"
        who = re.sub(r"\s+", " ", re.sub(filler, " ", cleaned, flags=re.IGNORECASE)).strip(" ,.?!")
        named = re.search(r"\d", who) or re.search(r"(?<!^)\b[A-ZÄÖÜ][a-zäöüß]+", cleaned)
        return f"N:{cleaned}" if len(who) >= 2 and named else None
    match = re.search(r"\b(1[0-4]\d{3})\b", cleaned)
    if match is None or normalise_postcode(match.group(1)) is None:
        return None
    line = cleaned[: match.start()].strip(" ,") or cleaned[match.end():].strip(" ,")
    line = re.sub(r"\s*,?\s*berlin\b", "", line, flags=re.IGNORECASE).strip(" ,")
    line = line.rsplit(":", 1)[-1].strip()
    return f"A:{line}|{match.group(1)}" if len(line) >= 4 else None


# -- the questions ---------------------------------------------------------------------------------
class AskParcel(Action):
    def name(self) -> str:
        return "action_ask_parcel"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        ctx = await context_for(tracker)
        candidates = ctx.eligible(_kind(tracker))[:MAX_OFFERED]
        if not candidates:
            text = ("I can't see a delivered order that can still be returned." if _kind(tracker) == "return"
                    else "I can't see a parcel on its way that I could change.")
            dispatcher.utter_message(text=text + AGENT)
            return _end_form()
        offer(dispatcher, tracker, "Which parcel?", [p.label for p in candidates])
        return []


class AskWindowChoice(Action):
    def name(self) -> str:
        return "action_ask_window_choice"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        ctx, parcel = await _context_and_parcel(tracker)
        if parcel is None:
            return _end_form()
        carrier = runtime().carrier(parcel.carrier)
        if Capability.WINDOWS not in carrier.capabilities or Capability.RESCHEDULE not in carrier.capabilities:
            dispatcher.utter_message(text="This carrier doesn't let me move deliveries." + AGENT)
            return _end_form()
        try:
            available = await off_loop(carrier.available_windows, parcel.tracking_number)
        except ChangeRefused as refused:
            dispatcher.utter_message(text=refused.reason + AGENT)
            return _end_form()
        except CarrierError:
            return await _carrier_down(dispatcher, tracker, parcel)
        if not available:
            dispatcher.utter_message(text="There are no free delivery windows in the next days." + AGENT)
            return _end_form()
        shown = _spread(available, MAX_OFFERED, ctx.tz)
        offer(dispatcher, tracker, f"When should parcel …{parcel.short} come?",
              [window_text(w.start, w.end, ctx.now, ctx.tz) for w in shown],
              footer="Or say a day/time, e.g. \"sat morning\".")
        return [SlotSet("offered", [_encode_window(w) for w in shown])]


def _spread(windows: list[TimeWindow], count: int, tz: str) -> list[TimeWindow]:
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


class AskLockerChoice(Action):
    def name(self) -> str:
        return "action_ask_locker_choice"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        _, parcel = await _context_and_parcel(tracker)
        if parcel is None:
            return _end_form()
        return await _offer_lockers(dispatcher, tracker, parcel, "Which locker?", check_redirect=True)


async def _offer_lockers(dispatcher: CollectingDispatcher, tracker: Tracker, parcel: Parcel, question: str,
                         *, check_redirect: bool) -> list[EventType]:
    carrier = runtime().carrier(parcel.carrier)
    if Capability.LOCKERS not in carrier.capabilities:
        dispatcher.utter_message(text="This carrier has no lockers I can use." + AGENT)
        return _end_form()
    if check_redirect and parcel.status in ("out_for_delivery",):
        dispatcher.utter_message(text="Your parcel is already out with the driver, so I can't send it to a locker now."
                                 + AGENT)
        return _end_form()
    try:
        lockers = await off_loop(carrier.nearby_lockers, parcel.tracking_number)
    except CarrierError:
        return await _carrier_down(dispatcher, tracker, parcel)
    usable = [lk for lk in lockers if lk.free > 0][:4]
    if not usable:
        dispatcher.utter_message(text="All lockers near you are full right now." + AGENT)
        return _end_form()
    options = []
    for lk in usable:
        hours = lk.opening_hours.get("mon", ["", ""])
        opening = "24h" if hours == ["00:00", "24:00"] else f"{hours[0]}-{hours[1]}"
        options.append(f"{lk.name}, {lk.distance_m / 1000:.1f} km, {opening}, {lk.free} free")
    offer(dispatcher, tracker, question, options)
    return [SlotSet("offered", [{"code": lk.code, "name": lk.name} for lk in usable])]


class AskReturnItems(Action):
    def name(self) -> str:
        return "action_ask_return_items"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        _, parcel = await _context_and_parcel(tracker)
        if parcel is None:
            return _end_form()
        items = [i["name"] for i in parcel.items if i.get("returnable")]
        offer(dispatcher, tracker, "Which item(s)? Reply e.g. \"1\" or \"all\".", items)
        return []


class AskReturnMethod(Action):
    def name(self) -> str:
        return "action_ask_return_method"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        offer(dispatcher, tracker, "How do you want to send it back? All free.", [text for _, text in RETURN_METHODS])
        return []


class AskReturnOption(Action):
    def name(self) -> str:
        return "action_ask_return_option"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        ctx, parcel = await _context_and_parcel(tracker)
        if parcel is None:
            return _end_form()
        if tracker.get_slot("return_method") == "locker":
            return await _offer_lockers(dispatcher, tracker, parcel, "Which locker will you drop it at?",
                                        check_redirect=False)
        try:
            windows = await off_loop(runtime().carrier(parcel.carrier).pickup_windows, parcel.tracking_number)
        except CarrierError:
            windows = []
        if not windows:
            dispatcher.utter_message(text="Pickup isn't available right now; a locker or an email label works." + AGENT)
            return _end_form()
        shown = _spread(windows, MAX_OFFERED, ctx.tz)
        offer(dispatcher, tracker, "When should we pick it up?",
              [window_text(w.start, w.end, ctx.now, ctx.tz) for w in shown])
        return [SlotSet("offered", [_encode_window(w) for w in shown])]


WITH_DRIVER_OR_DONE = {
    "out_for_delivery": "Your parcel is already out with the driver, so I can't change that now.",
    "at_locker": "Your parcel is already at the locker, so I can't change that now.",
}


def _too_late(kind: str, parcel: Parcel, dispatcher: CollectingDispatcher) -> list[EventType] | None:
    """Say plainly, before asking anything, when the parcel is past the point of changing."""
    if kind == "return":
        return None
    reason = WITH_DRIVER_OR_DONE.get(parcel.status)
    if reason is None:
        return None
    dispatcher.utter_message(text=reason + AGENT)
    return _end_form()


class _AskText(Ask):
    """A plain question, after checking the parcel can still be changed."""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        _, parcel = await _context_and_parcel(tracker)
        if parcel is None:
            return _end_form()
        if (stop := _too_late(_kind(tracker), parcel, dispatcher)) is not None:
            return stop
        return await super().run(dispatcher, tracker, domain)


class AskInstructions(_AskText):
    slot, text = "instructions_text", texts.ASK_INSTRUCTIONS


class AskAddress(_AskText):
    slot, text = "address_text", texts.ASK_ADDRESS


class AskConfirmChange(Action):
    def name(self) -> str:
        return "action_ask_confirm_change"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        ctx, parcel = await _context_and_parcel(tracker)
        if parcel is None:
            return _end_form()
        if (stop := _too_late(_kind(tracker), parcel, dispatcher)) is not None:
            return stop
        dispatcher.utter_message(text=f"{describe_change(tracker, ctx, parcel)}? Reply YES or NO.")
        return []


def describe_change(tracker: Tracker, ctx: Context, parcel: Parcel) -> str:
    kind = _kind(tracker)
    ref = f"parcel …{parcel.short}"
    if kind == "reschedule":
        w = _decode_window(tracker.get_slot("window_choice"))
        return f"Move {ref} to {window_text(w.start, w.end, ctx.now, ctx.tz)}"
    if kind == "locker":
        name = next((o["name"] for o in tracker.get_slot("offered") or []
                     if o["code"] == tracker.get_slot("locker_choice")), tracker.get_slot("locker_choice"))
        return f"Send {ref} to the {name} locker"
    if kind == "instructions":
        return f"Tell the driver for {ref}: \"{tracker.get_slot('instructions_text')}\""
    if kind == "address":
        value = str(tracker.get_slot("address_text"))
        if value.startswith("N:"):
            return f"Leave {ref} with a neighbour if you're out (your note: \"{value[2:]}\")"
        line, postcode = value[2:].split("|")
        return f"Deliver {ref} to {line}, {postcode}"
    if kind == "return":
        skus = str(tracker.get_slot("return_items") or "").split(",")
        names = [i["name"] for i in parcel.items if i["sku"] in skus] or [
            i["name"] for i in parcel.items if i.get("returnable")]
        method = tracker.get_slot("return_method")
        how = {"locker": "drop-off at a locker", "pickup": "pickup", "label": "an email label"}[str(method)]
        if method == "locker":
            name = next((o["name"] for o in tracker.get_slot("offered") or []
                         if o["code"] == tracker.get_slot("return_option")), "a")
            how = f"drop-off at the {name} locker"
        if method == "pickup":
            w = _decode_window(tracker.get_slot("return_option"))
            how = f"pickup {window_text(w.start, w.end, ctx.now, ctx.tz)}"
        return f"Return {', '.join(names)} by {how}"
    return "Make this change"


async def _carrier_down(dispatcher: CollectingDispatcher, tracker: Tracker, parcel: Parcel) -> list[EventType]:
    dispatcher.utter_message(text="I can't reach the carrier right now, so nothing was changed. "
                                  "I'm passing you to a person who can help.")
    events = await open_handoff(tracker, reason="carrier_error", shipment_id=parcel.id)
    return [*events, SlotSet("change_blocked", True), SlotSet("requested_slot", None)]


# -- committing ------------------------------------------------------------------------------------
def _reset() -> list[EventType]:
    return [SlotSet(slot, None) for slot in [*FORM_SLOTS, "offered", "pending_request"]] + [
        SlotSet("change_blocked", False), SlotSet("change_cancelled", False), SlotSet("wants_change", False)]


class CommitChange(Action):
    """The form is done: make the change through the carrier, or say why not. Nothing half-done."""

    def name(self) -> str:
        return "action_commit_change"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        if tracker.get_slot("change_blocked"):
            return _reset()
        ctx, parcel = await _context_and_parcel(tracker)
        if not ctx.verified:
            dispatcher.utter_message(text=texts.VERIFY_LOCKED)
            return _reset()
        if tracker.get_slot("change_cancelled") or tracker.get_slot("confirm_change") is not True or parcel is None:
            dispatcher.utter_message(text="OK, I've left it as it was.")
            return _reset()
        kind = _kind(tracker)
        try:
            text = await off_loop(_commit, kind, tracker.current_slot_values(), parcel, ctx)
        except ChangeRefused as refused:
            dispatcher.utter_message(text=f"Sorry, that didn't work: {refused.reason} Nothing was changed." + AGENT)
            return _reset()
        except CarrierError:
            events = await _carrier_down(dispatcher, tracker, parcel)
            return [*_reset(), *[e for e in events if e.get("name") not in ("change_blocked", "requested_slot")]]
        await off_loop(_replan, parcel.id, kind)
        dispatcher.utter_message(text=text)
        return [*_reset(), SlotSet("shipment_id", str(parcel.id))]


def _replan(shipment_id: int, kind: str) -> None:
    from bot.db import transaction
    from bot.notify import replan_after_change

    if kind != "return":
        with transaction(runtime().sessions) as session:
            replan_after_change(session, shipment_id=shipment_id, change=kind)


def _commit(kind: str, slots: dict[str, Any], parcel: Parcel, ctx: Context) -> str:
    """One carrier call; it either happens whole or raises (the carrier commits in one transaction)."""
    carrier = runtime().carrier(parcel.carrier)
    if CAPABILITY[kind] not in carrier.capabilities:
        raise ChangeRefused("This carrier doesn't offer that.")
    ref = f"parcel …{parcel.short}"
    if kind == "reschedule":
        window = carrier.reschedule(parcel.tracking_number, _decode_window(slots["window_choice"]))
        return f"Done: {ref} now comes {window_text(window.start, window.end, ctx.now, ctx.tz)}. We'll text you on the day."
    if kind == "locker":
        locker = carrier.redirect_to_locker(parcel.tracking_number, slots["locker_choice"])
        return (f"Done: {ref} goes to the {locker.name} locker ({locker.address}). "
                "You'll get the pickup code when it's there.")
    if kind == "instructions":
        carrier.set_instructions(parcel.tracking_number, slots["instructions_text"])
        return f"Done: the driver will see \"{slots['instructions_text']}\"."
    if kind == "address":
        value = str(slots["address_text"])
        if value.startswith("N:"):
            carrier.deliver_to_neighbour(parcel.tracking_number, value[2:])
            return f"Done: if you're out, the driver leaves {ref} with a neighbour (note: \"{value[2:]}\")."
        line, postcode = value[2:].split("|")
        carrier.change_address(parcel.tracking_number, address_line=line, postcode=postcode)
        return f"Done: {ref} will go to {line}, {postcode}."
    if kind == "return":
        skus = [s for s in str(slots.get("return_items") or "").split(",") if s] or [
            i["sku"] for i in parcel.items if i.get("returnable")]
        method = str(slots["return_method"])
        option = slots.get("return_option")
        label = carrier.create_return(
            parcel.tracking_number, items=skus, reason=str(slots["return_reason"]), method=method,
            locker_code=option if method == "locker" else None,
            pickup=_decode_window(option) if method == "pickup" and option else None,
        )
        if method == "locker":
            return (f"Return {label.rma} booked. At the {label.locker_name} locker, scan code {label.label_code} "
                    "and put the parcel in. No printer needed.")
        if method == "pickup" and label.pickup:
            return (f"Return {label.rma} booked: pickup {window_text(label.pickup.start, label.pickup.end, ctx.now, ctx.tz)}."
                    f" Have the parcel ready; the driver brings the label ({label.label_code}).")
        _email_label(parcel, label.rma, label.label_code)
        return f"Return {label.rma} booked. The label ({label.label_code}) is on its way to your email."
    raise ChangeRefused("I can't make that change.")


def _email_label(parcel: Parcel, rma: str, code: str) -> None:
    from bot.db import transaction
    from bot.models import Shipment
    from bot.outbox import record

    rt = runtime()
    if rt.settings.email_provider != "outbox":
        return  # SendGrid delivery of labels comes with the notification service
    with transaction(rt.sessions) as session:
        shipment = session.get(Shipment, parcel.id)
        assert shipment is not None
        record(session, channel="email", to=shipment.customer.email, sender=rt.settings.email_from,
               subject=f"Your return label {rma}", body=f"Return {rma}: print label {code} and drop the parcel at any shop.")
