"""A notification is part of the customer's conversation: an answer to it is about its parcel."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import select

from bot.clock import sim_now
from bot.devstack import Stack
from bot.models import Notification, OutboxMessage
from bot.notify.conversation import ConversationRecorder
from bot.notify.dispatch import Dispatcher
from bot.notify.providers import email_sender, sms_sender
from bot.notify.rules import load_rules
from bot.runtime import Runtime
from bot.sms_sim import send_as_customer
from tests.e2e.conftest import CustomerPool

CHANGEABLE = ("at_depot", "in_transit")


def test_an_answer_to_a_notification_is_about_its_parcel(stack: Stack, stack_runtime: Runtime,
                                                          customers: CustomerPool) -> None:
    customer, parcels = customers.take(lambda ps: sum(p.status in CHANGEABLE for p in ps) >= 2
                                       and not any(p.status == "out_for_delivery" for p in ps)
                                       and "sms" in ps[0].customer.preferred_channels)
    target = [p for p in parcels if p.status in CHANGEABLE][-1]
    rt = stack_runtime
    with rt.sessions() as session:
        now = sim_now(session)
        row = Notification(customer_id=customer.id, shipment_id=target.id, trigger="shipped", channel="sms",
                           template="shipped", locale=customer.locale, to_address=customer.phone,
                           dedupe_key=f"{target.id}:shipped::sms", due_at=now, status="planned",
                           context={}, created_at=now)
        session.add(row)
        session.commit()
        notification_id = row.id
    # The parcel just arrived at the depot, so the "shipped" news is true when the dispatcher asks,
    # and this customer keeps no quiet hours (the demo morning starts inside the default ones).
    with rt.sessions() as session:
        shipment = session.get(type(target), target.id)
        assert shipment is not None
        shipment.status_at = now
        shipment.customer.quiet_hours_start = shipment.customer.quiet_hours_end = 0
        session.commit()

    async def send() -> None:
        sms, email = sms_sender(rt.settings), email_sender(rt.settings)
        recorder = ConversationRecorder(rt.sessions, rt.settings)
        dispatcher = Dispatcher(rt.sessions, rt.settings, load_rules(), sms=sms, email=email,
                                after_send=recorder.record)
        try:
            await dispatcher.run_once(now)
        finally:
            await sms.close()
            await recorder.close()

    asyncio.run(send())
    with rt.sessions() as session:
        sent = session.get(Notification, notification_id)
        assert sent is not None and sent.status in ("sent", "delivered") and sent.recorded_at is not None
        assert session.scalar(select(OutboxMessage.id).where(OutboxMessage.to_address == customer.phone,
                                                             OutboxMessage.body == sent.body)) is not None
    tracker = httpx.get(f"{rt.settings.rasa_url}/conversations/{customer.phone}/tracker",
                        params={"token": rt.settings.rasa_token}).json()
    assert any(e.get("event") == "bot" and e.get("text") == sent.body for e in tracker["events"]), str([(e.get("event"), e.get("name") or e.get("text")) for e in tracker["events"]])
    assert tracker["slots"]["shipment_id"] == str(target.id) and tracker["slots"]["verified"] is True

    exchange = send_as_customer(rt, customer.phone, "can it come another day instead")
    reply = "\n".join(exchange.replies)
    assert "Which parcel" not in reply
    assert f"When should parcel …{target.tracking_number[-4:]}" in reply, reply
