"""Once the notification dispatcher has sent an after-delivery message, remember it was sent: the
"all OK?" ask (`DeliveryProof.customer_asked_at`) and a resolved claim's message (`Claim.customer_told_at`).
The planner asks for each only while these are empty, so each goes out once."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.core.models import Claim, DeliveryProof

ASK = "delivery_check"
TOLD = "claim_resolved"


def mark_sent(session: Session, dedupe_keys: Iterable[str], now: datetime) -> None:
    """`dedupe_keys` of messages just sent ("{shipment}:{trigger}:{variant}:{channel}")."""
    asked: set[int] = set()
    told: set[str] = set()
    for key in dedupe_keys:
        parts = key.split(":")
        if len(parts) < 4 or not parts[0].isdigit():
            continue
        if parts[1] == ASK:
            asked.add(int(parts[0]))
        elif parts[1] == TOLD:
            told.add(parts[2])
    if asked:
        session.execute(update(DeliveryProof).where(DeliveryProof.shipment_id.in_(asked),
                                                    DeliveryProof.customer_asked_at.is_(None))
                        .values(customer_asked_at=now).execution_options(synchronize_session=False))
    if told:
        session.execute(update(Claim).where(Claim.reference.in_(told), Claim.customer_told_at.is_(None))
                        .values(customer_told_at=now).execution_options(synchronize_session=False))
