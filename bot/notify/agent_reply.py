"""An agent's reply in a WhatsApp conversation after WhatsApp's 24-hour window closed.

WhatsApp takes free text only within 24 hours (real time) of the customer's last message; outside that
Twilio refuses it (63016) and the Rasa channel could only log it. So the console asks Twilio's message
log when the customer last wrote (as the dispatcher does, `TwilioWhatsApp.last_inbound`), and only with
the window open, less a margin for the moment Rasa takes to send, does the reply go as free text. Else
the reply becomes one `agent_reply` notification, sent at once through the dispatcher (claim, decide,
send, record: exactly once, even with a scheduler pass running): the approved template with the agent's
name and words; with no template, or the customer opted out of WhatsApp, the dispatcher's fallback
sends it by SMS to the same number (then email). `outcome` says which, for the agent.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.models import Handoff, Notification, Shipment
from bot.core.runtime import Runtime
from bot.core.settings import Settings
from bot.desk.handoff_desk import parcel_for
from bot.notify.planner import Wanted, fact_of, insert_plans, plan_row
from bot.notify.providers import PermanentFailure, TransientFailure
from bot.notify.render import LIMITS
from bot.notify.service import send_now
from bot.notify.whatsapp import WINDOW, whatsapp_sender

TRIGGER = "agent_reply"
MARGIN = timedelta(minutes=10)  # free text only with this much of the window left
MAX_TEMPLATE_TEXT = LIMITS["agent_text"]  # what the template carries (its body holds 1,024 characters)
PENDING = ("planned", "sending")
SENT = ("sent", "delivered")
How = Literal["template", "sms", "email", "queued", "not_delivered"]


def is_whatsapp(channel: str, sender_id: str) -> bool:
    """A WhatsApp conversation: the Twilio channel with a `whatsapp:+…` sender."""
    return channel == "twilio" and sender_id.startswith("whatsapp:+")


async def window_open(settings: Settings, address: str, now: datetime | None = None) -> bool:
    """Did the customer write on WhatsApp recently enough for free text? Twilio's log says; when it
    cannot be read, no (the approved template goes inside the window as well as outside it)."""
    sender = whatsapp_sender(settings)
    if sender is None:
        return False
    now = now or datetime.now(UTC)  # WhatsApp's clock, never the sandbox's accelerated one
    try:
        last = await sender.last_inbound(address, now)
    except (TransientFailure, PermanentFailure):
        return False
    finally:
        await sender.close()
    return last is not None and now - last < WINDOW - MARGIN


def reply_key(handoff_id: int, agent_id: int, text: str, at: datetime) -> str:
    """The reply as the message's variant: the handoff, a digest of who said what, the minute by the wall
    clock (a form sent twice plans one message)."""
    digest = hashlib.sha256(f"{agent_id}\x00{text}".encode()).hexdigest()[:12]
    return f"h{handoff_id}:{digest}:{at.astimezone(UTC).strftime('%Y%m%dT%H%M')}"


def plan_reply(session: Session, *, handoff: Handoff, shipment: Shipment, agent_id: int, agent_name: str,
               text: str, locale: str, now: datetime, at: datetime | None = None) -> str:
    """Plan the reply on WhatsApp, due `now` (the dispatcher's clock), keyed by `at` (the wall clock);
    returns its fact key (the same for its fallbacks). The same reply planned twice is one message."""
    key = reply_key(handoff.id, agent_id, text, at or datetime.now(UTC))
    want = Wanted(TRIGGER, key, now, "whatsapp",
                  {"agent_name": agent_name, "agent_text": text, "handoff_id": handoff.id})
    row = plan_row(shipment, want, want.dedupe_key(shipment.id), now, "planned")
    row["to_address"], row["locale"] = handoff.sender_id, locale  # this conversation, in its language
    insert_plans(session, [row], now)
    return want.fact_key(shipment.id)


def message_parcel(session: Session, handoff: Handoff) -> Shipment | None:
    """The parcel the reply goes with (its tracking link in an SMS): the conversation's, else the customer's latest."""
    parcel = parcel_for(session, handoff)
    if parcel is None and handoff.customer_id is not None:
        parcel = session.scalar(select(Shipment).where(Shipment.customer_id == handoff.customer_id)
                                .order_by(Shipment.id.desc()).limit(1))
    return parcel


async def reply_after_window(runtime: Runtime, *, handoff_id: int, agent_id: int, agent_name: str, text: str,
                             locale: str, now: datetime) -> Outcome:
    """Plan the reply and send it at once through the dispatcher: the template, then (if it cannot go)
    the fallback the dispatcher plans. `now` is the dispatcher's clock (the sandbox's, in the demo)."""
    with runtime.sessions() as session, session.begin():
        handoff = session.get(Handoff, handoff_id)
        parcel = message_parcel(session, handoff) if handoff is not None else None
        if handoff is None or parcel is None:
            return Outcome("not_delivered", "no known customer with a parcel to send it with")
        fact = plan_reply(session, handoff=handoff, shipment=parcel, agent_id=agent_id, agent_name=agent_name,
                          text=text, locale=locale, now=now)
    for _channel in ("whatsapp", "sms", "email"):  # each send may plan the next channel, due now
        with runtime.sessions() as session:
            due = [row.id for row in messages_for(session, fact) if row.status == "planned" and row.due_at <= now]
        if not due:
            break
        await send_now(runtime, due, now)
    with runtime.sessions() as session:
        return outcome(messages_for(session, fact))


def messages_for(session: Session, fact: str) -> list[Notification]:
    """The reply's message and its fallbacks, in the order they were planned."""
    return list(session.scalars(select(Notification).where(
        Notification.dedupe_key.startswith(f"{fact}:", autoescape=True)).order_by(Notification.id)))


@dataclass(frozen=True)
class Outcome:
    how: How
    detail: str  # for the agent: what happened and why


def outcome(rows: list[Notification]) -> Outcome:
    """What became of the reply: sent as the template, by SMS or email, still queued, or not delivered."""
    by_channel = {row.channel: row for row in rows}
    whatsapp = by_channel.get("whatsapp")
    why_not = f"not on WhatsApp: {whatsapp.error}" if whatsapp is not None and whatsapp.error else ""
    for row in rows:
        if row.status in SENT:
            how: How = "template" if row.channel == "whatsapp" else "sms" if row.channel == "sms" else "email"
            return Outcome(how, "" if how == "template" else why_not)
    waiting = [row for row in rows if row.status in PENDING]
    if waiting:
        row = waiting[-1]
        step = row.events[-1].detail if row.events else None
        return Outcome("queued", f"{row.channel}: {step or row.status}")
    return Outcome("not_delivered", "; ".join(f"{row.channel}: {row.error or row.status}" for row in rows)
                   or "no channel reaches the customer")


def latest_outcome(session: Session, handoff: Handoff) -> Outcome | None:
    """What became of the last reply in this conversation that went after the window (None: none did)."""
    if handoff.customer_id is None:
        return None
    last = session.scalar(select(Notification).where(
        Notification.customer_id == handoff.customer_id, Notification.trigger == TRIGGER,
        Notification.dedupe_key.contains(f":{TRIGGER}:h{handoff.id}:", autoescape=True))
        .order_by(Notification.id.desc()).limit(1))
    if last is None:
        return None
    return outcome(messages_for(session, fact_of(last.dedupe_key)))


SAID = {"template": "WhatsApp's 24-hour window had closed: sent as the approved template",
        "sms": "WhatsApp's 24-hour window had closed: sent by SMS",
        "email": "WhatsApp's 24-hour window had closed: sent by email",
        "queued": "WhatsApp's 24-hour window had closed: queued",
        "not_delivered": "WhatsApp's 24-hour window had closed: not delivered"}


def said(result: Outcome) -> str:
    """The outcome in the agent's words (the console's notice and the transcript's mark)."""
    return f"{SAID[result.how]} ({result.detail})" if result.detail else SAID[result.how]
