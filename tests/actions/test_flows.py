"""Issue 14's conversation faults, at the action level: a missing parcel, which parcel a change is
about, "never mind" at every step, and off-topic answers to "what should the driver know?"."""

from __future__ import annotations

import asyncio
import inspect
from datetime import timedelta
from typing import Any

import pytest
import yaml
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.change_form import CommitChange, ValidateChangeForm
from actions.dialogue import RememberRequest
from actions.missing import ReportMissing
from actions.track import ActionTrack
from bot.core.clock import sim_now
from bot.core.models import Customer, Handoff, Shipment
from bot.core.runtime import Runtime
from bot.core.settings import ROOT
from tests.actions.conftest import tracker

MISSING = "it says my parcel was delivered but i never got it"


def run(coroutine):  # type: ignore[no-untyped-def]
    return asyncio.run(coroutine)


def slots(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def said(dispatcher: CollectingDispatcher) -> str:
    return "\n".join(str(m.get("text") or "") for m in dispatcher.messages)


def message(text: str, intent: str, confidence: float = 0.9, entities: list[dict[str, Any]] | None = None
            ) -> dict[str, Any]:
    return {"text": text, "intent": {"name": intent, "confidence": confidence}, "entities": entities or []}


def customer_with_delivered(world: Runtime) -> tuple[Customer, Shipment]:
    """The first demo customer: a parcel delivered yesterday and one on its way today."""
    with world.sessions() as session:
        for customer in session.scalars(select(Customer).order_by(Customer.id)):
            delivered = [s for s in customer.shipments if s.status == "delivered"]
            if delivered and any(s.status != "delivered" for s in customer.shipments):
                return customer, delivered[0]
    raise LookupError("delivered")


def customer_with_two_in_flight(world: Runtime) -> tuple[Customer, list[Shipment]]:
    with world.sessions() as session:
        for customer in session.scalars(select(Customer).order_by(Customer.id)):
            moving = [s for s in customer.shipments if s.status in ("at_depot", "in_transit")]
            if len(moving) >= 2:
                return customer, moving
    raise LookupError("two in flight")


def update(world: Runtime, shipment_id: int, **values: Any) -> None:
    with world.sessions() as session, session.begin():
        shipment = session.get(Shipment, shipment_id)
        assert shipment is not None
        for key, value in values.items():
            setattr(shipment, key, value)


def now(world: Runtime) -> Any:
    with world.sessions() as session:
        return sim_now(session)


# -- 1. "delivered but I never got it" --------------------------------------------------------------

def test_a_missing_parcel_gets_its_proof_of_delivery_and_a_question_not_a_tracking_list(world: Runtime) -> None:
    customer, parcel = customer_with_delivered(world)
    update(world, parcel.id, instructions="leave it behind the bins")
    dispatcher = CollectingDispatcher()
    state = tracker("tracker_sms", sender_id=customer.phone, latest_message=message(MISSING, "report_missing"))
    events = run(ReportMissing().run(dispatcher, state, {}))
    text = said(dispatcher)
    assert f"…{parcel.tracking_number[-4:]} shows as delivered" in text
    assert "behind the bins" in text  # the instructions in force, as a place to look
    assert "Found it? Reply YES if you have it, NO if not." in text
    assert "on the way" not in text and "Track:" not in text  # no tracking list
    assert slots(events)["claim_question"] == "missing_check" and slots(events)["shipment_id"] == str(parcel.id)
    with world.sessions() as session:
        assert session.scalars(select(Handoff)).first() is None  # a person on AGENT, a claim on NO


def test_several_delivered_parcels_ask_which_and_a_number_picks_one(world: Runtime) -> None:
    customer, parcel = customer_with_delivered(world)
    with world.sessions() as session:
        other = next(s for s in session.get(Customer, customer.id).shipments if s.status != "delivered")
    update(world, other.id, status="delivered", delivered_at=now(world) - timedelta(hours=3))
    dispatcher = CollectingDispatcher()
    state = tracker("tracker_sms", sender_id=customer.phone, latest_message=message(MISSING, "report_missing"))
    events = run(ReportMissing().run(dispatcher, state, {}))
    assert "Which parcel is missing?" in said(dispatcher)
    assert "1. " in said(dispatcher) and "2. " in said(dispatcher)
    listed = slots(events)["listed_parcels"]
    assert sorted(listed) == sorted([str(parcel.id), str(other.id)])
    with world.sessions() as session:
        assert session.scalars(select(Handoff)).first() is None  # nothing yet: we asked

    answer = tracker("tracker_sms", sender_id=customer.phone,
                     slots={"pending_request": "missing", "listed_parcels": listed},
                     latest_message=message("2", "inform", entities=[{"entity": "option_number", "value": "2"}]))
    answer.events[-1:-1] = [{"event": "action", "name": "action_report_missing"},
                            {"event": "slot", "name": "listed_parcels", "value": listed},
                            {"event": "bot", "text": "Which parcel is missing?"},
                            {"event": "action", "name": "action_listen"}]
    answer.events.insert(0, {"event": "user", "text": MISSING, "parse_data": {"intent": {"name": "report_missing"}}})
    dispatcher = CollectingDispatcher()
    events = run(ActionTrack().run(dispatcher, answer, {}))
    with world.sessions() as session:
        chosen = session.get(Shipment, int(listed[1]))
    assert slots(events)["shipment_id"] == str(chosen.id)
    assert f"…{chosen.tracking_number[-4:]} shows as delivered" in said(dispatcher)
    assert "Found it?" in said(dispatcher)


def test_a_tracking_number_in_the_message_picks_the_parcel_and_an_undelivered_one_gets_its_status(
        world: Runtime) -> None:
    customer, _ = customer_with_delivered(world)
    with world.sessions() as session:
        moving = next(s for s in session.get(Customer, customer.id).shipments if s.status != "delivered")
    text = f"{moving.tracking_number} says delivered but i never got it"
    dispatcher = CollectingDispatcher()
    run(ReportMissing().run(dispatcher, tracker("tracker_sms", sender_id=customer.phone,
                                                latest_message=message(text, "report_missing")), {}))
    assert len(dispatcher.messages) == 1
    assert said(dispatcher).startswith(f"Parcel …{moving.tracking_number[-4:]} isn't delivered yet")
    with world.sessions() as session:
        assert session.scalars(select(Handoff)).first() is None


# -- 2. which parcel a change is about --------------------------------------------------------------

def test_a_change_with_several_parcels_asks_which_unless_the_message_or_our_last_message_names_one(
        world: Runtime) -> None:
    customer, moving = customer_with_two_in_flight(world)
    stale = str(moving[0].id)  # the parcel we texted about days ago
    ask = run(RememberRequest().run(CollectingDispatcher(), tracker(
        "tracker_sms", sender_id=customer.phone, slots={"shipment_id": stale},
        latest_message=message("can you move my delivery", "reschedule_delivery")), {}))
    assert slots(ask)["shipment_id"] is None

    short = moving[1].tracking_number[-4:]
    named = run(RememberRequest().run(CollectingDispatcher(), tracker(
        "tracker_sms", sender_id=customer.phone, slots={"shipment_id": stale},
        latest_message=message(f"can you move …{short} to saturday", "reschedule_delivery")), {}))
    assert slots(named)["shipment_id"] == str(moving[1].id)

    replying = tracker("tracker_sms", sender_id=customer.phone,
                       latest_message=message("can it come another day", "reschedule_delivery"))
    replying.events = [{"event": "user", "text": "hi", "parse_data": {}},
                       {"event": "bot", "text": "Your parcel comes tomorrow 10:00-12:00.",
                        "metadata": {"notification": "day_before", "notification_shipment_id": moving[1].id}},
                       {"event": "user", "text": "can it come another day", "parse_data": {}}]
    notified = run(RememberRequest().run(CollectingDispatcher(), replying, {}))
    assert slots(notified)["shipment_id"] == str(moving[1].id)


def form_domain() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "domain.yml").read_text())


def test_a_parcel_that_cannot_be_changed_says_why_and_offers_the_others(world: Runtime) -> None:
    customer, moving = customer_with_two_in_flight(world)
    update(world, moving[0].id, status="out_for_delivery")
    state = tracker("tracker_sms", sender_id=customer.phone,
                    slots={"pending_request": "reschedule", "shipment_id": str(moving[0].id)},
                    latest_message=message("can you move it", "reschedule_delivery"),
                    active_loop={"name": "change_form"})
    dispatcher = CollectingDispatcher()
    events = run(ValidateChangeForm().run(dispatcher, state, form_domain()))
    text = said(dispatcher)
    assert f"…{moving[0].tracking_number[-4:]} is already out with the driver" in text
    assert "Which parcel then?" in text and f"…{moving[1].tracking_number[-4:]}" in text
    assert "YES" not in text  # nothing confirmed about a parcel that can't change
    result = slots(events)
    assert result["requested_slot"] == "parcel" and result["shipment_id"] is None
    assert str(moving[0].id) not in result["listed_parcels"]
    assert "change_blocked" not in result  # the form goes on with the other parcel

    pick = tracker("tracker_sms", sender_id=customer.phone,
                   slots={"pending_request": "reschedule", "requested_slot": "parcel"},
                   latest_message=message(moving[0].tracking_number[-4:], "inform"))
    dispatcher = CollectingDispatcher()
    refused = run(ValidateChangeForm().validate_parcel(moving[0].tracking_number[-4:], dispatcher, pick, {}))
    assert refused == {"parcel": None} and "already out with the driver" in said(dispatcher)


# -- 3. "never mind" at every step ------------------------------------------------------------------

STEPS = [name.removeprefix("validate_") for name, _ in inspect.getmembers(ValidateChangeForm)
         if name.startswith("validate_") and name != "validate_confirm_change"]


@pytest.mark.parametrize("slot", STEPS)
@pytest.mark.parametrize("text", ["never mind", "never mind, ill be home after all", "nvm ill be home"])
def test_never_mind_ends_the_change_at_every_step(world: Runtime, slot: str, text: str) -> None:
    customer, moving = customer_with_two_in_flight(world)
    state = tracker("tracker_sms", sender_id=customer.phone,
                    slots={"pending_request": "locker", "requested_slot": slot, "shipment_id": str(moving[0].id),
                           "offered": [{"code": "X1", "name": "Alexanderplatz"}]},
                    latest_message=message(text, "inform", 0.4))
    dispatcher = CollectingDispatcher()
    result = run(getattr(ValidateChangeForm(), f"validate_{slot}")(text, dispatcher, state, {}))
    assert result.get("change_cancelled") is True
    assert "Reply with the number" not in said(dispatcher)


def test_never_mind_at_the_confirmation_and_the_words_it_ends_with(world: Runtime) -> None:
    customer, moving = customer_with_two_in_flight(world)
    base = {"pending_request": "instructions", "requested_slot": "confirm_change", "shipment_id": str(moving[0].id),
            "instructions_text": "back door"}
    text = "never mind, leave it"
    state = tracker("tracker_sms", sender_id=customer.phone, slots=base, latest_message=message(text, "inform", 0.5))
    result = run(ValidateChangeForm().validate_confirm_change(text, CollectingDispatcher(), state, {}))
    assert result["change_cancelled"] is True and result["confirm_change"] is False
    dispatcher = CollectingDispatcher()
    run(CommitChange().run(dispatcher, tracker("tracker_sms", sender_id=customer.phone,
                                               slots={**base, **result}), {}))
    assert said(dispatcher) == "OK, nothing was changed."
    with world.sessions() as session:
        assert session.get(Shipment, moving[0].id).instructions == moving[0].instructions


# -- 4. off-topic answers and requests ---------------------------------------------------------------

@pytest.mark.parametrize(("text", "intent", "confidence"), [
    ("what's the weather like", "out_of_scope", 0.8),
    ("haha you're funny", "inform", 0.5),
    ("how are you?", "greet", 0.7),
])
def test_an_off_topic_answer_is_not_taken_as_instructions(world: Runtime, text: str, intent: str,
                                                          confidence: float) -> None:
    customer, moving = customer_with_two_in_flight(world)
    state = tracker("tracker_sms", sender_id=customer.phone,
                    slots={"pending_request": "instructions", "requested_slot": "instructions_text",
                           "shipment_id": str(moving[0].id)},
                    latest_message=message(text, intent, confidence))
    dispatcher = CollectingDispatcher()
    result = run(ValidateChangeForm().validate_instructions_text(text, dispatcher, state, {}))
    assert result == {"instructions_text": None}
    assert len(dispatcher.messages) == 1 and "never mind" in said(dispatcher)


@pytest.mark.parametrize("text", ["leave it behind the bins", "code 4711", "please ring twice, the bell is loud"])
def test_real_instructions_are_still_taken(world: Runtime, text: str) -> None:
    customer, moving = customer_with_two_in_flight(world)
    state = tracker("tracker_sms", sender_id=customer.phone,
                    slots={"pending_request": "instructions", "requested_slot": "instructions_text",
                           "shipment_id": str(moving[0].id)},
                    latest_message=message(text, "inform", 0.5))
    result = run(ValidateChangeForm().validate_instructions_text(text, CollectingDispatcher(), state, {}))
    assert result == {"instructions_text": text}


def test_an_off_topic_message_classified_as_a_change_does_not_start_one(world: Runtime) -> None:
    customer, _ = customer_with_two_in_flight(world)
    dispatcher = CollectingDispatcher()
    events = run(RememberRequest().run(dispatcher, tracker(
        "tracker_sms", sender_id=customer.phone,
        latest_message=message("what's the weather tomorrow", "reschedule_delivery", 0.55)), {}))
    assert slots(events)["change_blocked"] is True and slots(events)["wants_change"] is False
    assert "only help with your delivery" in said(dispatcher)


def test_named_parcel_reads_numbers_last_digits_ordinals_and_items() -> None:
    from actions.context import Parcel
    from actions.parcel_choice import named_parcel

    shoes = Parcel(1, "DS1111112345", "sandbox", "in_transit", [{"name": "Running shoes"}], None)
    lamp = Parcel(2, "DS2222226789", "sandbox", "at_depot", [{"name": "Desk lamp"}], None)
    both = [shoes, lamp]
    assert named_parcel("move ds2222226789 pls", both) == lamp
    assert named_parcel("the one ending 2345", both) == shoes
    assert named_parcel("the second one", both, listed=[lamp, shoes]) == shoes
    assert named_parcel("the second one", both) is None  # no list shown: no ordinal
    assert named_parcel("can the desk lamp come later", both) == lamp
    assert named_parcel("DS9999999999 never came", both) is None  # not theirs
    assert named_parcel("move it to 10:00, postcode 12345", both) is None
