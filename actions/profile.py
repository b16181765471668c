"""The recipient profile in conversation: "always leave my parcels with the neighbour at no. 14", "never
before 10", "what do you have stored about me?", "delete my preferences".

Identity first (the rules send an unverified conversation through the verification form, which comes back
here through `action_after_verification`); then the wish is read (`bot.profile.words`), checked by the
store before anything is asked, and confirmed once ("Save for all your parcels: …? Reply YES or NO").
Only "yes" stores it; the conversation's channel is recorded with it.
"""

from __future__ import annotations

import json
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy import select

from actions.context import context_for
from actions.language import reply_language
from actions.runtime import channel_of, off_loop, runtime
from bot.conversation.answers import is_no, said_yes, starts_with_no
from bot.core.models import Locker
from bot.profile import By, InvalidValue, Item, delete_wishes, read, set_item
from bot.profile.store import clean
from bot.profile.words import describe, stored, wish_in
from bot.text import N_, t

CONFIRM = "confirm"
DELETE = "delete"
SHOW = "show"
PROFILE_INTENTS = ("profile_set", "profile_show", "profile_delete")
WANTED = {"profile_show": SHOW, "profile_delete": DELETE}
ASKED_BY = ("action_profile_propose", "action_after_verification")
WAY_OUT = N_("Reply AGENT for a person.")
WHAT_I_SAVE = N_("I can save for all your parcels: a neighbour or safe place, days and times that suit, a locker, "
                 "or what the driver should know (e.g. ring twice). Say it in one message.")


def _channel(tracker: Tracker) -> str:
    return {"twilio": "sms", "socketio": "web", "rest": "web"}.get(channel_of(tracker), "web")


def _said(tracker: Tracker) -> str:
    metadata = tracker.latest_message.get("metadata") or {}
    return str(metadata.get("text") or tracker.latest_message.get("text") or "")


def _lockers() -> dict[str, str]:
    with runtime().sessions() as session:
        return {code: name for code, name in session.execute(select(Locker.code, Locker.name))}


def _checked(items: dict[str, Any]) -> dict[str, Any] | None:
    """The items as the store would keep them, or None when one can't be kept."""
    with runtime().sessions() as session:
        try:
            return {item: clean(session, Item(item), value) for item, value in items.items()}
        except InvalidValue:
            return None


def _reset() -> list[EventType]:
    return [SlotSet("profile_question", None), SlotSet("profile_change", None)]


class ProposeProfileChange(Action):
    """Read the wish, check it, ask once: "Save for all your parcels: …? Reply YES or NO"."""

    def name(self) -> str:
        return "action_profile_propose"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        lang = reply_language(tracker)
        ctx = await context_for(tracker)
        intent = (tracker.latest_message.get("intent") or {}).get("name") or ""
        # A profile intent now, or what they asked before the verification form (kept in the slot).
        wanted = WANTED.get(intent) if intent in PROFILE_INTENTS else tracker.get_slot("profile_change")
        if not ctx.verified:  # the verification form asks next; what they wished waits in the slot
            if wanted is None:
                wanted = json.dumps(wish_in(_said(tracker), await off_loop(_lockers), lang))
            return [SlotSet("profile_change", wanted), SlotSet("pending_request", "profile"),
                    SlotSet("wants_change", False), SlotSet("profile_question", None)]
        if wanted == SHOW:
            return await ShowProfile().run(dispatcher, tracker, domain)
        if wanted == DELETE:
            dispatcher.utter_message(text=t(lang, "Delete all your saved delivery preferences? Parcels already on "
                                                  "their way keep their plans. Reply YES or NO"))
            return [SlotSet("profile_change", DELETE), SlotSet("profile_question", CONFIRM),
                    SlotSet("pending_request", None)]
        lockers = await off_loop(_lockers)
        wish = json.loads(wanted) if wanted else wish_in(_said(tracker), lockers, lang)
        if wish.get(Item.LOCKER.value, "") is None:
            names = ", ".join(sorted(lockers.values())[:6])
            dispatcher.utter_message(text=t(lang, "Which locker? Say its name, e.g. \"always use the locker at "
                                                  "{example}\". Lockers: {names}.", example=sorted(lockers.values())[0]
                                            if lockers else "", names=names))
            return [*_reset(), SlotSet("pending_request", None)]
        wish = {item: value for item, value in wish.items() if value is not None}
        checked = await off_loop(_checked, wish) if wish else None
        if not checked:
            dispatcher.utter_message(text=f"{t(lang, WHAT_I_SAVE)} {t(lang, WAY_OUT)}")
            return [*_reset(), SlotSet("pending_request", None)]
        dispatcher.utter_message(text=t(lang, "Save for all your parcels: {change}? Reply YES or NO",
                                        change=describe(lang, checked, lockers)))
        return [SlotSet("profile_change", json.dumps(checked)), SlotSet("profile_question", CONFIRM),
                SlotSet("pending_request", None)]


def _asked_last_turn(tracker: Tracker) -> bool:
    """The question was the bot's last turn: a "yes" hours later, after other talk, saves nothing."""
    seen_user = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            if seen_user:
                return False
            seen_user = True
        elif seen_user and event.get("event") == "action" and event.get("name") not in (None, "action_listen"):
            return event.get("name") in ASKED_BY
    return False


def _save(customer_id: int, change: str, channel: str) -> int:
    with runtime().sessions() as session, session.begin():
        if change == DELETE:
            return delete_wishes(session, customer_id=customer_id, by=By.CUSTOMER, channel=channel)
        changed = 0
        for item, value in json.loads(change).items():
            changed += set_item(session, customer_id=customer_id, item=Item(item), value=value, by=By.CUSTOMER,
                                channel=channel)
        return changed


class AnswerProfileQuestion(Action):
    """YES stores what was asked (once); NO or anything else leaves the profile as it was."""

    def name(self) -> str:
        return "action_profile_answer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        lang = reply_language(tracker)
        change = tracker.get_slot("profile_change")
        text = _said(tracker)
        intent = tracker.latest_message.get("intent") or {}
        yes = said_yes(text, intent.get("name"), intent.get("confidence")) and not starts_with_no(text)
        ctx = await context_for(tracker)
        asked = tracker.get_slot("profile_question") == CONFIRM and _asked_last_turn(tracker)
        if not change or not asked or not ctx.verified or ctx.customer_id is None:
            dispatcher.utter_message(text=t(lang, "OK, I've stopped. Nothing was changed."))
            return _reset()
        if not yes or is_no(text):
            dispatcher.utter_message(text=t(lang, "OK, nothing was saved."))
            return _reset()
        try:
            await off_loop(_save, ctx.customer_id, change, _channel(tracker))
        except InvalidValue:
            dispatcher.utter_message(text=f"{t(lang, WHAT_I_SAVE)} {t(lang, WAY_OUT)}")
            return _reset()
        if change == DELETE:
            dispatcher.utter_message(text=t(lang, "Done: your delivery preferences are deleted. New parcels won't "
                                                  "use them."))
        else:
            lockers = await off_loop(_lockers)
            dispatcher.utter_message(text=t(lang, "Saved for all your new parcels: {change}. Reply AGENT for a "
                                                  "person.", change=describe(lang, json.loads(change), lockers)))
        return _reset()


def _stored(customer_id: int) -> tuple[dict[str, Any], dict[str, str]]:
    with runtime().sessions() as session:
        profile = read(session, customer_id)
        lockers = {code: name for code, name in session.execute(select(Locker.code, Locker.name))}
        return (stored(profile) if profile is not None else {}), lockers


class ShowProfile(Action):
    """What is stored about them, in one message, with the way to delete it."""

    def name(self) -> str:
        return "action_profile_show"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        lang = reply_language(tracker)
        ctx = await context_for(tracker)
        if not ctx.verified or ctx.customer_id is None:
            return [SlotSet("profile_change", SHOW), SlotSet("pending_request", "profile")]
        items, lockers = await off_loop(_stored, ctx.customer_id)
        if not items:
            dispatcher.utter_message(text=t(lang, "I have no delivery preferences saved for you. Tell me one, e.g. "
                                                  "\"always leave my parcels with the neighbour at no. 14\"."))
        else:
            dispatcher.utter_message(text=t(lang, "Saved for all your parcels: {change}. Reply DELETE MY PREFERENCES "
                                                  "to remove them.", change=describe(lang, items, lockers)))
        return [*_reset(), SlotSet("pending_request", None)]
