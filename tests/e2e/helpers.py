"""Talking to the running stack the way customers' channels do."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from bot.clock import sim_now
from bot.models import Customer, Shipment
from bot.runtime import Runtime
from bot.timefmt import clock


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
