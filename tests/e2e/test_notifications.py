"""A notification is part of the customer's conversation: an answer to it is about its parcel."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from bot.core.clock import sim_now
from bot.core.models import AuditLog, Handoff, Notification, OutboxMessage, Shipment, ShipmentStatus
from bot.core.runtime import Runtime
from bot.demo.sms_sim import send_as_customer
from tests.e2e.conftest import CustomerPool
from tests.e2e.helpers import dispatch_now

CHANGEABLE = ("at_depot", "in_transit")


def notify(rt: Runtime, customer_id: int, shipment_id: int, trigger: str) -> Notification:
    """Send one notification for real (outbox SMS, recorded in Rasa), its news made fresh: the
    shipment's latest event happened now, and this customer keeps no quiet hours (the demo
    morning starts inside the default ones)."""
    with rt.sessions() as session:
        now = sim_now(session)
        shipment = session.get(Shipment, shipment_id)
        assert shipment is not None
        shipment.status_at = now
        if trigger == "delivered":
            shipment.delivered_at = now
        shipment.customer.quiet_hours_start = shipment.customer.quiet_hours_end = 0
        customer = shipment.customer
        row = Notification(customer_id=customer_id, shipment_id=shipment_id, trigger=trigger, channel="sms",
                           template=trigger, locale=customer.locale, to_address=customer.phone,
                           dedupe_key=f"{shipment_id}:{trigger}::sms", due_at=now, status="planned",
                           context={}, created_at=now)
        session.add(row)
        session.commit()
        notification_id = row.id

    dispatch_now(rt)
    with rt.sessions() as session:
        sent = session.get(Notification, notification_id)
        assert sent is not None and sent.status in ("sent", "delivered") and sent.recorded_at is not None
        assert session.scalar(select(OutboxMessage.id).where(OutboxMessage.to_address == customer.phone,
                                                             OutboxMessage.body == sent.body)) is not None
        return sent


def test_an_answer_to_a_notification_is_about_its_parcel(stack_runtime: Runtime, customers: CustomerPool) -> None:
    customer, parcels = customers.take(lambda ps: sum(p.status in CHANGEABLE for p in ps) >= 2
                                       and not any(p.status == "out_for_delivery" for p in ps)
                                       and "sms" in ps[0].customer.preferred_channels)
    target = [p for p in parcels if p.status in CHANGEABLE][-1]
    rt = stack_runtime
    sent = notify(rt, customer.id, target.id, "shipped")
    tracker = httpx.get(f"{rt.settings.rasa_url}/conversations/{customer.phone}/tracker",
                        params={"token": rt.settings.rasa_token}).json()
    assert any(e.get("event") == "bot" and e.get("text") == sent.body for e in tracker["events"])
    assert tracker["slots"]["shipment_id"] == str(target.id) and tracker["slots"]["verified"] is True

    exchange = send_as_customer(rt, customer.phone, "can it come another day instead")
    reply = "\n".join(exchange.replies)
    assert "Which parcel" not in reply
    assert f"When should parcel {target.tracking_number[-4:]} come?" in reply, reply


def test_a_low_delivery_rating_brings_a_person_and_a_good_one_is_thanked(stack_runtime: Runtime,
                                                                       customers: CustomerPool) -> None:
    rt = stack_runtime
    ratings = {}
    for score in ("2", "5"):
        customer, parcels = customers.take(lambda ps: len(ps) == 1 and ps[0].status in CHANGEABLE
                                           and "sms" in ps[0].customer.preferred_channels)
        parcel = parcels[0]
        with rt.sessions() as session:
            shipment = session.get(Shipment, parcel.id)
            assert shipment is not None
            shipment.status = ShipmentStatus.DELIVERED
            session.commit()
        notify(rt, customer.id, parcel.id, "delivered")
        exchange = send_as_customer(rt, customer.phone, score)
        ratings[score] = ("\n".join(exchange.replies), customer.phone, parcel.id)
    low, phone, shipment_id = ratings["2"]
    assert "Sorry it wasn't good" in low
    with rt.sessions() as session:
        handoff = session.scalar(select(Handoff).where(Handoff.sender_id == phone))
        assert handoff is not None and handoff.reason == "low_rating" and handoff.shipment_id == shipment_id
        scores = {a.entity_id: a.detail["score"] for a in session.scalars(
            select(AuditLog).where(AuditLog.action == "delivery_rating"))}
    good, phone, shipment_id = ratings["5"]
    assert "Thank you for rating" in good
    assert scores[str(ratings["2"][2])] == 2 and scores[str(shipment_id)] == 5
    with rt.sessions() as session:
        assert session.scalar(select(Handoff).where(Handoff.sender_id == phone)) is None
