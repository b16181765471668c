"""Away from home in the chat: "I'm away until the 12th, hold everything", "bis zum 12. bin ich im Urlaub",
"tot en met de 12e ben ik weg", "send them to the locker"; "cancel my hold", "I'm back".

It runs in the change form (`pending_request` "hold" or "unhold"), so identity first, cancel, a person, STOP and
the digressions work as for every change. Its questions: until when (unless the request said), then ONE
confirmation listing each parcel and its new plan, computed by the hold service before asking (nothing changes
until "yes"); the plan shown is kept in the `hold_plan` slot and is exactly what is made. The answer "12 Dec"
to "until when?" is a date here, not a window to pick.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy import select

from actions.change_common import Answers, end_form, prefilled, with_agent
from actions.context import Context, context_for, forget_context
from actions.language import reply_language
from actions.runtime import channel_of, off_loop, runtime
from bot.changes import Refused, Requester
from bot.changes.hold import HoldDone, HoldMode, HoldRequest, ParcelPlan, cancel, current_hold, make, plan
from bot.conversation.answers import fold
from bot.conversation.choices import pick_by_name
from bot.conversation.periods import parse_period
from bot.core.models import Locker
from bot.text import N_, hold_text, t

KINDS = ("hold", "unhold")
SLOTS = ["hold_period", "confirm_change"]
ASK_UNTIL = N_('Until which day are you away? E.g. "12 Dec" or "until Friday". Or say "never mind".')
NOT_A_DAY = N_('Sorry, which day? E.g. "12 Dec", "until Friday" or "next week". Or say "never mind".')
# "send them to the locker", "an die Packstation", "naar het pakketpunt"
LOCKER_WORDS = re.compile(r"\b(?:lockers?|parcel ?box|packstation|paketstation|abholstation|paketbox|schliessfach|"
                          r"locker\w*|pakketautomaat|pakketkluis|pakketpunt|kluisje|automaat|afhaalpunt)\b")
DOOR_WORDS = re.compile(r"\b(?:not? (?:to )?the locker|after|danach|nach|daarna|erna|na afloop|home|door|haustur|"
                        r"thuis|deur)\b")


def required(tracker: Tracker) -> list[str]:
    return ["confirm_change"] if tracker.get_slot("pending_request") == "unhold" else SLOTS


def _locker_names() -> list[str]:
    with runtime().sessions() as session:
        return list(session.scalars(select(Locker.name).order_by(Locker.id)))


def read_period(text: str, ctx: Context) -> dict[str, Any] | None:
    """The hold the words ask for: its days, to the door after it or to a locker (a named one)."""
    period = parse_period(text, ctx.now, ctx.tz)
    if period is None:
        return None
    return {"first": period.first.isoformat(), "last": period.last.isoformat(), **(read_mode(text) or {})}


def read_mode(text: str) -> dict[str, Any] | None:
    """"send them to the locker" / "to the Kollwitzplatz locker": the mode; None when the words say nothing of it."""
    folded = fold(text)
    if not LOCKER_WORDS.search(folded):
        return None
    names = _locker_names()
    index = pick_by_name(text, names)
    return {"mode": HoldMode.LOCKER.value, "locker": names[index] if index is not None else None}


def hold_request(tracker: Tracker, ctx: Context, period: dict[str, Any]) -> HoldRequest:
    assert ctx.customer_id is not None
    return HoldRequest(customer_id=ctx.customer_id, by=Requester.CUSTOMER, starts_on=date.fromisoformat(period["first"]),
                       ends_on=date.fromisoformat(period["last"]), mode=HoldMode(period.get("mode") or "reschedule"),
                       locker_name=period.get("locker"), language=reply_language(tracker),
                       channel=channel_of(tracker) or "chat", only=tuple(p.id for p in ctx.parcels))


class AskHoldPeriod(Action):
    def name(self) -> str:
        return "action_ask_hold_period"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(text=t(reply_language(tracker), ASK_UNTIL))
        return []


async def ask_confirm(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
    """The check, then the one question: each parcel due in the period and its new plan (or why it can't be held).
    None due yet: whether to hold the ones that come. None that can be held: said plainly, and the form ends."""
    ctx = await context_for(tracker)
    lang = reply_language(tracker)
    if tracker.get_slot("pending_request") == "unhold":
        assert ctx.customer_id is not None
        held = await off_loop(current_hold, runtime(), ctx.customer_id)
        if held is None:
            dispatcher.utter_message(text=with_agent(lang, hold_text.no_hold(lang)))
            return end_form()
        dispatcher.utter_message(text=hold_text.cancel_question(lang, last=held[1]))
        return []
    period = tracker.get_slot("hold_period")
    events: list[EventType] = []
    if isinstance(period, str):  # said before the customer was verified: read now
        period = await off_loop(read_period, period, ctx)
        if period is None:
            dispatcher.utter_message(text=t(lang, ASK_UNTIL))
            return [SlotSet("hold_period", None), SlotSet("requested_slot", "hold_period")]
        events.append(SlotSet("hold_period", period))
    if not isinstance(period, dict):
        return end_form()
    found = await off_loop(plan, runtime(), hold_request(tracker, ctx, period))
    if isinstance(found, Refused):
        dispatcher.utter_message(text=with_agent(lang, found.message))
        return end_form()
    if found.parcels and not found.movable:  # none can be held: say which and why, ask nothing
        dispatcher.utter_message(text=hold_text.outcome(lang, last=found.request.ends_on, done=[],
                                                        failed=[p.line() for p in found.parcels], now=found.now,
                                                        tz=found.tz))
        return [*events, *end_form()]
    dispatcher.utter_message(text=found.question())
    return [*events, SlotSet("hold_plan", [p.to_dict() for p in found.parcels])]


async def commit(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """After "yes": the plan that was shown, made parcel by parcel; the outcome per parcel."""
    ctx = await context_for(tracker)
    lang = reply_language(tracker)
    assert ctx.customer_id is not None
    if tracker.get_slot("pending_request") == "unhold":
        ended = await off_loop(cancel, runtime(), customer_id=ctx.customer_id, by=Requester.CUSTOMER, language=lang)
        dispatcher.utter_message(text=ended.message)
        return
    period, shown = tracker.get_slot("hold_period"), tracker.get_slot("hold_plan")
    if not isinstance(period, dict) or not isinstance(shown, list):
        dispatcher.utter_message(text=t(lang, "OK, I've left it as it was."))
        return
    visible = {p.id for p in ctx.parcels}
    confirmed = [ParcelPlan.from_dict(p) for p in shown if isinstance(p, dict) and int(p["shipment_id"]) in visible]
    done = await off_loop(make, runtime(), hold_request(tracker, ctx, period), confirmed)
    forget_context(tracker)
    text = done.message if isinstance(done, HoldDone) else with_agent(lang, done.message)
    dispatcher.utter_message(text=text)


class HoldAnswers(Answers):
    """The hold's answer, mixed into the change form's validation action."""

    async def validate_hold_period(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                   domain: DomainDict) -> dict[str, Any]:
        if early := await self._before_answer(dispatcher, tracker, "hold_period"):
            return early
        if tracker.get_slot("pending_request") not in KINDS:
            return {"hold_period": None}
        if isinstance(value, dict):
            return {"hold_period": value}
        ctx = await context_for(tracker)
        period = await off_loop(read_period, str(value or ""), ctx)
        if period is None and not prefilled(tracker):
            dispatcher.utter_message(text=t(reply_language(tracker), NOT_A_DAY))
        return {"hold_period": period}


async def correction(text: str, tracker: Tracker) -> dict[str, Any] | None:
    """At the confirmation: "no, until the 14th", "send them to the locker instead", "no, to my door after"."""
    if tracker.get_slot("pending_request") != "hold":
        return None
    period = tracker.get_slot("hold_period")
    if not isinstance(period, dict):
        return None
    ctx = await context_for(tracker)
    new_days = await off_loop(read_period, text, ctx)
    mode = await off_loop(read_mode, text)
    if new_days is None and mode is None:
        if period.get("mode") == HoldMode.LOCKER.value and DOOR_WORDS.search(fold(text)):
            return {"hold_period": {**period, "mode": HoldMode.RESCHEDULE.value, "locker": None}, "hold_plan": None}
        return None
    changed = {**period, **({k: new_days[k] for k in ("first", "last")} if new_days else {}), **(mode or {})}
    return {"hold_period": changed, "hold_plan": None}

