"""The profile's actions with fresh trackers: ask once, save only on a YES to that question, show, delete."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.profile import AnswerProfileQuestion, ProposeProfileChange, ShowProfile
from bot.core.models import Customer, ProfileChange, RecipientProfile
from bot.core.runtime import Runtime
from tests.actions.conftest import tracker


def run(coroutine):  # type: ignore[no-untyped-def]
    return asyncio.run(coroutine)


def slots(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def customer(world: Runtime, locale: str = "en") -> Customer:
    with world.sessions() as session:
        found = session.scalars(select(Customer).where(Customer.locale == locale).order_by(Customer.id)).first()
        assert found is not None
        return found


def said(phone: str, text: str, intent: str, **slot_values: Any) -> Tracker:
    state = tracker("tracker_sms", sender_id=phone, slots=slot_values,
                    latest_message={"text": text, "intent": {"name": intent, "confidence": 0.95}})
    return state


def answered(phone: str, text: str, intent: str, change: str, *, after: str = "action_profile_propose") -> Tracker:
    state = said(phone, text, intent, profile_change=change, profile_question="confirm")
    last = state.events.pop()
    state.events += [{"event": "action", "name": after}, {"event": "action", "name": "action_listen"}, last]
    return state


def test_a_wish_is_asked_once_and_nothing_is_stored_before_yes(world: Runtime) -> None:
    person = customer(world)
    dispatcher = CollectingDispatcher()
    events = run(ProposeProfileChange().run(
        dispatcher, said(person.phone, "always leave my parcels with the neighbour at no. 14", "profile_set"), {}))
    (message,) = dispatcher.messages
    assert message["text"] == ('Save for all your parcels: leave parcels with the neighbour "no. 14" if you\'re out? '
                               "Reply YES or NO")
    assert slots(events)["profile_question"] == "confirm"
    assert json.loads(slots(events)["profile_change"]) == {"neighbour": "no. 14"}
    with world.sessions() as session:
        assert session.get(RecipientProfile, person.id) is None


def test_yes_to_the_question_saves_with_the_channel(world: Runtime) -> None:
    person = customer(world)
    dispatcher = CollectingDispatcher()
    change = json.dumps({"not_before": 600, "never_days": ["sat"]})
    events = run(AnswerProfileQuestion().run(dispatcher, answered(person.phone, "yes", "affirm", change), {}))
    assert dispatcher.messages[0]["text"] == ("Saved for all your new parcels: never before 10:00; never deliver on Saturday. "
                                            "Reply AGENT for a person.")
    assert slots(events)["profile_question"] is None
    with world.sessions() as session:
        row = session.get(RecipientProfile, person.id)
        assert row is not None and row.not_before == 600 and row.never_days == ["sat"]
        channels = session.scalars(select(ProfileChange.channel).where(ProfileChange.customer_id == person.id)).all()
        assert channels == ["sms", "sms"]


def test_no_or_a_late_yes_saves_nothing(world: Runtime) -> None:
    person = customer(world)
    change = json.dumps({"safe_place": "in the porch"})
    no = CollectingDispatcher()
    run(AnswerProfileQuestion().run(no, answered(person.phone, "no", "deny", change), {}))
    assert no.messages[0]["text"] == "OK, nothing was saved."
    late = CollectingDispatcher()
    run(AnswerProfileQuestion().run(late, answered(person.phone, "yes", "affirm", change, after="action_track"), {}))
    assert late.messages[0]["text"] == "OK, I've stopped. Nothing was changed."
    with world.sessions() as session:
        assert session.get(RecipientProfile, person.id) is None


def test_an_unverified_chat_keeps_the_wish_for_after_verification(world: Runtime) -> None:
    dispatcher = CollectingDispatcher()
    state = said("rest:someone", "never before 10", "profile_set")
    state.events[-1]["input_channel"] = "rest"
    events = run(ProposeProfileChange().run(dispatcher, state, {}))
    assert dispatcher.messages == []
    assert slots(events)["pending_request"] == "profile"
    assert json.loads(slots(events)["profile_change"]) == {"not_before": 600}


def test_german_wish_and_answer_in_german(world: Runtime) -> None:
    person = customer(world, "de")
    dispatcher = CollectingDispatcher()
    run(ProposeProfileChange().run(dispatcher, said(person.phone, "bitte nie vor 10 Uhr liefern", "profile_set",
                                                    language="de"), {}))
    assert dispatcher.messages[0]["text"] == "Für alle Ihre Pakete speichern: nie vor 10:00? Antworten Sie JA oder NEIN"


def test_show_says_what_is_stored_and_how_to_delete(world: Runtime) -> None:
    person = customer(world)
    empty = CollectingDispatcher()
    run(ShowProfile().run(empty, said(person.phone, "what do you have stored about me?", "profile_show"), {}))
    assert empty.messages[0]["text"].startswith("I have no delivery preferences saved for you.")
    run(AnswerProfileQuestion().run(CollectingDispatcher(), answered(
        person.phone, "yes", "affirm", json.dumps({"neighbour": "no. 14"})), {}))
    shown = CollectingDispatcher()
    run(ShowProfile().run(shown, said(person.phone, "what do you have stored about me?", "profile_show"), {}))
    assert "no. 14" in shown.messages[0]["text"] and "DELETE MY PREFERENCES" in shown.messages[0]["text"]


def test_delete_is_confirmed_then_done(world: Runtime) -> None:
    person = customer(world)
    run(AnswerProfileQuestion().run(CollectingDispatcher(), answered(
        person.phone, "yes", "affirm", json.dumps({"neighbour": "no. 14"})), {}))
    ask = CollectingDispatcher()
    events = run(ProposeProfileChange().run(ask, said(person.phone, "delete my preferences", "profile_delete"), {}))
    assert ask.messages[0]["text"].startswith("Delete all your saved delivery preferences?")
    done = CollectingDispatcher()
    run(AnswerProfileQuestion().run(done, answered(person.phone, "yes", "affirm", slots(events)["profile_change"]), {}))
    assert done.messages[0]["text"].startswith("Done: your delivery preferences are deleted")
    with world.sessions() as session:
        row = session.get(RecipientProfile, person.id)
        assert row is not None and row.neighbour is None
