"""The embedded outbox: where SMS and email 'go' when no real provider is configured."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.conversation.consent import sms_opted_out
from bot.core.models import OutboxMessage, utcnow

WHATSAPP = "whatsapp:"
WHATSAPP_WINDOW = timedelta(hours=24)  # WhatsApp's customer-service window


def new_sid(prefix: str = "SM") -> str:
    return prefix + secrets.token_hex(16)


def is_sms_opted_out(session: Session, phone: str) -> bool:
    return sms_opted_out(session, phone)


def whatsapp_window_open(session: Session, address: str) -> bool:
    """Did this WhatsApp user write to us in the last 24 hours (so free text may go to them)?"""
    return session.scalar(
        select(OutboxMessage.id).where(OutboxMessage.channel == "whatsapp", OutboxMessage.direction == "inbound",
                                       OutboxMessage.from_address == address,
                                       OutboxMessage.created_at >= utcnow() - WHATSAPP_WINDOW).limit(1)
    ) is not None


def record(session: Session, *, channel: str, to: str, sender: str, body: str, direction: str = "outbound",
           subject: str | None = None, sid: str | None = None) -> OutboxMessage:
    message = OutboxMessage(sid=sid or new_sid(), channel=channel, direction=direction, to_address=to,
                            from_address=sender, subject=subject, body=body)
    session.add(message)
    session.flush()
    return message


def conversation(session: Session, address: str, *, after_id: int = 0, limit: int = 200) -> list[OutboxMessage]:
    """Messages to and from one phone or email address, oldest first."""
    rows = session.scalars(
        select(OutboxMessage)
        .where(or_(OutboxMessage.to_address == address, OutboxMessage.from_address == address),
               OutboxMessage.id > after_id)
        .order_by(OutboxMessage.id.desc()).limit(limit)
    ).all()
    return list(reversed(rows))


def as_dict(message: OutboxMessage) -> dict[str, Any]:
    return {
        "id": message.id, "sid": message.sid, "channel": message.channel, "direction": message.direction,
        "to": message.to_address, "from": message.from_address, "subject": message.subject,
        "body": message.body, "status": message.status, "created_at": message.created_at.isoformat(),
        "media": list((message.meta or {}).get("media", [])), "template": (message.meta or {}).get("content_sid"),
    }
