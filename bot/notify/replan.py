"""A customer's change makes planned messages wrong ("arriving 10:00-12:00" after a move to
Friday): cancel the ones not sent yet, so the planner plans them again from the new state."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.models import AuditLog, Notification

# Messages whose content depends on where and when the parcel comes.
WINDOW_TRIGGERS = {"day_before", "out_for_delivery", "stops_away", "delayed", "eta_window", "failed_attempt"}


def replan_after_change(session: Session, *, shipment_id: int, change: str) -> int:
    """Cancel the shipment's planned, unsent window messages; returns how many."""
    planned = session.scalars(
        select(Notification).where(Notification.shipment_id == shipment_id, Notification.status == "planned",
                                   Notification.trigger.in_(WINDOW_TRIGGERS))
    ).all()
    for notification in planned:
        notification.status = "cancelled"
        notification.error = f"superseded by customer change: {change}"
    session.add(AuditLog(actor="bot", action="replan", entity="shipment", entity_id=str(shipment_id),
                         detail={"change": change, "cancelled": len(planned)}))
    session.flush()
    return len(planned)
