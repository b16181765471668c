"""Validating the change form's answers: numbers, free text, cancel, corrections at the confirmation."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.change_common import (
    CAPABILITY,
    FORM_SLOTS,
    MAX_OFFERED,
    MAX_TEXT,
    SLOTS,
    carrier_cannot,
    change_kind,
    changeable,
    context_and_parcel,
    decode_window,
    encode_window,
    end_form,
    pick_locker,
    prefilled,
    return_methods,
    too_late,
    wants_cancel,
    why_not,
)
from actions.change_questions import (
    AskAddress,
    AskInstructions,
    AskLockerChoice,
    AskParcel,
    AskReturnItems,
    AskReturnMethod,
    AskReturnOption,
    AskWindowChoice,
)
from actions.changes import AskConfirmChange
from actions.context import context_for, offer
from actions.dialogue import return_lines
from actions.language import reply_language
from actions.parcel_choice import named_parcel
from actions.runtime import off_loop, runtime
from bot.answers import NO_PREFIX, is_no, said_yes, starts_with_no
from bot.carriers import CarrierError
from bot.choices import (
    INSTRUCTION_WORDS,
    option_number,
    parse_address_answer,
    parse_when,
    pick_by_name,
    pick_window,
    picks_the_only_option,
)
from bot.text import t

# Words of a note for the driver beyond the place words: who to ring, a pet, a parcel box, a time.
NOTE_WORDS = re.compile(r"\b(neighbou?rs?|leave|ring|call|text|knock|wait|dog|cat|box|flat|apartment|house|"
                        r"hall|lobby|entrance|porch|parcel|package|careful|fragile|heavy|home|door\w*)\b|\d",
                        re.IGNORECASE)
CHATTER = re.compile(r"\?\s*$|\b(lol|haha\w*|hehe|weather|joke|football|pizza|bored|hello|hi|hey|how are you|"
                     r"who are you|what are you|thanks?|thank you|bye|ok|okay|cool|nice)\b", re.IGNORECASE)
CHATTY_INTENTS = {"out_of_scope", "greet", "goodbye", "thank", "bot_challenge", "affirm"}
CONFIDENT = 0.6


def off_topic_answer(tracker: Tracker, text: str) -> bool:
    """An answer to "what should the driver know?" that is no note: NLU says out of scope (or small talk)
    with confidence, or it names no place, door or code and reads like chatter."""
    intent = tracker.latest_message.get("intent") or {}
    confident = float(intent.get("confidence") or 0) >= CONFIDENT
    if intent.get("name") == "out_of_scope" and confident:
        return True
    if INSTRUCTION_WORDS.search(text) or NOTE_WORDS.search(text):
        return False
    return bool(CHATTER.search(text)) or (intent.get("name") in CHATTY_INTENTS and confident)


# The form's questions that need the database or the carrier, asked by the validation action right
# after validating (Rasa finds no `action_ask_<slot>` in the domain for these slots, so it asks nothing
# itself): one call to the action server per turn instead of two. Rasa still asks the plain ones
# (`utter_ask_<slot>` responses).
QUESTIONS: dict[str, Action] = {
    question.name().removeprefix("action_ask_"): question
    for question in (AskParcel(), AskWindowChoice(), AskLockerChoice(), AskInstructions(), AskAddress(),
                     AskReturnItems(), AskReturnMethod(), AskReturnOption(), AskConfirmChange())
}


def _not_an_answer(tracker: Tracker) -> bool:
    """The form asked a question and the customer's message, straight before this call, filled no slot.

    Rasa then rejects the form for that message (FormAction.validate: nothing extracted, nothing
    validated) so other rules can answer it ("when is it coming now?"), and asks again when the form
    resumes. Its check counts any slot set by this call, so a question asked here (which sets
    `offered`) would stop the rejection: in this case the question waits for the resume.
    """
    if not tracker.get_slot("requested_slot") or tracker.slots_to_validate():
        return False
    if (tracker.active_loop or {}).get("name") != "change_form":
        return False
    since_user = []
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            break
        since_user.append(event)
    # Straight after the message: only its featurization, slots and the form's own execution (Rasa's
    # temporary tracker adds the last two).
    return all(e.get("event") in ("slot", "user_featurization")
               or (e.get("event") == "action" and e.get("name") == "change_form") for e in since_user)


class ValidateChangeForm(FormValidationAction):
    def name(self) -> str:
        return "validate_change_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        """Validate; check that the parcel's carrier can make the change at all (if not, say so now and end
        the form); then ask the next question here, in the same call (see QUESTIONS)."""
        digression = _not_an_answer(tracker)
        events = await super().run(dispatcher, tracker, domain)  # `tracker` now holds the validated slots
        if (stop := await self._cannot_change(dispatcher, tracker)) is not None:
            return [*[e for e in events if e.get("name") != "requested_slot"], *stop]
        if digression and not any(e.get("event") == "slot" and e.get("name") != "requested_slot" for e in events):
            return events  # Rasa rejects the form for this message; asking would set a slot and prevent that
        return [*events, *await self._ask_next(dispatcher, tracker, domain, events)]

    @staticmethod
    async def _cannot_change(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType] | None:
        """Once the parcel is known, before any question about the change itself: its state and its
        carrier must allow the change. If not, say why, and offer the customer's other parcels that can."""
        kind = change_kind(tracker)
        if tracker.get_slot("change_blocked") or tracker.get_slot("change_cancelled") or kind not in CAPABILITY:
            return None
        ctx, parcel = await context_and_parcel(tracker)
        if not ctx.verified or parcel is None:
            return None
        language = reply_language(tracker)
        reason = why_not(kind, parcel, language)
        if reason is None:
            return None
        others = [p for p in changeable(ctx, kind) if p.id != parcel.id][:MAX_OFFERED]
        if not others:
            return (too_late(kind, parcel, dispatcher, language) or carrier_cannot(kind, parcel, dispatcher, language)
                    or end_form())
        offer(dispatcher, tracker, t(language, "{reason} Which parcel then?", reason=reason),
              [p.label for p in others], footer=t(language, "Or say \"never mind\"."))
        cleared = [SlotSet(slot, None) for slot in FORM_SLOTS if slot != "confirm_change"]
        return [*cleared, SlotSet("shipment_id", None), SlotSet("listed_parcels", [str(p.id) for p in others]),
                SlotSet("requested_slot", "parcel")]

    @staticmethod
    async def _ask_next(dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict,
                        events: list[EventType]) -> list[EventType]:
        requested = [e.get("value") for e in events if e.get("event") == "slot" and e.get("name") == "requested_slot"]
        question = QUESTIONS.get(requested[-1]) if requested else None
        if question is None:
            return []
        tracker.slots["requested_slot"] = requested[-1]  # as Rasa's own tracker would hold it when asking
        return await question.run(dispatcher, tracker, domain)

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> list[str]:
        kind = change_kind(tracker)
        if tracker.get_slot("change_blocked") or tracker.get_slot("change_cancelled") or kind not in CAPABILITY:
            return []
        ctx, parcel = await context_and_parcel(tracker)
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

    # -- cancel, from any question; a question about returns in between --------------------------
    async def _cancelled(self, tracker: Tracker) -> dict[str, Any] | None:
        if wants_cancel(tracker):
            return {"change_cancelled": True}
        return None

    async def _before_answer(self, dispatcher: CollectingDispatcher, tracker: Tracker, slot: str) -> dict[str, Any] | None:
        """A cancel ends the change; "und wie ist der Stand der Rücksendung?" is answered, then the question
        comes again (the slot mappings take it as an answer, so Rasa's own digression rules never see it)."""
        if cancelled := await self._cancelled(tracker):
            return cancelled
        intent = tracker.latest_message.get("intent") or {}
        if intent.get("name") != "return_status" or float(intent.get("confidence") or 0) < CONFIDENT:
            return None
        ctx = await context_for(tracker)
        lang = reply_language(tracker)
        lines = await off_loop(return_lines, [p.id for p in ctx.parcels], lang)
        dispatcher.utter_message(text="\n".join(lines) if lines else t(lang, "I can't see a return for you yet."))
        return {slot: None}

    async def validate_parcel(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                              domain: DomainDict) -> dict[str, Any]:
        if early := await self._before_answer(dispatcher, tracker, "parcel"):
            return early
        ctx = await context_for(tracker)
        kind = change_kind(tracker)
        language = reply_language(tracker)
        candidates = changeable(ctx, kind)[:MAX_OFFERED]
        text = str(value or "")
        number = option_number(text, len(candidates))
        chosen = candidates[number - 1] if number else named_parcel(text, ctx.eligible(kind))
        if chosen is None and len(candidates) == 1 and picks_the_only_option(text):
            chosen = candidates[0]  # one parcel offered: "ja", "ok dann die andere", "de andere"
        if chosen is None:
            dispatcher.utter_message(text=t(language, "Please reply with the number of the parcel from the list, "
                                                      "or say \"never mind\"."))
            return {"parcel": None}
        if (reason := why_not(kind, chosen, language)) is not None:
            dispatcher.utter_message(text=t(language, "{reason} Please pick another parcel from the list, "
                                                      "or say \"never mind\".", reason=reason))
            return {"parcel": None}
        return {"parcel": chosen.tracking_number, "shipment_id": str(chosen.id)}

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

    async def validate_locker_choice(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                     domain: DomainDict) -> dict[str, Any]:
        if early := await self._before_answer(dispatcher, tracker, "locker_choice"):
            return early
        if prefilled(tracker):
            return await self._locker_named_in_request(tracker, str(value or ""))
        code = pick_locker(tracker, str(value or ""))
        if code is None:
            dispatcher.utter_message(text=t(reply_language(tracker),
                                                "Reply with the number of a locker from the list, or its name."))
        return {"locker_choice": code}

    async def _locker_named_in_request(self, tracker: Tracker, text: str) -> dict[str, Any]:
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

    async def validate_instructions_text(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                         domain: DomainDict) -> dict[str, Any]:
        if early := await self._before_answer(dispatcher, tracker, "instructions_text"):
            return early
        text = " ".join(str(value or "").split())
        asks = any(word in text.lower() for word in ("instruction", "anweisung", "hinweis", "instructie", "aanwijzing"))
        if prefilled(tracker) and (not INSTRUCTION_WORDS.search(text) or asks):
            return {"instructions_text": None}  # "can I leave instructions?" is a request, not the instructions
        if len(text) < 3:
            dispatcher.utter_message(text=t(reply_language(tracker),
                                            "What should the driver do? E.g. \"leave it at the back door\"."))
            return {"instructions_text": None}
        if not prefilled(tracker) and off_topic_answer(tracker, text):
            dispatcher.utter_message(text=t(reply_language(tracker), "That doesn't look like a note for the driver. "
                                                                     "Where should they leave it? Or say \"never mind\"."))
            return {"instructions_text": None}
        return {"instructions_text": text[:MAX_TEXT]}

    async def validate_address_text(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> dict[str, Any]:
        if early := await self._before_answer(dispatcher, tracker, "address_text"):
            return early
        parsed = parse_address_answer(str(value or ""))
        if parsed is None and prefilled(tracker):
            return {"address_text": None}
        text = " ".join(str(value or "").split())[:MAX_TEXT]
        if parsed is None and re.search(r"\d|\b[A-ZÄÖÜ][a-zäöüß]+", text) and not re.search(r"\b1[0-4]\d{3}\b", text):
            parsed = f"N:{text}"  # answering "who?" with "Meyer, no 14": a neighbour
        if parsed is None:
            dispatcher.utter_message(text=t(reply_language(tracker), "Send a neighbour's name and house number "
                                            "(e.g. \"neighbour Meyer at no. 12\"), or a new address with its postcode."))
        return {"address_text": parsed}

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
            return {"return_reason": text[:200], "return_method": methods[0][0]}
        return {"return_reason": text[:200]}

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

    async def validate_confirm_change(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                      domain: DomainDict) -> dict[str, Any]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        text = tracker.latest_message.get("text") or ""
        if wants_cancel(tracker):
            return {"confirm_change": False, "change_cancelled": True}
        confidence = (tracker.latest_message.get("intent") or {}).get("confidence")
        if said_yes(text, intent, confidence) or (value is True and intent != "affirm"):
            return {"confirm_change": True}
        correction = await self._correction(text, tracker)
        if correction:
            return {**correction, "confirm_change": None}
        if value is False or intent == "deny" or is_no(text) or starts_with_no(text):
            return {"confirm_change": False}  # "nee toch niet, ...": a no, not the question again
        return {"confirm_change": None}  # asked again

    async def _correction(self, text: str, tracker: Tracker) -> dict[str, Any] | None:
        """"no, Sunday" / "the other locker, Hermannplatz": a new choice instead of a plain no."""
        kind = change_kind(tracker)
        if kind == "reschedule":
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
        if kind == "locker":
            code = pick_locker(tracker, text, by_number=False)
            return {"locker_choice": code} if code and code != tracker.get_slot("locker_choice") else None
        if kind == "address":
            cleaned = NO_PREFIX.sub("", text)
            parsed = parse_address_answer(cleaned)
            if parsed is None and re.search(r"\d|\b[A-ZÄÖÜ][a-zäöüß]+", cleaned) and not is_no(text):
                parsed = f"N:{text.strip()}"  # the neighbour's details, given at the confirmation
            return {"address_text": parsed} if parsed and parsed != tracker.get_slot("address_text") else None
        if kind == "instructions" and INSTRUCTION_WORDS.search(text):
            cleaned = NO_PREFIX.sub("", text)
            return {"instructions_text": " ".join(cleaned.split())[:MAX_TEXT]}
        return None
