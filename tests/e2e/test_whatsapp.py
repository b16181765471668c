"""WhatsApp over the running stack: a signed WhatsApp webhook into Rasa, the conversation, the reply
back over WhatsApp through the twilio library and the outbox (which keeps Twilio's 24-hour rule), the
opt-in and opt-out per channel, and a notification as a template outside the window, free text inside."""

from __future__ import annotations

import time
from datetime import timedelta

import httpx
from sqlalchemy import select

from bot.core.clock import sim_now
from bot.core.models import (
    Consent,
    ConversationLink,
    Customer,
    Handoff,
    Notification,
    NotificationEvent,
    OutboxMessage,
    Shipment,
    ShipmentStatus,
    utcnow,
)
from bot.core.runtime import Runtime
from bot.demo.outbox import new_sid
from bot.demo.sms_sim import send_as_customer, signed_inbound
from bot.notify.whatsapp_templates import cached_templates
from tests.e2e.conftest import CustomerPool
from tests.e2e.helpers import ON_ITS_WAY, dispatch_now
from tests.e2e.test_claims import agent, console


def whatsapp_notification(rt: Runtime, shipment_id: int, trigger: str) -> int:
    """A message planned on WhatsApp now, its news made fresh (the customer keeps no quiet hours)."""
    with rt.sessions() as session:
        now = sim_now(session)
        shipment = session.get(Shipment, shipment_id)
        assert shipment is not None
        shipment.status_at = now
        if trigger == "delivered":
            shipment.status, shipment.delivered_at = ShipmentStatus.DELIVERED, now
        shipment.customer.quiet_hours_start = shipment.customer.quiet_hours_end = 0
        row = Notification(customer_id=shipment.customer_id, shipment_id=shipment_id, trigger=trigger,
                           channel="whatsapp", template=trigger, locale=shipment.customer.locale,
                           to_address=f"whatsapp:{shipment.customer.phone}",
                           dedupe_key=f"{shipment_id}:{trigger}::whatsapp", due_at=now, status="planned",
                           context={}, created_at=now)
        session.add(row)
        session.commit()
        return row.id


def sent_detail(rt: Runtime, notification_id: int) -> tuple[Notification, str]:
    with rt.sessions() as session:
        row = session.get(Notification, notification_id)
        assert row is not None
        detail = session.scalar(select(NotificationEvent.detail).where(
            NotificationEvent.notification_id == notification_id, NotificationEvent.status == "sent"))
        return row, detail or ""


def opt_in(rt: Runtime, customer_id: int) -> None:
    with rt.sessions() as session, session.begin():
        session.add(Consent(customer_id=customer_id, channel="whatsapp", opted_out=False, source="e2e: opted in"))


def one_parcel_on_its_way(ps: list[Shipment]) -> bool:
    return sum(bool(p.status in ON_ITS_WAY and p.eta_start) for p in ps) == 1 \
        and "sms" in ps[0].customer.preferred_channels


def test_outside_the_window_a_template_goes_and_a_trigger_without_one_falls_back(
        stack_runtime: Runtime, customers: CustomerPool) -> None:
    rt = stack_runtime
    customer, parcels = customers.take(lambda ps: one_parcel_on_its_way(ps)
                                       and any(p.status in ("at_depot", "in_transit") for p in ps))
    parcel = next(p for p in parcels if p.status in ("at_depot", "in_transit"))
    opt_in(rt, customer.id)
    shipped = whatsapp_notification(rt, parcel.id, "shipped")  # no approved template for "shipped"
    dispatch_now(rt)
    dispatch_now(rt)  # the fallback planned by the first pass
    row, _ = sent_detail(rt, shipped)
    assert row.status == "failed" and "no approved template" in (row.error or "")
    with rt.sessions() as session:
        fallback = session.scalar(select(Notification).where(Notification.dedupe_key.like(f"{parcel.id}:shipped::%"),
                                                             Notification.channel != "whatsapp"))
        assert fallback is not None and fallback.status in ("sent", "delivered"), fallback
        assert fallback.context.get("fallback_of") == shipped
    delivered = whatsapp_notification(rt, parcel.id, "delivered")  # approved: goes as the template
    dispatch_now(rt)
    row, detail = sent_detail(rt, delivered)
    assert row.status in ("sent", "delivered") and "template HX" in detail, (row.status, row.error, detail)
    with rt.sessions() as session:
        message = session.scalar(select(OutboxMessage).where(OutboxMessage.sid == row.provider_id))
        assert message is not None and message.channel == "whatsapp" and message.meta.get("content_sid")
        assert parcel.tracking_number in message.body


def test_a_whatsapp_conversation_is_answered_over_whatsapp_and_consent_is_per_channel(
        stack_runtime: Runtime, customers: CustomerPool) -> None:
    rt = stack_runtime
    customer, parcels = customers.take(one_parcel_on_its_way)
    parcel = next(p for p in parcels if p.status in ON_ITS_WAY and p.eta_start)
    wa = f"whatsapp:{customer.phone}"
    opt_in(rt, customer.id)

    # The customer writes on WhatsApp: signed webhook → Rasa → the reply goes back over WhatsApp.
    exchange = send_as_customer(rt, wa, "wheres my parcel??")
    assert exchange.status_code == 204
    text = "\n".join(exchange.replies)
    assert f"Parcel {parcel.tracking_number[-4:]}" in text and "/t/" in text
    with rt.sessions() as session:
        replies = session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == wa,
                                                              OutboxMessage.direction == "outbound")).all()
        assert replies and all(m.channel == "whatsapp" and m.from_address == rt.settings.outbox_whatsapp_from
                               for m in replies)
        assert not session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == customer.phone)).all()
        link = session.scalar(select(ConversationLink).where(ConversationLink.sender_id == wa))
        assert link is not None and link.verified and link.customer_id == customer.id
    token = {"token": rt.settings.rasa_token}
    tracker = httpx.get(f"{rt.settings.rasa_url}/conversations/{wa}/tracker", params=token).json()
    assert any(e.get("event") == "user" and e.get("text") == "wheres my parcel??" for e in tracker["events"])
    sms_tracker = httpx.get(f"{rt.settings.rasa_url}/conversations/{customer.phone}/tracker", params=token).json()
    assert not any(e.get("text") == "wheres my parcel??" for e in sms_tracker["events"]), "one conversation each"

    # Inside the window: a WhatsApp notification goes as free text, into the same conversation.
    delivered = whatsapp_notification(rt, parcel.id, "delivered")
    dispatch_now(rt)
    row, detail = sent_detail(rt, delivered)
    assert row.status in ("sent", "delivered") and "template" not in detail, (row.status, row.error, detail)
    with rt.sessions() as session:
        message = session.scalar(select(OutboxMessage).where(OutboxMessage.sid == row.provider_id))
        assert message is not None and message.body == row.body and "content_sid" not in message.meta
    tracker = httpx.get(f"{rt.settings.rasa_url}/conversations/{wa}/tracker", params=token).json()
    assert any(e.get("event") == "bot" and e.get("text") == row.body for e in tracker["events"])

    # STOP on WhatsApp stops WhatsApp only; START turns it on again.
    assert "no more WhatsApp messages" in "\n".join(send_as_customer(rt, wa, "STOP").replies)
    with rt.sessions() as session:
        consents = {c.channel: c.opted_out for c in session.scalars(select(Consent).where(
            Consent.customer_id == customer.id))}
        assert consents == {"whatsapp": True}
    assert "WhatsApp is on" in "\n".join(send_as_customer(rt, wa, "START").replies)
    with rt.sessions() as session:
        assert session.scalar(select(Consent.opted_out).where(Consent.customer_id == customer.id,
                                                              Consent.channel == "whatsapp")) is False


def test_a_forged_or_tampered_whatsapp_webhook_gets_403_and_changes_nothing(stack_runtime: Runtime,
                                                                           customers: CustomerPool) -> None:
    rt = stack_runtime
    customer, _ = customers.take(lambda ps: True)
    wa = f"whatsapp:{customer.phone}"
    form, signature = signed_inbound(rt, wa, "STOP", new_sid())
    url = rt.settings.sms_webhook_url
    assert httpx.post(url, data=form, timeout=30).status_code == 403  # unsigned
    assert httpx.post(url, data=form, headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}, timeout=30).status_code == 403
    posing = {**form, "From": "whatsapp:+4915199990077"}  # someone else's number under a real signature
    assert httpx.post(url, data=posing, headers={"X-Twilio-Signature": signature}, timeout=30).status_code == 403
    time.sleep(1.0)
    with rt.sessions() as session:
        assert session.scalar(select(Consent).where(Consent.customer_id == customer.id,
                                                    Consent.channel == "whatsapp")) is None
    token = {"token": rt.settings.rasa_token}
    for sender in (wa, "whatsapp:+4915199990077"):
        events = httpx.get(f"{rt.settings.rasa_url}/conversations/{sender}/tracker", params=token).json()["events"]
        assert not any(e.get("event") == "user" for e in events or [])


def test_an_agents_reply_goes_as_free_text_inside_the_window_and_as_the_template_after_it(
        stack_runtime: Runtime, customers: CustomerPool) -> None:
    """The customer asks for a person on WhatsApp; the agent's reply goes as free text through Rasa's
    channel. A day later (the customer's message moved 25 hours back in Twilio's log, the outbox's) the
    next reply goes once as the approved template with the agent's words, and the transcript says so."""
    rt = stack_runtime
    customer, _parcels = customers.take(lambda ps: any(p.status in ON_ITS_WAY for p in ps))
    wa = f"whatsapp:{customer.phone}"
    opt_in(rt, customer.id)
    with rt.sessions() as session, session.begin():
        row = session.get(Customer, customer.id)
        assert row is not None
        row.quiet_hours_start = row.quiet_hours_end = 0  # the demo morning is inside the default quiet hours
    assert send_as_customer(rt, wa, "let me talk to a human").status_code == 204
    with rt.sessions() as session:
        handoff = session.scalar(select(Handoff).where(Handoff.sender_id == wa, Handoff.status == "open"))
        assert handoff is not None and handoff.channel == "twilio"
        handoff_id = handoff.id
    client, csrf = console(rt.settings.web_internal_url, agent(rt))
    client.timeout = httpx.Timeout(60.0)  # a busy machine: the reply waits for Twilio's log and the send
    assert client.post(f"/agent/handoffs/{handoff_id}/claim", data={"csrf_token": csrf}).status_code == 303

    def to_customer() -> list[OutboxMessage]:
        with rt.sessions() as session:
            return list(session.scalars(select(OutboxMessage).where(
                OutboxMessage.to_address == wa, OutboxMessage.direction == "outbound",
                OutboxMessage.body.contains("call you at 5"))))

    inside = client.post(f"/agent/handoffs/{handoff_id}/reply",
                         data={"csrf_token": csrf, "text": "Hi, I will call you at 5."})
    assert inside.status_code == 303 and "msg=" not in inside.headers["location"]
    [free] = to_customer()
    assert free.body == "Sam: Hi, I will call you at 5." and "content_sid" not in free.meta

    with rt.sessions() as session, session.begin():  # a day and an hour pass (in Twilio's log)
        for message in session.scalars(select(OutboxMessage).where(OutboxMessage.from_address == wa)):
            message.created_at = utcnow() - timedelta(hours=25)
    after = client.post(f"/agent/handoffs/{handoff_id}/reply",
                        data={"csrf_token": csrf, "text": "Sorry, I could not call you at 5. Tomorrow?"})
    assert after.headers["location"].endswith("?msg=window-template")
    first, template = to_customer()
    assert first.sid == free.sid
    sid = cached_templates(rt.settings.whatsapp_templates).for_trigger("agent_reply", customer.locale)
    assert sid is not None and template.meta.get("content_sid") == sid.content_sid
    assert "Sam" in template.body and "Sorry, I could not call you at 5. Tomorrow?" in template.body
    page = client.get(after.headers["location"]).text
    assert "sent as the approved template" in page
    dispatch_now(rt)  # the scheduler's next pass sends nothing more
    assert len(to_customer()) == 2
    events = httpx.get(f"{rt.settings.rasa_url}/conversations/{wa}/tracker",
                       params={"token": rt.settings.rasa_token}).json()["events"]
    marked = [e for e in events if e.get("event") == "bot" and "Tomorrow?" in (e.get("text") or "")]
    assert len(marked) == 1 and "sent as the approved template" in marked[0]["metadata"]["sent_as"]
    client.close()
