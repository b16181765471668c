"""'Where did you leave it?' and 'delivered but I never got it', answered with the proof of delivery (the
same view as the tracking page), short enough for SMS, in the customer's language."""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.missing import ReportMissing
from actions.track import ActionTrack
from bot.core.models import Customer, DeliveryProof, Handoff, Shipment
from bot.core.runtime import Runtime
from bot.notify.segments import segments
from tests.actions.conftest import tracker

WHERE = {"en": "where did you leave it?", "de": "Wo haben Sie das Paket abgelegt?",
         "nl": "waar hebben jullie het neergezet?"}


def customer_with_proof(world: Runtime, **proof: Any) -> tuple[Customer, Shipment]:
    """The first demo customer with a delivered parcel (which has the sandbox's proof) and one on its way."""
    with world.sessions() as session, session.begin():
        for customer in session.scalars(select(Customer).order_by(Customer.id)):
            delivered = [s for s in customer.shipments if s.status == "delivered"]
            if delivered and any(s.status != "delivered" for s in customer.shipments):
                row = session.scalar(select(DeliveryProof).where(DeliveryProof.shipment_id == delivered[0].id))
                assert row is not None
                for key, value in proof.items():
                    setattr(row, key, value)
                session.expunge(customer)
                session.expunge(delivered[0])
                return customer, delivered[0]
    raise LookupError("a customer with a delivered parcel")


def said(dispatcher: CollectingDispatcher) -> str:
    return "\n".join(str(m.get("text") or "") for m in dispatcher.messages)


def ask(customer: Customer, text: str, language: str = "en", **slots: Any) -> tuple[str, list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    state = tracker("tracker_sms", sender_id=customer.phone, slots={"language": language, **slots},
                    latest_message={"text": text, "intent": {"name": "track_package", "confidence": 0.9},
                                    "entities": []})
    events = asyncio.run(ActionTrack().run(dispatcher, state, {}))
    return said(dispatcher), events


def test_where_did_you_leave_it_is_answered_with_the_proof_over_sms(world: Runtime) -> None:
    customer, parcel = customer_with_proof(world, place="back_door", note="Behind the green bin", neighbour=None)
    text, events = ask(customer, WHERE["en"])
    ref = parcel.tracking_number[-4:]
    assert f"Parcel {ref} was delivered " in text and "Where: at the back door." in text
    assert 'Driver\'s note: "Behind the green bin".' in text and "Photo and details: http" in text and "/t/" in text
    assert "m from your address" not in text  # near the door: no distance
    assert "on the way" not in text
    assert any(e.get("name") == "shipment_id" and e.get("value") == str(parcel.id) for e in events)
    assert segments(text) <= 3


def test_a_far_drop_says_how_far_and_a_long_note_is_cut_for_sms(world: Runtime) -> None:
    customer, _ = customer_with_proof(world, place="porch", note="x" * 400, distance_m=180,
                                      compliance="differs", compliance_reasons=["distance"])
    text, _ = ask(customer, "where exactly did you leave it")
    assert "It was left 180 m from your address." in text
    assert '"' + "x" * 79 + '…"' in text and "x" * 81 not in text


def test_the_answer_is_in_the_customers_language(world: Runtime) -> None:
    customer, parcel = customer_with_proof(world, place="neighbour", neighbour="no. 14", note=None)
    german, _ = ask(customer, WHERE["de"], "de")
    assert f"Paket {parcel.tracking_number[-4:]} wurde " in german and "Wo: bei einem Nachbarn: no. 14." in german
    assert "Foto und Details: http" in german
    dutch, _ = ask(customer, WHERE["nl"], "nl")
    assert f"Pakket {parcel.tracking_number[-4:]} is " in dutch and "Waar: bij de buren: no. 14." in dutch


def test_where_is_my_parcel_still_lists_the_parcel_on_its_way(world: Runtime) -> None:
    customer, _ = customer_with_proof(world)
    text, _ = ask(customer, "where is my parcel")
    assert "was delivered" not in text and "Where:" not in text


def test_a_missing_parcel_shows_the_proof_view_then_asks_the_customer_to_look(world: Runtime) -> None:
    customer, parcel = customer_with_proof(world, place="garage", note="In the garage, door was open",
                                           distance_m=6, compliance="differs", compliance_reasons=["place"])
    with world.sessions() as session, session.begin():
        session.get(Shipment, parcel.id).instructions = "back door please"
    dispatcher = CollectingDispatcher()
    words = "it says delivered but i never got it"
    state = tracker("tracker_sms", sender_id=customer.phone,
                    latest_message={"text": words, "intent": {"name": "report_missing", "confidence": 0.9},
                                    "entities": []})
    asyncio.run(ReportMissing().run(dispatcher, state, {}))
    text = said(dispatcher)
    assert f"…{parcel.tracking_number[-4:]} shows as delivered" in text and "Where: in the garage." in text
    assert 'Driver\'s note: "In the garage, door was open".' in text and "The driver's photo: http" in text
    assert "back door please" in text  # the instructions in force, as before
    assert "Have a look there. Found it?" in text  # the customer checks first; a NO opens a claim
    with world.sessions() as session:
        assert session.scalars(select(Handoff)).first() is None
