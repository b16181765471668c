"""START and STOP on WhatsApp: an explicit opt-in for WhatsApp, an opt-out of WhatsApp only."""

from __future__ import annotations

import asyncio

from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.consent import ConfirmOptOut, OptIn, RecordOptOut
from bot.conversation.consent import opted_in
from bot.core.models import Consent, Customer
from bot.core.runtime import Runtime
from tests.actions.conftest import tracker


def said(action: object, sender_id: str, text: str, intent: str) -> str:
    dispatcher = CollectingDispatcher()
    state = tracker("tracker_sms", sender_id=sender_id,
                    latest_message={"text": text, "intent": {"name": intent, "confidence": 1.0},
                                    "metadata": {"text": text.lstrip("/")}})
    asyncio.run(action.run(dispatcher, state, {}))  # type: ignore[attr-defined]
    return " ".join(m["text"] for m in dispatcher.messages)


def first_customer(world: Runtime) -> Customer:
    with world.sessions() as session:
        customer = session.scalars(select(Customer).order_by(Customer.id)).first()
        assert customer is not None
        return customer


def consents(world: Runtime, customer_id: int) -> dict[str, bool]:
    with world.sessions() as session:
        return {c.channel: c.opted_out for c in session.scalars(select(Consent).where(Consent.customer_id == customer_id))}


def test_start_on_whatsapp_opts_in_to_whatsapp_and_makes_it_the_first_channel(world: Runtime) -> None:
    customer = first_customer(world)
    wa = f"whatsapp:{customer.phone}"
    assert consents(world, customer.id) == {}
    with world.sessions() as session:
        assert not opted_in(session, customer.id, "whatsapp"), "no row: WhatsApp is off"
    assert "WhatsApp is on" in said(OptIn(), wa, "/opt_in", "opt_in")
    assert consents(world, customer.id) == {"whatsapp": False}
    with world.sessions() as session:
        assert session.get(Customer, customer.id).preferred_channels[0] == "whatsapp"  # type: ignore[union-attr]
    assert "already on" in said(OptIn(), wa, "/opt_in", "opt_in")


def test_stop_on_whatsapp_stops_whatsapp_only(world: Runtime) -> None:
    customer = first_customer(world)
    wa = f"whatsapp:{customer.phone}"
    said(OptIn(), wa, "/opt_in", "opt_in")
    assert "no more WhatsApp messages" in said(ConfirmOptOut(), wa, "/opt_out", "opt_out")
    said(RecordOptOut(), wa, "/opt_out", "opt_out")
    assert consents(world, customer.id) == {"whatsapp": True}, "SMS and email untouched"
    said(RecordOptOut(), customer.phone, "/opt_out", "opt_out")  # STOP by SMS stops SMS
    assert consents(world, customer.id) == {"whatsapp": True, "sms": True}


def test_stop_on_whatsapp_by_a_stranger_records_nothing(world: Runtime) -> None:
    said(RecordOptOut(), "whatsapp:+4915199998888", "/opt_out", "opt_out")
    with world.sessions() as session:
        assert session.scalar(select(Consent)) is None
