"""Goodwill for a broken delivery promise (issue 16): the operator's rule (`goodwill:` in the notification
rules), applied at most once per shipment.

The planner calls `grant` when a delay breaks the promise by the rule's minutes: the next unused code of
the pool file is given to the shipment (one row per shipment, each code once: both unique in the
database, so two planners at once give one code to one shipment). A pool that has run dry is recorded
as `pool_empty`, so an agent sees who is owed something. The delay message names the code.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.core.models import AuditLog, GoodwillGrant, Shipment
from bot.core.settings import ROOT
from bot.notify.rules import GoodwillRule, Rules

GRANTED, POOL_EMPTY = "granted", "pool_empty"
VOUCHER_MAX = 16  # longest code a message names (the SMS budget is tested with it); longer lines are skipped
TRIES = 5  # codes tried when another planner takes the same one at the same moment
CHUNK = 200  # pool codes looked up in the database at once
# Per database and pool (file and version): an index into the pool before which every code is given.
# Codes are never taken back, so what was seen given stays given and a grant looks only at what follows
# (a handful of codes), never at every code given so far. A new process starts from the top, once.
_given_before: dict[tuple[str, str, float], int] = {}


def pool_path(rule: GoodwillRule) -> Path:
    path = Path(rule.voucher_pool)
    return path if path.is_absolute() else ROOT / path


@lru_cache(maxsize=8)
def _read_pool(path: str, mtime: float) -> tuple[str, ...]:
    codes = (line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines())
    return tuple(dict.fromkeys(code for code in codes if code and not code.startswith("#") and len(code) <= VOUCHER_MAX))


def _pool_version(rule: GoodwillRule) -> tuple[str, float]:
    path = pool_path(rule)
    try:
        return str(path), path.stat().st_mtime
    except FileNotFoundError:
        return str(path), -1.0


def _codes(path: str, mtime: float) -> tuple[str, ...]:
    return _read_pool(path, mtime) if mtime >= 0 else ()


def pool(rule: GoodwillRule) -> tuple[str, ...]:
    """The pool's codes in file order (re-read when the file changes); a missing file is an empty pool."""
    return _codes(*_pool_version(rule))


def next_free_code(session: Session, rule: GoodwillRule) -> str | None:
    """The first code of the pool not given yet (None: the pool is dry), looked up a chunk at a time
    from where this process last found one."""
    path, mtime = _pool_version(rule)
    codes = _codes(path, mtime)
    key = (str(session.get_bind().engine.url), path, mtime)
    start = _given_before.get(key, 0)
    for at in range(start, len(codes), CHUNK):
        chunk = codes[at:at + CHUNK]
        given = set(session.scalars(select(GoodwillGrant.code).where(GoodwillGrant.code.in_(chunk))))
        free = next((offset for offset, code in enumerate(chunk) if code not in given), None)
        if free is not None:
            _given_before[key] = at + free
            return chunk[free]
    _given_before[key] = len(codes)
    return None


def remaining(session: Session, rule: GoodwillRule) -> int:
    """Codes of the pool not given yet."""
    given = set(session.scalars(select(GoodwillGrant.code).where(GoodwillGrant.code.is_not(None))))
    return sum(1 for code in pool(rule) if code not in given)


def grant_for(session: Session, shipment_id: int) -> GoodwillGrant | None:
    return session.scalar(select(GoodwillGrant).where(GoodwillGrant.shipment_id == shipment_id))


def _insert(session: Session, values: dict[str, object]) -> bool:
    """Insert unless the shipment (or the code) has one already: ON CONFLICT DO NOTHING on either key."""
    insert_fn = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    done = session.execute(insert_fn(GoodwillGrant).values(**values).on_conflict_do_nothing()
                           .returning(GoodwillGrant.id)).first()
    return done is not None


def grant(session: Session, shipment: Shipment, *, slip_minutes: int, rule: GoodwillRule | None,
          now: datetime) -> GoodwillGrant | None:
    """The shipment's goodwill: given now if the rule calls for it and none was given before; None if not due."""
    if rule is None or not rule.enabled or slip_minutes < rule.min_slip_minutes:
        return None
    existing = grant_for(session, shipment.id)
    if existing is not None:
        return existing
    base = {"shipment_id": shipment.id, "customer_id": shipment.customer_id, "slip_minutes": slip_minutes,
            "granted_at": now}
    inserted = False
    for _ in range(TRIES):
        code = next_free_code(session, rule)
        inserted = _insert(session, {**base, "status": GRANTED if code is not None else POOL_EMPTY, "code": code})
        if inserted or grant_for(session, shipment.id) is not None:
            break
    found = grant_for(session, shipment.id)
    if found is not None and inserted:
        session.add(AuditLog(actor="bot", action=f"goodwill.{found.status}", entity="shipment",
                             entity_id=str(shipment.id), detail={"slip_minutes": slip_minutes,
                                                                 "code": found.code or ""}))
    return found


def recent(session: Session, *, limit: int = 20) -> list[tuple[GoodwillGrant, str]]:
    """The latest grants with their parcel's tracking number, for the dashboard."""
    rows = session.execute(select(GoodwillGrant, Shipment.tracking_number).join(Shipment)
                           .order_by(GoodwillGrant.granted_at.desc(), GoodwillGrant.id.desc()).limit(limit)).all()
    return [(row[0], row[1]) for row in rows]


def summary(session: Session, rules: Rules) -> dict[str, Any]:
    """For the dashboard: the rule, grants given and owed (the pool was empty), codes left, the latest grants."""
    rule = rules.goodwill
    counts = dict(session.execute(select(GoodwillGrant.status, func.count()).group_by(GoodwillGrant.status)).all())
    return {
        "enabled": bool(rule and rule.enabled), "min_slip_minutes": rule.min_slip_minutes if rule else None,
        "promise_margin_minutes": rules.promise_margin_minutes,
        "given": int(counts.get(GRANTED, 0)), "owed": int(counts.get(POOL_EMPTY, 0)),
        "pool_left": remaining(session, rule) if rule else 0,
        "recent": [{"tracking_number": number, "status": g.status, "code": g.code, "slip_minutes": g.slip_minutes,
                    "at": g.granted_at} for g, number in recent(session)],
    }
