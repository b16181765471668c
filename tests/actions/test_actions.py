"""Actions on fresh trackers: the events and messages they return, and what they change."""

from __future__ import annotations

import asyncio
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions import texts
from actions.change_form import CommitChange, ValidateChangeForm
from actions.dialogue import Fallback
from actions.identity import ActionSessionStart, ValidateVerifyForm
from actions.track import ActionTrack
from bot.core.clock import sim_now
from bot.core.models import ConversationLink, Customer, Handoff, Shipment
from bot.core.runtime import Runtime
from bot.desk.handoff_desk import queue
from bot.text.timefmt import clock, window
from tests.actions.conftest import tracker

BERLIN = ZoneInfo("Europe/Berlin")


def run(coroutine):  # type: ignore[no-untyped-def]
    return asyncio.run(coroutine)


def slots(events: list[dict]) -> dict:  # type: ignore[type-arg]
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def first_customer_with(world: Runtime, status: str, *, only: bool = False) -> tuple[Customer, Shipment]:
    """A customer with a parcel in `status` (and, with `only`, no other parcel on its way)."""
    with world.sessions() as session:
        for customer in session.scalars(select(Customer).order_by(Customer.id)):
            active = [s for s in customer.shipments if s.status != "delivered"]
            if len(active) <= (1 if only else 2) and any(s.status == status for s in active):
                return customer, next(s for s in active if s.status == status)
    raise LookupError(status)


def test_track_answers_a_signed_phone_with_status_and_window(world: Runtime) -> None:
    customer, parcel = first_customer_with(world, "at_depot", only=True)
    dispatcher = CollectingDispatcher()
    events = run(ActionTrack().run(dispatcher, tracker("tracker_sms", sender_id=customer.phone), {}))
    text = " ".join(m["text"] for m in dispatcher.messages)
    assert f"Parcel {parcel.tracking_number[-4:]}" in text
    assert f"{clock(parcel.eta_start, customer.time_zone)}-{clock(parcel.eta_end, customer.time_zone)}" in text
    assert slots(events)["shipment_id"] == str(parcel.id)


def test_track_for_an_unknown_rest_sender_reveals_nothing(world: Runtime) -> None:
    dispatcher = CollectingDispatcher()
    state = tracker("tracker_sms", sender_id="rest:+4915120000001")
    state.events[-1]["input_channel"] = "rest"
    events = run(ActionTrack().run(dispatcher, state, {}))
    assert [m["text"] for m in dispatcher.messages] == [texts.ASK_TRACKING_NUMBER]
    assert slots(events)["verified"] is False


def test_verification_needs_both_to_match_and_links_the_conversation(world: Runtime) -> None:
    _, parcel = first_customer_with(world, "in_transit")
    wrong = "10999" if parcel.postcode != "10999" else "10115"
    dispatcher = CollectingDispatcher()
    refused = run(ValidateVerifyForm().validate_postcode(
        wrong, dispatcher, tracker("tracker_rest_verify", slots={"tracking_number": parcel.tracking_number}), {}))
    assert refused == {"tracking_number": None, "postcode": None, "verify_attempts": 1}
    assert dispatcher.messages[0]["text"] == texts.VERIFY_FAILED
    accepted = run(ValidateVerifyForm().validate_postcode(
        parcel.postcode, CollectingDispatcher(),
        tracker("tracker_rest_verify", slots={"tracking_number": parcel.tracking_number}), {}))
    assert accepted["verified"] is True and accepted["shipment_id"] == str(parcel.id)
    with world.sessions() as session:
        link = session.scalars(select(ConversationLink).where(ConversationLink.sender_id == "rest:unit-test")).one()
        assert (link.channel, link.shipment_id, link.verified) == ("rest", parcel.id, True)


def answer_window_choice(world: Runtime, text: str) -> dict:
    """`text` as the answer to "When should parcel … come?" for a parcel in transit."""
    customer, parcel = first_customer_with(world, "in_transit")
    state = tracker("tracker_sms", sender_id=customer.phone,
                    slots={"pending_request": "reschedule", "requested_slot": "window_choice", "offered": [],
                           "shipment_id": str(parcel.id)},
                    latest_message={"text": text, "intent": {"name": "inform"}})
    return run(ValidateChangeForm().validate_window_choice(text, CollectingDispatcher(), state, {}))


@pytest.mark.parametrize("text", ["tmrw after 5 pls", "morgen nach 17 Uhr", "morgen na vijven"])
def test_free_text_picks_tomorrow_after_five(world: Runtime, text: str) -> None:
    result = answer_window_choice(world, text)
    start = datetime.fromisoformat(result["window_choice"].split("|")[0]).astimezone(BERLIN)
    assert start.time() >= time(17) and start.date() == datetime(2026, 11, 25).date()


@pytest.mark.parametrize("text", ["never mind, ill be home after all", "vergiss es", "laat maar zitten"])
def test_a_cancel_in_any_language_ends_the_change(world: Runtime, text: str) -> None:
    result = answer_window_choice(world, text)
    assert result == {"change_cancelled": True}


@pytest.mark.parametrize(("text", "expected"), [("passt", True), ("ja, doe maar", True), ("nee", False),
                                                ("liever niet", False), ("hmm", None)])
def test_a_plain_yes_or_no_confirms_when_the_classifier_missed_it(world: Runtime, text: str, expected: bool | None) -> None:
    customer, parcel = first_customer_with(world, "in_transit")
    state = tracker("tracker_sms", sender_id=customer.phone,
                    slots={"pending_request": "reschedule", "requested_slot": "confirm_change",
                           "shipment_id": str(parcel.id)},
                    latest_message={"text": text, "intent": {"name": "inform"}})
    result = run(ValidateChangeForm().validate_confirm_change(None, CollectingDispatcher(), state, {}))
    assert result == {"confirm_change": expected}


@pytest.mark.parametrize(("text", "confidence", "expected"), [("asdf jkl", 0.53, None), ("sounds good", 0.93, True),
                                                              ("yes", 0.4, True)])
def test_only_a_sure_yes_confirms_a_change(world: Runtime, text: str, confidence: float, expected: bool | None) -> None:
    """Keyboard mash the classifier calls affirm at 0.53 must not move a parcel; a yes in words always does."""
    customer, parcel = first_customer_with(world, "in_transit")
    state = tracker("tracker_sms", sender_id=customer.phone,
                    slots={"pending_request": "reschedule", "requested_slot": "confirm_change",
                           "shipment_id": str(parcel.id)},
                    latest_message={"text": text, "intent": {"name": "affirm", "confidence": confidence}})
    result = run(ValidateChangeForm().validate_confirm_change(True, CollectingDispatcher(), state, {}))
    assert result == {"confirm_change": expected}


def test_nothing_is_committed_without_a_yes(world: Runtime) -> None:
    customer, parcel = first_customer_with(world, "in_transit")
    window = f"{datetime(2026, 11, 27, 10, tzinfo=BERLIN).isoformat()}|{datetime(2026, 11, 27, 12, tzinfo=BERLIN).isoformat()}"
    base = {"pending_request": "reschedule", "window_choice": window, "shipment_id": str(parcel.id)}
    dispatcher = CollectingDispatcher()
    run(CommitChange().run(dispatcher, tracker("tracker_sms", sender_id=customer.phone,
                                               slots={**base, "confirm_change": False}), {}))
    assert "left it as it was" in dispatcher.messages[0]["text"]
    with world.sessions() as session:
        assert session.get(Shipment, parcel.id).promised_start == parcel.promised_start
    dispatcher = CollectingDispatcher()
    events = run(CommitChange().run(dispatcher, tracker("tracker_sms", sender_id=customer.phone,
                                                        slots={**base, "confirm_change": True}), {}))
    assert dispatcher.messages[0]["text"].startswith("Done")
    assert slots(events)["pending_request"] is None  # the form's slots are cleared for the next request
    with world.sessions() as session:
        moved = session.get(Shipment, parcel.id).promised_start
        assert moved == datetime(2026, 11, 27, 10, tzinfo=BERLIN)
        assert moved - parcel.promised_start != timedelta(0)


def test_the_second_misunderstanding_in_a_row_hands_over(world: Runtime) -> None:
    customer, _ = first_customer_with(world, "in_transit")
    once = tracker("tracker_sms", sender_id=customer.phone)
    dispatcher = CollectingDispatcher()
    assert run(Fallback().run(dispatcher, once, {})) == []
    twice = tracker("tracker_sms", sender_id=customer.phone)
    twice.events += [{"event": "action", "name": "action_fallback"}, {"event": "action", "name": "action_listen"},
                     {"event": "user", "text": "glorp", "input_channel": "twilio", "parse_data": {}}]
    events = run(Fallback().run(CollectingDispatcher(), twice, {}))
    assert {"event": "pause", "timestamp": None} in events or any(e.get("event") == "pause" for e in events)
    with world.sessions() as session:
        handoff = session.scalars(select(Handoff)).one()
        assert (handoff.reason, handoff.customer_id) == ("misunderstood", customer.id)


def test_a_committed_change_cancels_the_planned_window_messages(world: Runtime) -> None:
    from bot.core.models import Notification

    customer, parcel = first_customer_with(world, "in_transit")
    with world.sessions() as session, session.begin():
        for trigger, status in [("day_before", "planned"), ("delivered", "planned"), ("out_for_delivery", "sent")]:
            session.add(Notification(customer_id=customer.id, shipment_id=parcel.id, trigger=trigger, channel="sms",
                                     template=trigger, locale="en", to_address=customer.phone, status=status,
                                     dedupe_key=f"{trigger}:{parcel.id}"))
    window = f"{datetime(2026, 11, 27, 10, tzinfo=BERLIN).isoformat()}|{datetime(2026, 11, 27, 12, tzinfo=BERLIN).isoformat()}"
    run(CommitChange().run(CollectingDispatcher(), tracker("tracker_sms", sender_id=customer.phone, slots={
        "pending_request": "reschedule", "window_choice": window, "shipment_id": str(parcel.id),
        "confirm_change": True}), {}))
    with world.sessions() as session:
        states = dict(session.execute(select(Notification.trigger, Notification.status)).all())
    assert states == {"day_before": "cancelled", "delivered": "planned", "out_for_delivery": "sent"}


def test_the_forms_plain_questions_are_domain_responses_with_the_actions_words() -> None:
    """Rasa asks these itself (no action server call); the actions quote the same words."""
    import yaml

    from bot.core.settings import ROOT

    domain = yaml.safe_load((ROOT / "domain.yml").read_text())
    responses, actions = domain["responses"], set(domain["actions"])
    for slot, text in (("tracking_number", texts.ASK_TRACKING_NUMBER), ("postcode", texts.ASK_POSTCODE),
                       ("return_reason", texts.ASK_RETURN_REASON)):
        assert responses[f"utter_ask_{slot}"] == [{"text": text}]
        assert f"action_ask_{slot}" not in actions  # it would be asked first, by a remote call


def test_a_german_customer_is_answered_in_german_with_german_dates(world: Runtime) -> None:
    customer, parcel = first_customer_with(world, "at_depot", only=True)
    dispatcher = CollectingDispatcher()
    run(ActionTrack().run(dispatcher, tracker("tracker_sms", sender_id=customer.phone, slots={"language": "de"}), {}))
    text = " ".join(m["text"] for m in dispatcher.messages)
    assert text.startswith(f"Paket {parcel.tracking_number[-4:]} ist unterwegs: ")
    with world.sessions() as session:
        now = sim_now(session)
    assert window(parcel.eta_start, parcel.eta_end, now, customer.time_zone, "de") in text  # "heute 10:00-12:00"
    assert " Verfolgen: http" in text and "Parcel" not in text and "Track:" not in text


def test_a_dutch_customer_confirms_and_is_told_in_dutch(world: Runtime) -> None:
    customer, parcel = first_customer_with(world, "in_transit")
    window_value = (f"{datetime(2026, 11, 27, 10, tzinfo=BERLIN).isoformat()}|"
                    f"{datetime(2026, 11, 27, 12, tzinfo=BERLIN).isoformat()}")
    dispatcher = CollectingDispatcher()
    run(CommitChange().run(dispatcher, tracker("tracker_sms", sender_id=customer.phone, slots={
        "pending_request": "reschedule", "window_choice": window_value, "shipment_id": str(parcel.id),
        "confirm_change": True, "language": "nl"}), {}))
    assert dispatcher.messages[0]["text"] == (f"Klaar: pakket …{parcel.tracking_number[-4:]} komt nu vr 27 nov "
                                               "10:00-12:00. We sturen je op de dag een bericht.")


def test_unknown_tracking_numbers_are_explained_in_the_conversations_language(world: Runtime) -> None:
    for language, start in (("de", "Das sieht nicht wie eine Sendungsnummer aus."),
                            ("nl", "Dat lijkt geen trackingnummer."), (None, "That doesn't look like")):
        dispatcher = CollectingDispatcher()
        state = tracker("tracker_rest_verify", slots={"language": language})
        ValidateVerifyForm().validate_tracking_number("hello", dispatcher, state, {})
        assert dispatcher.messages[0]["text"].startswith(start), language


def test_a_session_starts_in_the_customers_language_or_the_pages(world: Runtime) -> None:
    customer, _ = first_customer_with(world, "in_transit")
    with world.sessions() as session, session.begin():
        session.get(Customer, customer.id).locale = "nl"
    events = run(ActionSessionStart().run(CollectingDispatcher(), tracker("tracker_sms", sender_id=customer.phone), {}))
    assert slots(events)["language"] == "nl"
    # The web page's language (the chat widget sends it) wins; anything but en/de/nl is ignored.
    page = tracker("tracker_sms", sender_id=customer.phone, slots={"session_started_metadata": {"language": "de"}})
    assert slots(run(ActionSessionStart().run(CollectingDispatcher(), page, {})))["language"] == "de"
    page = tracker("tracker_sms", sender_id=customer.phone, slots={"session_started_metadata": {"language": "fr"}})
    assert slots(run(ActionSessionStart().run(CollectingDispatcher(), page, {})))["language"] == "nl"
    # Unknown and no hint: the language the last session ended in, or none at all.
    stranger = tracker("tracker_sms", sender_id="+4915199999999", slots={"language": "de"})
    assert slots(run(ActionSessionStart().run(CollectingDispatcher(), stranger, {})))["language"] == "de"
    assert "language" not in slots(run(ActionSessionStart().run(CollectingDispatcher(),
                                                                tracker("tracker_sms", sender_id="+4915199999999"), {})))


def test_the_agent_sees_the_language_the_bot_spoke(world: Runtime) -> None:
    customer, _ = first_customer_with(world, "in_transit")
    twice = tracker("tracker_sms", sender_id=customer.phone, slots={"language": "de"})
    twice.events += [{"event": "action", "name": "action_fallback"}, {"event": "action", "name": "action_listen"},
                     {"event": "user", "text": "glorp", "input_channel": "twilio", "parse_data": {}}]
    dispatcher = CollectingDispatcher()
    run(Fallback().run(dispatcher, twice, {}))
    assert dispatcher.messages[0]["text"].startswith("Entschuldigung, ich verstehe es immer noch nicht.")
    with world.sessions() as session:
        assert "\nLanguage: de\n" in session.scalars(select(Handoff)).one().summary
        assert [item["language"] for item in queue(session)] == ["German"]
