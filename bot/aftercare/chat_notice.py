"""A claim opened in the web chat is answered in that chat: the resolved claim's message goes into the
conversation (Rasa's tracker events API, `output_channel=socketio`, like an agent's reply), once.

The planner still plans the SMS/email for it, due `CHAT_FIRST` after the resolution, so a chat that
cannot be reached loses nothing: when Rasa does not answer, that message is made due at once; when the
chat got it, the claim is marked told (`Claim.customer_told_at`) and the planned message is cancelled,
so the dispatcher (which asks the planner again just before sending) never sends it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.conversation.rasa_api import RasaAPI, RasaUnavailable
from bot.core.db import transaction
from bot.core.models import AuditLog, Claim, ClaimStatus, Notification, NotificationEvent
from bot.core.runtime import Runtime
from bot.notify.planner import web_chat
from bot.notify.render import context_for, render

logger = logging.getLogger("doorstep.claims")
TRIGGER = "claim_resolved"
SMS_PREFIX = "Doorstep: "


@dataclass(frozen=True)
class ChatNotice:
    """What goes into the chat: the conversation and the text, in the customer's language."""

    claim_id: int
    conversation_id: str
    text: str


def chat_text(claim: Claim, runtime: Runtime, now: datetime) -> str:
    """The SMS text for the resolved claim, without the SMS's "Doorstep:" prefix and tracking link."""
    shipment = claim.shipment
    facts = {"reference": claim.reference, "resolution": claim.resolution or ""}
    context = context_for(Notification(trigger=TRIGGER, context=facts), shipment, now=now,
                          settings=runtime.settings)
    text = render(TRIGGER, shipment.customer.locale, context).sms.strip()
    text = text.removeprefix(SMS_PREFIX).removesuffix(context["link"]).strip()
    return text[:1].upper() + text[1:]


def notice_for(runtime: Runtime, claim_id: int) -> ChatNotice | None:
    """The message for a resolved web-chat claim the customer was not told about yet, else None."""
    now = runtime.clock.now()
    with runtime.sessions() as session:
        claim = session.get(Claim, claim_id)
        if claim is None or claim.status != ClaimStatus.RESOLVED or claim.customer_told_at is not None \
                or not web_chat(claim.channel, claim.sender_id):
            return None
        return ChatNotice(claim.id, str(claim.sender_id), chat_text(claim, runtime, now))


def _planned(session: Session, claim: Claim) -> list[Notification]:
    fact = f"{claim.shipment_id}:{TRIGGER}:{claim.reference}:"
    return list(session.scalars(select(Notification).where(
        Notification.shipment_id == claim.shipment_id, Notification.trigger == TRIGGER,
        Notification.status == "planned", Notification.dedupe_key.startswith(fact, autoescape=True))))


def mark_told_in_chat(runtime: Runtime, claim_id: int) -> bool:
    """The chat got the message: the claim is told, and its planned SMS/email cancelled. False when it
    was marked told before (nothing changed)."""
    now = runtime.clock.now()
    with transaction(runtime.sessions) as session:
        done = session.execute(update(Claim).where(Claim.id == claim_id, Claim.customer_told_at.is_(None))
                               .values(customer_told_at=now).execution_options(synchronize_session=False))
        if done.rowcount != 1:  # type: ignore[attr-defined]
            return False
        claim = session.get(Claim, claim_id)
        assert claim is not None
        for row in _planned(session, claim):
            row.status, row.error = "cancelled", "told in the web chat"
            session.add(NotificationEvent(notification=row, at=now, status="cancelled", detail=row.error))
        session.add(AuditLog(actor="system", action="claim.told", entity="claim", entity_id=str(claim_id),
                             detail={"channel": "web"}))
        return True


def fall_back(runtime: Runtime, claim_id: int, why: str) -> None:
    """The chat could not be reached: the planned SMS/email goes out now instead of after the wait."""
    now = runtime.clock.now()
    with transaction(runtime.sessions) as session:
        claim = session.get(Claim, claim_id)
        if claim is None:
            return
        for row in _planned(session, claim):
            if row.due_at > now:
                row.due_at = now
                session.add(NotificationEvent(notification=row, at=now, status="planned",
                                              detail=f"web chat not reached: {why}"))
        session.add(AuditLog(actor="system", action="claim.chat_unreached", entity="claim",
                             entity_id=str(claim_id), detail={"why": why}))


async def tell_in_chat(runtime: Runtime, claim_id: int, rasa: RasaAPI | None = None) -> bool:
    """Tell the customer of a resolved web-chat claim in their chat; True when the chat got it.

    Called once by the request that resolved the claim (only one request can). Rasa down: the
    customer's SMS/email goes out instead, at once.
    """
    notice = await asyncio.to_thread(notice_for, runtime, claim_id)
    if notice is None:
        return False
    try:
        await (rasa or RasaAPI(runtime.settings, timeout=5)).say(notice.conversation_id, "socketio", notice.text)
    except RasaUnavailable as exc:
        logger.warning("claim %s: web chat not reached (%s); the SMS/email goes instead", claim_id, exc)
        await asyncio.to_thread(fall_back, runtime, claim_id, str(exc)[:200])
        return False
    return await asyncio.to_thread(mark_told_in_chat, runtime, claim_id)
