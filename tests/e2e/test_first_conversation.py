"""The first conversation end to end, against the running processes: SMS and REST."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from bot.core.models import ConversationLink, Shipment
from bot.core.runtime import Runtime
from bot.demo.sms_sim import send_as_customer, signed_inbound
from tests.e2e.conftest import CustomerPool
from tests.e2e.helpers import ON_ITS_WAY, active, eta_text, new_sender, rest, user_messages


def test_a_known_phone_gets_its_live_status_and_eta_over_sms(stack_runtime: Runtime, customers: CustomerPool) -> None:
    customer, parcels = customers.take(lambda ps: sum(bool(p.status in ON_ITS_WAY and p.eta_start) for p in ps) == 1)
    parcels = [p for p in parcels if p.status in ON_ITS_WAY and p.eta_start]  # one parcel: its status, no list
    exchange = send_as_customer(stack_runtime, customer.phone, "wheres my parcel??")
    assert exchange.status_code == 204
    text = "\n".join(exchange.replies)
    assert f"Parcel {parcels[0].tracking_number[-4:]}" in text
    assert eta_text(stack_runtime, parcels[0], customer.time_zone) in text
    assert "/t/" in text  # the tracking link


def test_several_parcels_come_as_a_short_list_and_a_number_picks_one(stack_runtime: Runtime,
                                                                      customers: CustomerPool) -> None:
    customer, parcels = customers.take(lambda ps: sum(p.status in ON_ITS_WAY and p.eta_start is not None
                                                      for p in ps) >= 2)
    listed = "\n".join(send_as_customer(stack_runtime, customer.phone, "where are my parcels").replies)
    assert listed.startswith("You have") and "Reply a number" in listed and "/t/" not in listed
    lines = [line for line in listed.splitlines() if line[:2] in ("1.", "2.", "3.")]
    assert len(lines) >= 2
    second = next(p for p in parcels if p.tracking_number[-4:] in lines[1])
    assert eta_text(stack_runtime, second, customer.time_zone) in lines[1]
    details = "\n".join(send_as_customer(stack_runtime, customer.phone, "2").replies)
    assert f"Parcel {second.tracking_number[-4:]}" in details and "/t/" in details
    it = "\n".join(send_as_customer(stack_runtime, customer.phone, "and when will it come?").replies)
    assert f"Parcel {second.tracking_number[-4:]}" in it and not it.startswith("You have")


def test_an_unknown_phone_is_asked_for_a_tracking_number_and_sees_nobodys_data(stack_runtime: Runtime) -> None:
    exchange = send_as_customer(stack_runtime, "+4915199990001", "where is my package")
    text = "\n".join(exchange.replies)
    assert "tracking number" in text
    assert "Parcel" not in text and "DS" not in text.replace("with DS", "")
    with stack_runtime.sessions() as session:
        assert session.scalars(select(ConversationLink).where(
            ConversationLink.sender_id == "+4915199990001", ConversationLink.verified.is_(True))).all() == []


def test_web_chat_identity_needs_tracking_number_and_postcode(stack_runtime: Runtime, customers: CustomerPool) -> None:
    customer, parcels = active(customers)
    parcel = parcels[0]
    wrong_postcode = "10999" if parcel.postcode != "10999" else "10115"
    sender = new_sender()
    assert "tracking number" in " ".join(rest(stack_runtime, sender, "where is my parcel"))
    assert "postcode" in " ".join(rest(stack_runtime, sender, parcel.tracking_number))
    refused = " ".join(rest(stack_runtime, sender, wrong_postcode))
    assert "don't match" in refused and "Parcel" not in refused
    assert "postcode" in " ".join(rest(stack_runtime, sender, parcel.tracking_number.lower()))
    answer = " ".join(rest(stack_runtime, sender, parcel.postcode))
    assert f"Parcel {parcel.tracking_number[-4:]}" in answer
    assert eta_text(stack_runtime, parcel, customer.time_zone) in answer
    with stack_runtime.sessions() as session:
        link = session.scalars(select(ConversationLink).where(ConversationLink.sender_id == f"rest:{sender}")).one()
        assert (link.verified, link.customer_id, link.shipment_id) == (True, customer.id, parcel.id)
    # Later in the same conversation it knows the parcel without asking again.
    assert f"Parcel {parcel.tracking_number[-4:]}" in " ".join(rest(stack_runtime, sender, "when will it come?"))


def test_three_wrong_tries_stop_verification_and_offer_a_person(stack_runtime: Runtime, customers: CustomerPool) -> None:
    _, parcels = active(customers)
    sender = new_sender()
    rest(stack_runtime, sender, "where is my parcel")
    replies: list[str] = []
    for _ in range(3):
        rest(stack_runtime, sender, parcels[0].tracking_number)
        replies = rest(stack_runtime, sender, "12345")
    assert "AGENT" in " ".join(replies) and "Parcel" not in " ".join(replies)


def test_a_rest_client_cannot_pose_as_an_sms_sender(stack_runtime: Runtime, customers: CustomerPool) -> None:
    customer, _ = active(customers)
    replies = rest(stack_runtime, customer.phone, "where is my parcel", input_channel="twilio",
                   metadata={"channel": "twilio"})
    text = " ".join(replies)
    assert "tracking number" in text and "Parcel" not in text
    assert user_messages(stack_runtime, customer.phone) == []  # it landed in its own rest: conversation
    assert user_messages(stack_runtime, f"rest:{customer.phone}") == ["where is my parcel"]


def test_unsigned_tampered_and_incomplete_twilio_webhooks_are_refused_without_a_trace(stack_runtime: Runtime) -> None:
    settings = stack_runtime.settings
    phone = "+4915199990002"
    url = settings.sms_webhook_url
    form, signature = signed_inbound(stack_runtime, phone, "where is my parcel", "SM" + "a" * 32)
    unsigned = httpx.post(url, data=form)
    tampered = httpx.post(url, data={**form, "Body": "STOP"}, headers={"X-Twilio-Signature": signature})
    wrong_key = RequestValidator("not-our-token").compute_signature(url, form)
    forged = httpx.post(url, data=form, headers={"X-Twilio-Signature": wrong_key})
    assert (unsigned.status_code, tampered.status_code, forged.status_code) == (403, 403, 403)
    no_from = {k: v for k, v in form.items() if k != "From"}
    no_from_signature = RequestValidator(settings.sms_auth_token).compute_signature(url, no_from)
    assert httpx.post(url, data=no_from, headers={"X-Twilio-Signature": no_from_signature}).status_code == 400
    assert user_messages(stack_runtime, phone) == []


def test_the_outbox_and_database_agree_after_a_conversation(stack_runtime: Runtime, customers: CustomerPool) -> None:
    customer, parcels = active(customers)
    send_as_customer(stack_runtime, customer.phone, "hi")
    exchange = send_as_customer(stack_runtime, customer.phone, "is my parcel late?")
    with stack_runtime.sessions() as session:
        shipment = session.get(Shipment, parcels[0].id)
        assert shipment is not None
    assert any(f"Parcel {shipment.tracking_number[-4:]}" in reply for reply in exchange.replies)
