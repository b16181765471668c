"""Handoffs to people: opened by the bot, worked by agents (the console is its own issue)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.models import AuditLog, Handoff


def create_handoff(session: Session, *, channel: str, sender_id: str, reason: str, summary: str,
                   customer_id: int | None, shipment_id: int | None) -> Handoff:
    """One open handoff per conversation: asking again adds to the summary, not to the queue."""
    handoff = session.scalar(
        select(Handoff).where(Handoff.sender_id == sender_id, Handoff.channel == channel, Handoff.status != "closed")
    )
    if handoff is None:
        handoff = Handoff(channel=channel, sender_id=sender_id, reason=reason, summary=summary,
                          customer_id=customer_id, shipment_id=shipment_id)
        session.add(handoff)
    else:
        handoff.summary = f"{handoff.summary}\n---\n{summary}"
    session.flush()
    session.add(AuditLog(actor=f"bot:{channel}", action="handoff", entity="handoff", entity_id=str(handoff.id),
                         detail={"reason": reason}))
    return handoff
