"""When the plans of a shipment must be derived again, and what a customer's change cancels at once.

Plans are derived from facts (the shipment's state, its customer's consents and channels, its route
position, returns, proofs, claims, guessing locks). Whatever changes such a fact asks for its
shipment to be planned again through one hook, `request_replan`: a `planning_requests` row written
in the same transaction as the fact, consumed by a planning worker (`bot.notify.planning`). So a
change committed is a re-plan owed, and a change rolled back is none.

Most facts are rows the ORM writes, and `_record_changes` asks for their shipments on every flush:
code that changes a shipment, a stop or a consent needs to do nothing more. Code that changes facts
with bulk UPDATE statements (which the ORM does not see) calls `request_replan` itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import event, insert, select
from sqlalchemy.orm import Session, UOWTransaction

from bot.core.models import (
    AuditLog,
    Claim,
    Consent,
    Customer,
    DeliveryProof,
    Notification,
    PlanningRequest,
    Return,
    Route,
    Shipment,
    ShipmentEvent,
    ShipmentStatus,
    Stop,
    utcnow,
)

# Messages whose content depends on where and when the parcel comes.
WINDOW_TRIGGERS = {"day_before", "out_for_delivery", "stops_away", "delayed", "eta_window", "failed_attempt"}
# The due time of a request to plan as soon as a worker is free (before any clock, the sandbox's too).
REPLAN_NOW = datetime(1970, 1, 1, tzinfo=UTC)
FINAL = (ShipmentStatus.DELIVERED, ShipmentStatus.RETURNED)


def request_replan(session: Session, shipment_id: int, why: str, *, due_at: datetime = REPLAN_NOW) -> None:
    """Ask for the shipment's plans to be derived again, in the caller's transaction; from `due_at`
    on when given (a time-based trigger), else as soon as a planning worker is free."""
    _insert(session, {shipment_id}, why, due_at)


def request_replan_by_tracking(session: Session, tracking_number: str, why: str) -> None:
    """The same, for a fact kept by tracking number (verification locks); unknown numbers ask nothing."""
    shipment_id = session.scalar(select(Shipment.id).where(Shipment.tracking_number == tracking_number))
    if shipment_id is not None:
        request_replan(session, shipment_id, why)


def replan_after_change(session: Session, *, shipment_id: int, change: str) -> int:
    """Cancel the shipment's planned, unsent window messages, and ask for new plans; returns how many
    were cancelled."""
    planned = session.scalars(
        select(Notification).where(Notification.shipment_id == shipment_id, Notification.status == "planned",
                                   Notification.trigger.in_(WINDOW_TRIGGERS))
    ).all()
    for notification in planned:
        notification.status = "cancelled"
        notification.error = f"superseded by customer change: {change}"
    session.add(AuditLog(actor="bot", action="replan", entity="shipment", entity_id=str(shipment_id),
                         detail={"change": change, "cancelled": len(planned)}))
    request_replan(session, shipment_id, f"change: {change}")
    session.flush()
    return len(planned)


def _insert(session: Session, shipment_ids: Iterable[int], why: str, due_at: datetime) -> None:
    rows = [{"shipment_id": shipment_id, "reason": why[:64], "due_at": due_at, "created_at": utcnow()}
            for shipment_id in sorted(set(shipment_ids))]
    if rows:
        session.connection().execute(insert(PlanningRequest), rows)


def _changed(session: Session) -> Iterable[object]:
    yield from session.new
    yield from (obj for obj in session.dirty if session.is_modified(obj, include_collections=False))


def _affected(session: Session) -> dict[str, set[int]]:
    """The shipments whose plans the rows of this flush change, by reason."""
    found: dict[str, set[int]] = {}
    customers: set[int] = set()
    routes: set[int] = set()
    for obj in _changed(session):
        if isinstance(obj, Shipment) and obj.id is not None:
            found.setdefault("shipment", set()).add(obj.id)
        elif isinstance(obj, ShipmentEvent | Return | DeliveryProof | Claim) and obj.shipment_id is not None:
            found.setdefault(type(obj).__tablename__.rstrip("s"), set()).add(obj.shipment_id)
        elif isinstance(obj, Consent):
            customers.add(obj.customer_id)
        elif isinstance(obj, Customer) and obj in session.dirty:
            customers.add(obj.id)
        elif isinstance(obj, Stop):  # a stop done moves every later stop of its route closer
            found.setdefault("stop", set()).add(obj.shipment_id)
            routes.add(obj.route_id)
        elif isinstance(obj, Route) and obj in session.dirty:
            routes.add(obj.id)
    connection = session.connection()
    if customers:
        found.setdefault("customer", set()).update(connection.scalars(
            select(Shipment.id).where(Shipment.customer_id.in_(customers), Shipment.status.notin_(FINAL))))
    if routes:
        found.setdefault("route", set()).update(connection.scalars(
            select(Stop.shipment_id).where(Stop.route_id.in_(routes), Stop.completed_at.is_(None))))
    return found


@event.listens_for(Session, "after_flush")
def _record_changes(session: Session, _flush: UOWTransaction) -> None:
    """Every flush that changed a fact asks for its shipments' plans, in the same transaction."""
    for why, shipment_ids in _affected(session).items():
        _insert(session, shipment_ids, why, REPLAN_NOW)
