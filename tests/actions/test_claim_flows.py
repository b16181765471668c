"""Issue 15 at the action level: a missing parcel is checked, then claimed; a complaint is confirmed, then
raised; a NO to our "All OK?" message raises it; only the verified customer's own parcels."""

from __future__ import annotations

from typing import Any

from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.complaint import DeliveryComplaint
from actions.dialogue import Fallback
from actions.missing import ReportMissing
from bot.core.models import Claim, Customer, DeliveryProof, Handoff, Shipment
from bot.core.runtime import Runtime
from tests.actions.conftest import tracker
from tests.actions.test_flows import MISSING, customer_with_delivered, message, run, said, update
from tests.factories import put_proof

YES_NO_ACTIONS = {"missing_check": "action_report_missing", "complaint_confirm": "action_delivery_complaint"}


def answer(customer: Customer, first: str, first_intent: str, events: list[dict[str, Any]], reply: str,
           intent: str) -> Any:
    """A tracker where `reply` answers the turn that `events` recorded (our action and its slots)."""
    state = tracker("tracker_sms", sender_id=customer.phone, latest_message=message(reply, intent))
    state.events[-1:-1] = [{"event": "action", "name": next(iter(
        YES_NO_ACTIONS[e["value"]] for e in events if e.get("name") == "claim_question" and e.get("value")))},
        *[{"event": "slot", "name": e["name"], "value": e["value"]} for e in events if e.get("event") == "slot"],
        {"event": "bot", "text": "…"}, {"event": "action", "name": "action_listen"}]
    state.events.insert(0, {"event": "user", "text": first, "parse_data": {"intent": {"name": first_intent}}})
    return state


def proof(world: Runtime, shipment_id: int) -> None:
    with world.sessions() as session, session.begin():
        shipment = session.get(Shipment, shipment_id)
        put_proof(session, DeliveryProof(shipment_id=shipment_id, carrier="sandbox", delivered_at=shipment.delivered_at,
                                  place="neighbour", neighbour="Meyer, no. 12", distance_m=8,
                                  instructions_in_force="leave it in the shed", compliance="differs"))


def test_missing_shows_the_proof_and_places_then_no_opens_a_claim_with_the_reference(world: Runtime) -> None:
    customer, parcel = customer_with_delivered(world)
    proof(world, parcel.id)
    dispatcher = CollectingDispatcher()
    events = run(ReportMissing().run(dispatcher, tracker("tracker_sms", sender_id=customer.phone,
                                                         latest_message=message(MISSING, "report_missing")), {}))
    text = said(dispatcher)
    assert f"…{parcel.tracking_number[-4:]} shows as delivered" in text
    assert "Meyer, no. 12" in text and "in the shed" in text and "around the property" in text
    assert "Reply YES if you have it, NO if not" in text
    with world.sessions() as session:
        assert session.scalars(select(Claim)).first() is None and session.scalars(select(Handoff)).first() is None

    dispatcher = CollectingDispatcher()
    run(ReportMissing().run(dispatcher, answer(customer, MISSING, "report_missing", events, "no", "deny"), {}))
    with world.sessions() as session:
        claim = session.scalars(select(Claim)).one()
    assert (claim.shipment_id, claim.customer_id, claim.kind, claim.channel) == (parcel.id, customer.id, "missing", "sms")
    assert claim.evidence["words"] == MISSING and claim.evidence["proof"]["neighbour"] == "Meyer, no. 12"
    assert claim.reference in said(dispatcher) and "answer by" in said(dispatcher)

    # A second report repeats the reference and adds to the claim.
    dispatcher = CollectingDispatcher()
    run(ReportMissing().run(dispatcher, tracker("tracker_sms", sender_id=customer.phone, latest_message=message(
        "still no sign of my parcel", "report_missing")), {}))
    assert f"claim {claim.reference}" in said(dispatcher) and "added" in said(dispatcher)
    with world.sessions() as session:
        assert len(session.scalars(select(Claim)).one().reports) == 2


def test_yes_closes_kindly_and_never_mind_ends_it_without_a_claim(world: Runtime) -> None:
    customer, _ = customer_with_delivered(world)
    events = run(ReportMissing().run(CollectingDispatcher(), tracker(
        "tracker_sms", sender_id=customer.phone, latest_message=message(MISSING, "report_missing")), {}))
    for reply, intent, expected in (("yes found it", "affirm", "Glad you found it"),
                                    ("never mind", "deny", "Nothing was changed")):
        dispatcher = CollectingDispatcher()
        run(Fallback().run(dispatcher, answer(customer, MISSING, "report_missing", events, reply, intent), {}))
        assert expected in said(dispatcher)
    with world.sessions() as session:
        assert session.scalars(select(Claim)).first() is None


def test_a_complaint_is_confirmed_then_raised_in_german(world: Runtime) -> None:
    customer, parcel = customer_with_delivered(world)
    text = f"{parcel.tracking_number} der Fahrer hat es einfach in den Regen gestellt"
    state = tracker("tracker_sms", sender_id=customer.phone, slots={"language": "de"},
                    latest_message=message(text, "delivery_complaint"))
    dispatcher = CollectingDispatcher()
    events = run(DeliveryComplaint().run(dispatcher, state, {}))
    assert "Beschwerde" in said(dispatcher) and parcel.tracking_number[-4:] in said(dispatcher)
    reply = answer(customer, text, "delivery_complaint", events, "ja", "affirm")
    reply.slots["language"] = "de"
    dispatcher = CollectingDispatcher()
    run(DeliveryComplaint().run(dispatcher, reply, {}))
    with world.sessions() as session:
        claim = session.scalars(select(Claim)).one()
    assert claim.kind == "not_as_asked" and claim.evidence["words"] == text
    assert claim.reference in said(dispatcher) and "Zusteller" in said(dispatcher)


def test_a_disputed_failed_attempt_offers_a_new_window(world: Runtime) -> None:
    customer, parcel = customer_with_delivered(world)
    with world.sessions() as session:
        failed = session.scalars(select(Shipment).where(Shipment.customer_id == customer.id,
                                                        Shipment.status == "failed_attempt")).first()
    target = failed or parcel
    if failed is None:  # make the delivered parcel's last event a failed attempt
        update(world, parcel.id, status="failed_attempt")
        with world.sessions() as session, session.begin():
            last = [e for e in session.get(Shipment, parcel.id).events if e.applied][-1]
            last.status = "failed_attempt"
    text = f"{target.tracking_number} driver never knocked, i was home all day"
    events = run(DeliveryComplaint().run(CollectingDispatcher(), tracker(
        "tracker_sms", sender_id=customer.phone, latest_message=message(text, "delivery_complaint")), {}))
    dispatcher = CollectingDispatcher()
    run(DeliveryComplaint().run(dispatcher, answer(customer, text, "delivery_complaint", events, "yes", "affirm"), {}))
    with world.sessions() as session:
        claim = session.scalars(select(Claim)).one()
    assert claim.kind == "disputed_attempt" and "RESCHEDULE" in said(dispatcher)


def test_no_to_our_all_ok_message_raises_the_complaint_for_that_parcel(world: Runtime) -> None:
    customer, parcel = customer_with_delivered(world)
    state = tracker("tracker_sms", sender_id=customer.phone, latest_message=message("NO", "deny"))
    state.events[-1:-1] = [{"event": "bot", "text": "left at the back door… All OK? Reply NO to raise it.",
                            "metadata": {"notification": "delivery_check", "notification_shipment_id": parcel.id}},
                           {"event": "slot", "name": "claim_question", "value": "delivery_check"}]
    dispatcher = CollectingDispatcher()
    run(DeliveryComplaint().run(dispatcher, state, {}))
    with world.sessions() as session:
        claim = session.scalars(select(Claim)).one()
    assert (claim.shipment_id, claim.kind) == (parcel.id, "not_as_asked") and claim.reference in said(dispatcher)


def test_a_claim_is_never_opened_for_someone_elses_parcel(world: Runtime) -> None:
    customer, _ = customer_with_delivered(world)
    with world.sessions() as session:
        other = session.scalars(select(Shipment).where(Shipment.customer_id != customer.id,
                                                       Shipment.status == "delivered")).first()
    # Our question named another customer's parcel (as a forged tracker could): nothing is opened.
    forged = [{"event": "slot", "name": "claim_question", "value": "missing_check"},
              {"event": "slot", "name": "shipment_id", "value": str(other.id)}]
    run(ReportMissing().run(CollectingDispatcher(), answer(customer, MISSING, "report_missing", forged, "no", "deny"),
                            {}))
    state = tracker("tracker_sms", sender_id=customer.phone, latest_message=message("NO", "deny"))
    state.events[-1:-1] = [{"event": "bot", "text": "All OK?",
                            "metadata": {"notification": "delivery_check", "notification_shipment_id": other.id}}]
    run(DeliveryComplaint().run(CollectingDispatcher(), state, {}))
    text = f"{other.tracking_number} left in the rain"
    run(DeliveryComplaint().run(CollectingDispatcher(), tracker("tracker_sms", sender_id=customer.phone,
                                                                latest_message=message(text, "delivery_complaint")), {}))
    with world.sessions() as session:
        assert session.scalars(select(Claim)).first() is None
