"""The change form: one Rasa form (`change_form`) for every change, its questions depending on the change
asked for (`pending_request`). This module holds what every flow goes through (which parcel, the check,
the confirmation, the commit); each flow's own questions and answers are in its module (`actions/reschedule.py`,
`locker.py`, `instructions.py`, `address.py`, `returns.py`).

Every change ends with an explicit confirmation, asked only once the change service says the change can be
made now; nothing is committed without "yes". "cancel" / "never mind" leaves with nothing changed; "no,
Sunday" at the confirmation is taken as a correction.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import address, hold, instructions, locker, reschedule, returns, texts
from actions.change_common import (
    FORM_SLOTS,
    KINDS,
    MAX_OFFERED,
    asker,
    cannot_text,
    carrier_cannot,
    carrier_down,
    change_kind,
    changeable,
    context_and_parcel,
    end_form,
    too_late,
    wants_cancel,
    why_not,
    with_agent,
)
from actions.context import Context, Parcel, context_for, forget_context, offer
from actions.language import reply_language
from actions.parcel_choice import named_parcel
from actions.runtime import off_loop, runtime
from bot.carriers import Refusal
from bot.changes import CarrierDown, Refused, check, make
from bot.conversation.answers import is_no, said_yes, starts_with_no
from bot.conversation.choices import option_number, picks_the_only_option
from bot.text import t

FLOWS: dict[str, ModuleType] = {"reschedule": reschedule, "locker": locker, "instructions": instructions,
                                "address": address, "return": returns}


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


class AskConfirmChange(Action):
    """"Move parcel …1297 to tomorrow 18:00-20:00? Reply YES or NO.", once the service says it can be done."""

    def name(self) -> str:
        return "action_ask_confirm_change"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        if change_kind(tracker) in hold.KINDS:  # all of the customer's parcels, not one
            return await hold.ask_confirm(dispatcher, tracker)
        ctx, parcel = await context_and_parcel(tracker)
        if parcel is None:
            return end_form()
        lang, kind = reply_language(tracker), change_kind(tracker)
        if (stop := too_late(kind, parcel, dispatcher, lang)) is not None:
            return stop
        refused = await off_loop(check, runtime(), KINDS[kind], asker(ctx, parcel, lang))
        if refused is not None:  # before the question, not after the "yes"
            text = cannot_text(parcel, kind, lang) if refused.code == Refusal.NOT_OFFERED else with_agent(
                lang, refused.message)
            dispatcher.utter_message(text=text)
            return end_form()
        dispatcher.utter_message(text=t(lang, "{change}? Reply YES or NO.",
                                        change=describe_change(tracker, ctx, parcel, lang)))
        return []


def describe_change(tracker: Tracker, ctx: Context, parcel: Parcel, lang: str = "en") -> str:
    flow = FLOWS.get(change_kind(tracker))
    return flow.describe(tracker, ctx, parcel, lang) if flow is not None else t(lang, "Make this change")


def _reset() -> list[EventType]:
    return [SlotSet(slot, None) for slot in [*FORM_SLOTS, "offered", "pending_request", "hold_plan"]] + [
        SlotSet("change_blocked", False), SlotSet("change_cancelled", False), SlotSet("wants_change", False)]


class CommitChange(Action):
    """The form is done: the change service makes the change, or says why not. Nothing half-done."""

    def name(self) -> str:
        return "action_commit_change"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        if tracker.get_slot("change_blocked"):
            return _reset()
        ctx, parcel = await context_and_parcel(tracker)
        lang = reply_language(tracker)
        if not ctx.verified:
            dispatcher.utter_message(text=t(lang, texts.VERIFY_LOCKED))
            return _reset()
        if tracker.get_slot("change_cancelled"):
            dispatcher.utter_message(text=t(lang, "OK, nothing was changed."))
            return _reset()
        if tracker.get_slot("confirm_change") is True and change_kind(tracker) in hold.KINDS:
            await hold.commit(dispatcher, tracker)
            return _reset()
        flow = FLOWS.get(change_kind(tracker))
        if tracker.get_slot("confirm_change") is not True or parcel is None or flow is None:
            dispatcher.utter_message(text=t(lang, "OK, I've left it as it was."))
            return _reset()
        request = flow.request(tracker.current_slot_values(), asker(ctx, parcel, lang))
        outcome = await off_loop(make, runtime(), request)
        forget_context(tracker)
        if isinstance(outcome, Refused):
            dispatcher.utter_message(text=with_agent(lang, t(lang, "Sorry, that didn't work: {reason} Nothing was changed.",
                                                          reason=outcome.message)))
            return _reset()
        if isinstance(outcome, CarrierDown):
            events = await carrier_down(dispatcher, tracker, parcel)
            return [*_reset(), *[e for e in events if e.get("name") not in ("change_blocked", "requested_slot")]]
        dispatcher.utter_message(text=outcome.message)
        return [*_reset(), SlotSet("shipment_id", str(parcel.id))]


# The form's questions that need the database or the carrier, asked by the validation action right
# after validating (Rasa finds no `action_ask_<slot>` in the domain for these slots, so it asks nothing
# itself): one call to the action server per turn instead of two. Rasa still asks the plain ones
# (`utter_ask_<slot>` responses).
QUESTIONS: dict[str, Action] = {
    question.name().removeprefix("action_ask_"): question
    for question in (AskParcel(), reschedule.AskWindowChoice(), locker.AskLockerChoice(),
                     instructions.AskInstructions(), address.AskAddress(), returns.AskReturnItems(),
                     returns.AskReturnMethod(), returns.AskReturnOption(), hold.AskHoldPeriod(), AskConfirmChange())
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


class ValidateChangeForm(reschedule.RescheduleAnswers, locker.LockerAnswers, instructions.InstructionsAnswers,
                         address.AddressAnswers, returns.ReturnAnswers, hold.HoldAnswers, FormValidationAction):
    """Each flow's `validate_<slot>` comes from its module; which parcel and the confirmation are here."""

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
        if tracker.get_slot("change_blocked") or tracker.get_slot("change_cancelled") or kind not in FLOWS:
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
        if tracker.get_slot("change_blocked") or tracker.get_slot("change_cancelled") or kind not in [*FLOWS, *hold.KINDS]:
            return []
        ctx, parcel = await context_and_parcel(tracker)
        if not ctx.verified:
            return []
        if kind in hold.KINDS:
            return hold.required(tracker)
        slots = [] if parcel is not None else ["parcel"]
        slots += returns.required(tracker, parcel) if kind == "return" else FLOWS[kind].SLOTS
        return [*slots, "confirm_change"]

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

    @staticmethod
    async def _correction(text: str, tracker: Tracker) -> dict[str, Any] | None:
        """"no, Sunday" / "the other locker, Hermannplatz": a new choice instead of a plain no."""
        kind = change_kind(tracker)
        if kind in hold.KINDS:
            return await hold.correction(text, tracker)
        if kind == "reschedule":
            return await reschedule.correction(text, tracker)
        if kind in ("locker", "address", "instructions"):
            found: dict[str, Any] | None = FLOWS[kind].correction(text, tracker)
            return found
        return None
