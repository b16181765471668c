"""Opt-out and opt-in per channel. Nothing more goes to an opted-out channel until START.

SMS and email are on unless the customer left them (no row: on). WhatsApp is off until the customer
opts in explicitly (START on WhatsApp): its row is the record of that opt-in, and STOP on WhatsApp
turns off WhatsApp only.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.models import AuditLog, Consent, Customer, utcnow
from bot.notify.planner import cancel_for_customer_channel

EXPLICIT_OPT_IN = ("whatsapp",)  # channels that stay off until the customer opts in


def set_opt_out(session: Session, *, customer_id: int, channel: str, opted_out: bool, source: str) -> bool:
    """Record the choice; True when it changed something (so the customer is told once)."""
    consent = session.scalar(select(Consent).where(Consent.customer_id == customer_id, Consent.channel == channel))
    if consent is None:
        if not opted_out and channel not in EXPLICIT_OPT_IN:
            return False
        # No row: on for SMS and email, off for WhatsApp (never opted in).
        consent = Consent(customer_id=customer_id, channel=channel, opted_out=channel in EXPLICIT_OPT_IN,
                          source=source)
        session.add(consent)
    if consent.opted_out == opted_out:
        return False
    consent.opted_out, consent.source, consent.changed_at = opted_out, source, utcnow()
    session.add(AuditLog(actor=f"customer:{customer_id}", action="opt_out" if opted_out else "opt_in",
                         entity="consent", entity_id=f"{customer_id}:{channel}", detail={"source": source}))
    if opted_out:  # what was planned on that channel will not go; the planner re-plans on another one
        cancel_for_customer_channel(session, customer_id, channel, utcnow(), f"opted out ({source})")
    elif channel in EXPLICIT_OPT_IN:
        _prefer(session, customer_id, channel, source)
    session.flush()
    return True


def _prefer(session: Session, customer_id: int, channel: str, source: str) -> None:
    """An explicit opt-in is also the customer's choice of channel: what was planned by SMS goes there."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        return
    if channel not in (customer.preferred_channels or []):
        customer.preferred_channels = [channel, *(customer.preferred_channels or [])]
    cancel_for_customer_channel(session, customer_id, "sms", utcnow(), f"moved to {channel} ({source})")


def opted_in(session: Session, customer_id: int, channel: str) -> bool:
    """May this channel carry messages to the customer (WhatsApp: only after an explicit opt-in)?"""
    consent = session.scalar(select(Consent.opted_out).where(Consent.customer_id == customer_id,
                                                             Consent.channel == channel))
    return (consent is False) if channel in EXPLICIT_OPT_IN else not consent


def sms_opted_out(session: Session, phone: str) -> bool:
    """The customer with this number replied STOP (or asked not to be texted): nothing goes to it."""
    return bool(session.scalar(
        select(Consent.opted_out).join(Customer).where(Customer.phone == phone, Consent.channel == "sms")
    ))
