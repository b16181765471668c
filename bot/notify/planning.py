"""The planning worker's job: plan again exactly the shipments that asked (`planning_requests`).

Each batch is one transaction: take due requests (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so
workers side by side take disjoint ones), plan their shipments, delete the requests, commit. A
worker that dies mid-batch commits nothing: the requests stay for the next one, and planning again
is harmless (a plan's dedupe key is unique). The cost follows what changed, not how many parcels
are in flight.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from bot.core.models import PlanningRequest
from bot.notify.planner import load_shipments, sync_plans
from bot.notify.rules import Rules

BATCH = 500


def plan_batch(session: Session, now: datetime, rules: Rules, *, batch: int = BATCH) -> tuple[int, int]:
    """One batch in the caller's transaction: (requests taken, messages newly planned)."""
    taken = session.execute(
        select(PlanningRequest.id, PlanningRequest.shipment_id).where(PlanningRequest.due_at <= now)
        .order_by(PlanningRequest.due_at, PlanningRequest.id).limit(batch).with_for_update(skip_locked=True)
    ).all()
    if not taken:
        return 0, 0
    created = sync_plans(session, load_shipments(session, {shipment_id for _, shipment_id in taken}), now, rules)
    session.execute(delete(PlanningRequest).where(PlanningRequest.id.in_([request_id for request_id, _ in taken])))
    return len(taken), created


def plan_requested(sessions: sessionmaker[Session], now: datetime, rules: Rules, *, batch: int = BATCH,
                   max_batches: int = 100) -> int:
    """Plan the shipments whose requests are due, batch after batch; returns messages newly planned."""
    created = 0
    for _ in range(max_batches):
        with sessions() as session:
            taken, new = plan_batch(session, now, rules, batch=batch)
            session.commit()
        created += new
        if taken < batch:
            break
    return created


def pending_requests(session: Session, now: datetime) -> int:
    """Requests due and not yet taken (the planning backlog, for health and tests)."""
    return len(session.scalars(select(PlanningRequest.id).where(PlanningRequest.due_at <= now).limit(10_000)).all())
