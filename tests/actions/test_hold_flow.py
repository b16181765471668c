"""Away from home at the action level: the request carries the days (or the form asks), the one confirmation is
computed before asking, "12 Dec" answers "until when?", a correction at the confirmation, and the commit makes
exactly the plan shown. The demo world's clock: 08:30 on Tue 24 Nov 2026."""

from __future__ import annotations

from typing import Any

from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.change_form import CommitChange, ValidateChangeForm
from actions.dialogue import RememberRequest
from bot.core.models import Hold, Shipment
from bot.core.runtime import Runtime
from tests.actions.conftest import tracker
from tests.actions.test_flows import customer_with_two_in_flight, form_domain, message, run, said, slots


def turn(phone: str, text: str, intent: str, slot_values: dict[str, Any], filled: dict[str, Any]) -> Any:
    """The form's validation call for this message: `filled` are the slots Rasa's mappings set from it."""
    state = tracker("tracker_sms", sender_id=phone, slots={**slot_values, **filled},
                    latest_message=message(text, intent), active_loop={"name": "change_form"})
    state.events += [{"event": "slot", "name": name, "value": value} for name, value in filled.items()]
    return state


def test_the_request_with_its_days_gets_one_confirmation_listing_each_parcel(world: Runtime) -> None:
    customer, moving = customer_with_two_in_flight(world)
    remembered = slots(run(RememberRequest().run(CollectingDispatcher(), tracker(
        "tracker_sms", sender_id=customer.phone,
        latest_message=message("I'm away until Thursday, hold all my parcels", "hold_parcels")), {})))
    assert remembered["pending_request"] == "hold" and remembered["wants_change"] is True
    text = "I'm away until Thursday, hold all my parcels"
    dispatcher = CollectingDispatcher()
    events = run(ValidateChangeForm().run(dispatcher, turn(customer.phone, text, "hold_parcels",
                                                           {"pending_request": "hold"}, {"hold_period": text}),
                                          form_domain()))
    question = said(dispatcher)
    assert question.startswith("Hold your parcels until Thu 26 Nov:")
    assert all(s.tracking_number[-4:] in question for s in moving)
    result = slots(events)
    assert result["hold_period"] == {"first": "2026-11-24", "last": "2026-11-26"}
    assert {p["shipment_id"] for p in result["hold_plan"]} >= {s.id for s in moving}
    with world.sessions() as session:
        assert session.scalars(select(Hold)).all() == []  # asked, nothing made


def test_without_days_it_asks_and_12_dec_is_a_date_not_a_window(world: Runtime) -> None:
    customer, _ = customer_with_two_in_flight(world)
    dispatcher = CollectingDispatcher()
    text = "can you hold my parcels, I'm going on holiday"
    run(ValidateChangeForm().run(dispatcher, turn(customer.phone, text, "hold_parcels", {"pending_request": "hold"},
                                                  {"hold_period": text}), form_domain()))
    assert said(dispatcher).startswith("Until which day are you away?")
    dispatcher = CollectingDispatcher()
    events = run(ValidateChangeForm().run(dispatcher, turn(
        customer.phone, "26 Nov", "reschedule_delivery", {"pending_request": "hold", "requested_slot": "hold_period"},
        {"hold_period": "26 Nov"}), form_domain()))
    assert said(dispatcher).startswith("Hold your parcels until Thu 26 Nov:")
    assert "no free" not in said(dispatcher).lower()
    assert slots(events)["hold_period"]["last"] == "2026-11-26"


def test_a_correction_at_the_confirmation_asks_again_with_the_new_days(world: Runtime) -> None:
    customer, _ = customer_with_two_in_flight(world)
    period = {"first": "2026-11-24", "last": "2026-11-26"}
    dispatcher = CollectingDispatcher()
    events = run(ValidateChangeForm().run(dispatcher, turn(
        customer.phone, "no, until Wednesday", "deny",
        {"pending_request": "hold", "requested_slot": "confirm_change", "hold_period": period},
        {"confirm_change": False}), form_domain()))
    assert said(dispatcher).startswith("Hold your parcels until Wed 25 Nov:")
    assert slots(events)["hold_period"]["last"] == "2026-11-25"


def test_yes_makes_exactly_the_plan_shown_and_no_leaves_everything(world: Runtime) -> None:
    customer, moving = customer_with_two_in_flight(world)
    text = "hold everything till Thursday"
    dispatcher = CollectingDispatcher()
    shown = slots(run(ValidateChangeForm().run(dispatcher, turn(customer.phone, text, "hold_parcels",
                                                                {"pending_request": "hold"}, {"hold_period": text}),
                                               form_domain())))
    values = {"pending_request": "hold", "hold_period": shown["hold_period"], "hold_plan": shown["hold_plan"][:1]}

    dispatcher = CollectingDispatcher()
    run(CommitChange().run(dispatcher, tracker("tracker_sms", sender_id=customer.phone,
                                               slots={**values, "confirm_change": False}), {}))
    assert said(dispatcher) == "OK, I've left it as it was."
    with world.sessions() as session:
        assert session.scalars(select(Hold)).all() == []

    dispatcher = CollectingDispatcher()
    run(CommitChange().run(dispatcher, tracker("tracker_sms", sender_id=customer.phone,
                                               slots={**values, "confirm_change": True}), {}))
    assert said(dispatcher).startswith("Done, held until Thu 26 Nov:")
    with world.sessions() as session:
        first, second = (session.get(Shipment, s.id) for s in moving[:2])
        assert first is not None and second is not None
        shown_ids = {p["shipment_id"] for p in values["hold_plan"]}
        for shipment, before in ((first, moving[0]), (second, moving[1])):
            moved = shipment.promised_start != before.promised_start
            assert moved == (shipment.id in shown_ids)  # only the plan that was shown and confirmed


def test_cancel_my_hold_asks_then_ends_it(world: Runtime) -> None:
    customer, _ = customer_with_two_in_flight(world)
    dispatcher = CollectingDispatcher()
    run(ValidateChangeForm().run(dispatcher, turn(customer.phone, "cancel my hold", "cancel_hold",
                                                  {"pending_request": "unhold"}, {}), form_domain()))
    assert said(dispatcher).startswith("You have no hold on your parcels right now.")


def test_a_named_locker_in_the_request_is_the_holds_locker(world: Runtime) -> None:
    customer, moving = customer_with_two_in_flight(world)
    text = "away till Thursday, send them all to the Kollwitzplatz locker"
    dispatcher = CollectingDispatcher()
    events = run(ValidateChangeForm().run(dispatcher, turn(customer.phone, text, "hold_parcels",
                                                           {"pending_request": "hold"}, {"hold_period": text}),
                                          form_domain()))
    assert slots(events)["hold_period"] == {"first": "2026-11-24", "last": "2026-11-26", "mode": "locker",
                                            "locker": "Kollwitzplatz"}
    question = said(dispatcher)
    assert all(f"{s.tracking_number[-4:]}: Kollwitzplatz locker" in question for s in moving), question
