"""The agents' side of handoffs: the queue, claiming (one agent per conversation), replies, closing.

The bot opens handoffs (`bot.conversation.handoffs`); this module never talks to Rasa itself, the web routes do,
so each function here is one short database transaction that is easy to test on its own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.conversation.consent import sms_opted_out
from bot.conversation.identity import active_shipments
from bot.core.models import Agent, AuditLog, Customer, Handoff, Shipment, utcnow
from bot.text import language_of

# Higher first; equal priority: longest waiting first.
PRIORITY = {"angry": 3, "carrier_error": 2, "misunderstood": 1, "request": 1, "verification": 0}
CHANNEL_LABEL = {"twilio": "SMS", "socketio": "web chat", "rest": "API"}


def channel_label(channel: str, sender_id: str) -> str:
    """The channel as agents name it: WhatsApp comes through the Twilio channel as `whatsapp:+…`."""
    if channel == "twilio" and sender_id.startswith("whatsapp:"):
        return "WhatsApp"
    return CHANNEL_LABEL.get(channel, channel)
REASON_LABEL = {"request": "asked for a person", "misunderstood": "bot did not understand twice",
                "carrier_error": "carrier call failed", "angry": "customer upset",
                "verification": "could not verify identity"}
MAX_NOTE = 2000
OPTED_OUT = "the customer opted out of SMS (STOP)"


def undeliverable_because(session: Session, handoff: Handoff) -> str | None:
    """Why an agent's reply in this conversation would not reach the customer, or None."""
    if handoff.channel == "twilio" and sms_opted_out(session, handoff.sender_id):
        return OPTED_OUT
    return None


def audit(session: Session, agent: Agent, action: str, handoff_id: int | str, **detail: Any) -> None:
    session.add(AuditLog(actor=f"agent:{agent.id}", action=action, entity="handoff", entity_id=str(handoff_id),
                         detail=detail))


def last_customer_line(summary: str) -> str:
    """What the customer asked last, from the summary the bot wrote at handoff."""
    lines = [line.removeprefix("customer: ") for line in summary.splitlines() if line.startswith("customer: ")]
    return lines[-1].split("  [", 1)[0] if lines else ""


LANGUAGE_LABEL = {"en": "English", "de": "German", "nl": "Dutch"}


def conversation_language(summary: str, customer: Customer | None) -> str:
    """The language the bot was speaking when it handed over ("Language: de" in the summary the bot
    wrote), else the customer's own; the agent answers in it."""
    said = [line.removeprefix("Language: ").strip() for line in summary.splitlines() if line.startswith("Language: ")]
    code = said[-1] if said else (customer.locale if customer else "en")
    return language_of(code)


def parcel_for(session: Session, handoff: Handoff) -> Shipment | None:
    """The parcel the conversation is about: the one the bot had in hand, else the customer's most
    urgent parcel on its way (an SMS customer is known by phone before any parcel is picked)."""
    if handoff.shipment_id is not None:
        return session.get(Shipment, handoff.shipment_id)
    if handoff.customer_id is None:
        return None
    parcels = active_shipments(session, handoff.customer_id)
    return parcels[0] if parcels else None


def queue(session: Session, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """Open and assigned handoffs, most urgent first, each with what an agent needs to pick one."""
    now = now or utcnow()
    rows = session.execute(
        select(Handoff, Customer, Agent)
        .outerjoin(Customer, Customer.id == Handoff.customer_id)
        .outerjoin(Agent, Agent.id == Handoff.agent_id)
        .where(Handoff.status != "closed")
    ).all()
    items: list[dict[str, Any]] = []
    for handoff, customer, agent in rows:
        shipment = parcel_for(session, handoff)
        items.append({
            "id": handoff.id, "status": handoff.status, "reason": REASON_LABEL.get(handoff.reason, handoff.reason),
            "priority": PRIORITY.get(handoff.reason, 1), "channel": channel_label(handoff.channel, handoff.sender_id),
            "waiting_seconds": max(int((now - handoff.opened_at).total_seconds()), 0),
            "customer": customer.name if customer else "unverified customer",
            "language": LANGUAGE_LABEL[conversation_language(handoff.summary, customer)],
            "shipment": shipment.tracking_number if shipment else None,
            "shipment_status": shipment.status.replace("_", " ") if shipment else None,
            "asked": last_customer_line(handoff.summary), "agent": agent.name if agent else None,
            "agent_id": handoff.agent_id, "not_delivered": undeliverable_because(session, handoff),
        })
    items.sort(key=lambda i: (i["status"] != "open", -i["priority"], -i["waiting_seconds"]))
    return items


def claim(session: Session, *, handoff_id: int, agent: Agent) -> bool:
    """Take an open handoff. One conditional UPDATE, so of two agents claiming at once exactly one wins."""
    result = session.execute(
        update(Handoff).where(Handoff.id == handoff_id, Handoff.status == "open")
        .values(status="assigned", agent_id=agent.id, assigned_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    won = result.rowcount == 1  # type: ignore[attr-defined]
    if won:
        audit(session, agent, "handoff.claim", handoff_id)
    return won


def may_work_on(handoff: Handoff, agent: Agent) -> bool:
    """The agent who claimed it; a supervisor may step into any open conversation."""
    return handoff.status == "assigned" and (handoff.agent_id == agent.id or agent.role == "supervisor")


def close(session: Session, *, handoff_id: int, agent: Agent, note: str) -> Handoff | None:
    """Close with a note; the caller then resumes the bot. None when it was not this agent's to close."""
    conditions = [Handoff.id == handoff_id, Handoff.status == "assigned"]
    if agent.role != "supervisor":
        conditions.append(Handoff.agent_id == agent.id)
    result = session.execute(
        update(Handoff).where(*conditions).values(status="closed", closed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    audit(session, agent, "handoff.close", handoff_id, note=note[:MAX_NOTE])
    handoff = session.get(Handoff, handoff_id)
    if handoff is not None:
        session.refresh(handoff)
    return handoff


def reopen(session: Session, *, handoff_id: int, agent: Agent, reason: str) -> None:
    """Undo a close whose resume could not reach Rasa: the conversation is still paused, so still ours."""
    session.execute(update(Handoff).where(Handoff.id == handoff_id)
                    .values(status="assigned", closed_at=None).execution_options(synchronize_session=False))
    audit(session, agent, "handoff.reopen", handoff_id, reason=reason)
