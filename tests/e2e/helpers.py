"""Talking to the running stack the way customers' channels do."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx

from bot.core.clock import sim_now
from bot.core.models import Customer, Shipment
from bot.core.runtime import Runtime
from bot.notify.conversation import ConversationRecorder
from bot.notify.dispatch import Dispatcher
from bot.notify.providers import email_sender, sms_sender
from bot.notify.rules import load_rules
from bot.notify.whatsapp import whatsapp_sender
from bot.text.timefmt import clock


def rest(runtime: Runtime, sender: str, text: str, **extra: Any) -> list[str]:
    response = httpx.post(f"{runtime.settings.rasa_url}/webhooks/rest/webhook",
                          json={"sender": sender, "message": text, **extra}, timeout=30)
    response.raise_for_status()
    return [m.get("text", "") for m in response.json()]


def new_sender() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


def tracker_events(runtime: Runtime, sender_id: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{runtime.settings.rasa_url}/conversations/{sender_id}/tracker",
                         params={"token": runtime.settings.rasa_token}, timeout=10)
    response.raise_for_status()
    return response.json().get("events", [])


ON_ITS_WAY = ("at_depot", "in_transit", "out_for_delivery")


def active(pool: Any) -> tuple[Customer, list[Shipment]]:
    """A customer of one's own with parcels on their way (with an ETA), those parcels first."""
    customer, parcels = pool.take(lambda ps: any(p.status in ON_ITS_WAY and p.eta_start for p in ps))
    return customer, [p for p in parcels if p.status in ON_ITS_WAY and p.eta_start]


def eta_text(runtime: Runtime, shipment: Shipment, tz: str) -> str:
    """The window as the bot must say it, read from the database."""
    with runtime.sessions() as session:
        fresh = session.get(Shipment, shipment.id)
        assert fresh is not None and fresh.eta_start and fresh.eta_end
        sim_now(session)
        return f"{clock(fresh.eta_start, tz)}-{clock(fresh.eta_end, tz)}"


def user_messages(runtime: Runtime, sender_id: str) -> list[str]:
    """What the tracker recorded as said by the user (reading it starts an empty session, nothing more)."""
    return [e.get("text", "") for e in tracker_events(runtime, sender_id) if e.get("event") == "user"]


def recently_delivered(pool: Any, runtime: Runtime) -> tuple[Customer, list[Shipment], Shipment]:
    """A customer of one's own with exactly one delivered parcel, delivered in the last ten days."""
    with runtime.sessions() as session:
        now = sim_now(session)
    customer, parcels = pool.take(lambda ps: [p.status for p in ps].count("delivered") == 1 and any(
        p.status == "delivered" and p.delivered_at and p.delivered_at > now - timedelta(days=10) for p in ps))
    return customer, parcels, next(p for p in parcels if p.status == "delivered")


def dispatch_now(runtime: Runtime) -> None:
    """The scheduler's dispatch pass (the e2e stack runs no scheduler): outbox SMS, recorded in Rasa."""
    with runtime.sessions() as session:
        now = sim_now(session)

    async def send() -> None:
        sms_out, email = sms_sender(runtime.settings), email_sender(runtime.settings)
        whatsapp = whatsapp_sender(runtime.settings)
        recorder = ConversationRecorder(runtime.sessions, runtime.settings)
        dispatcher = Dispatcher(runtime.sessions, runtime.settings, load_rules(), sms=sms_out, email=email,
                                after_send=recorder.record, whatsapp=whatsapp)
        try:
            await dispatcher.run_once(now)
        finally:
            await sms_out.close()
            if whatsapp is not None:
                await whatsapp.close()
            await recorder.close()

    asyncio.run(send())
