"""The dashboard's after-delivery figures: claims opened and resolved with the time to resolution,
instruction compliance per driver and per depot (from the proofs compared with the instructions),
and failed attempts disputed by customers. Over the last `days` days of business time."""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.core.models import Claim, ClaimKind, ClaimStatus, DeliveryProof, Depot, Driver, ShipmentEvent, ShipmentStatus

COMPARED = ("as_asked", "differs")  # "unknown": the instructions said nothing comparable


def claims_figures(session: Session, now: datetime, days: int = 30) -> dict[str, Any]:
    since = now - timedelta(days=days)
    claims = session.scalars(select(Claim).where(Claim.opened_at >= since)).all()
    resolved = [c for c in claims if c.status == ClaimStatus.RESOLVED and c.resolved_at is not None]
    hours = [(c.resolved_at - c.opened_at).total_seconds() / 3600 for c in resolved if c.resolved_at]
    return {
        "opened": len(claims), "resolved": len(resolved), "open": len(claims) - len(resolved),
        "overdue": sum(1 for c in claims if c.status == ClaimStatus.OPEN and c.due_by < now),
        "median_hours_to_resolve": statistics.median(hours) if hours else None,
        "by_kind": dict(Counter(c.kind for c in claims)),
        "by_resolution": dict(Counter(c.resolution for c in resolved if c.resolution)),
    }


def _share(rows: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Per name: compared proofs, how many as asked, and the share."""
    compared: Counter[str] = Counter()
    as_asked: Counter[str] = Counter()
    for name, verdict in rows:
        compared[name] += 1
        as_asked[name] += verdict == "as_asked"
    return sorted(({"name": name, "compared": n, "as_asked": as_asked[name], "share": as_asked[name] / n}
                   for name, n in compared.items()), key=lambda r: (r["share"], r["name"]))


def compliance_figures(session: Session, now: datetime, days: int = 30) -> dict[str, Any]:
    """Share of `as_asked` among the compared proofs, per driver and per depot (worst first)."""
    since = now - timedelta(days=days)
    rows = session.execute(
        select(DeliveryProof.compliance, Driver.name, Depot.name)
        .outerjoin(Driver, Driver.id == DeliveryProof.driver_id).outerjoin(Depot, Depot.id == DeliveryProof.depot_id)
        .where(DeliveryProof.delivered_at >= since, DeliveryProof.compliance.in_(COMPARED))).all()
    total = len(rows)
    return {
        "compared": total, "as_asked": sum(1 for r in rows if r[0] == "as_asked"),
        "share": sum(1 for r in rows if r[0] == "as_asked") / total if total else None,
        "drivers": _share([(driver or "unknown driver", verdict) for verdict, driver, _ in rows]),
        "depots": _share([(depot or "unknown depot", verdict) for verdict, _, depot in rows]),
    }


def disputed_attempts(session: Session, now: datetime, days: int = 30) -> dict[str, Any]:
    since = now - timedelta(days=days)
    attempts = session.scalar(select(func.count()).select_from(ShipmentEvent).where(
        ShipmentEvent.status == ShipmentStatus.FAILED_ATTEMPT, ShipmentEvent.applied,
        ShipmentEvent.occurred_at >= since)) or 0
    disputed = session.scalar(select(func.count()).select_from(Claim).where(
        Claim.kind == ClaimKind.DISPUTED_ATTEMPT, Claim.opened_at >= since)) or 0
    return {"failed_attempts": attempts, "disputed": disputed, "share": disputed / attempts if attempts else None}


def aftercare(session: Session, now: datetime) -> dict[str, Any]:
    return {"claims": claims_figures(session, now), "compliance": compliance_figures(session, now),
            "attempts": disputed_attempts(session, now)}
