"""Opt-out and opt-in per channel. Nothing more goes to an opted-out channel until START."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.models import AuditLog, Consent, Customer, utcnow
from bot.notify.planner import cancel_for_customer_channel


def set_opt_out(session: Session, *, customer_id: int, channel: str, opted_out: bool, source: str) -> bool:
    """Record the choice; True when it changed something (so the customer is told once)."""
    consent = session.scalar(select(Consent).where(Consent.customer_id == customer_id, Consent.channel == channel))
    if consent is None:
        if not opted_out:
            return False
        consent = Consent(customer_id=customer_id, channel=channel, opted_out=False, source=source)
        session.add(consent)
    if consent.opted_out == opted_out:
        return False
    consent.opted_out, consent.source, consent.changed_at = opted_out, source, utcnow()
    session.add(AuditLog(actor=f"customer:{customer_id}", action="opt_out" if opted_out else "opt_in",
                         entity="consent", entity_id=f"{customer_id}:{channel}", detail={"source": source}))
    if opted_out:  # what was planned on that channel will not go; the planner re-plans on another one
        cancel_for_customer_channel(session, customer_id, channel, utcnow(), f"opted out ({source})")
    session.flush()
    return True


def sms_opted_out(session: Session, phone: str) -> bool:
    """The customer with this number replied STOP (or asked not to be texted): nothing goes to it."""
    return bool(session.scalar(
        select(Consent.opted_out).join(Customer).where(Customer.phone == phone, Consent.channel == "sms")
    ))

