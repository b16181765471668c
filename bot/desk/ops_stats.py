"""The operations dashboard's figures for one business day.

"Today" is the depot's day on the business clock (the sandbox's accelerated clock when it runs).
Delivery facts carry business time; records stamped when they were written (notifications, audit log,
handoffs, consents) are compared with the same day mapped back to wall-clock time through the clock.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.aftercare.stats import aftercare
from bot.core.clock import Clock
from bot.core.models import (
    AuditLog,
    Consent,
    ConversationLink,
    Handoff,
    Notification,
    Route,
    Shipment,
    Stop,
)

SELF_SERVICE = {"reschedule": "reschedule", "redirect_to_locker": "locker", "create_return": "return",
                "instructions": "instructions", "neighbour": "neighbour", "change_address": "address"}
AGENT_CHANGES = {"handoff.reschedule": "reschedule", "handoff.locker": "locker", "handoff.return": "return"}


@dataclass(frozen=True)
class Day:
    date: Any
    start: datetime  # business time
    end: datetime
    wall_start: datetime  # the same day on the wall clock
    wall_end: datetime
    now: datetime


def business_day(clock: Clock, tz: str = "Europe/Berlin") -> Day:
    """Today on `clock`, with its bounds on the wall clock too (rows stamped by the wall clock)."""
    now = clock.now()
    zone = ZoneInfo(tz)
    date = now.astimezone(zone).date()
    start = datetime.combine(date, time(0), zone)
    end = start + timedelta(days=1)
    return Day(date=date, start=start, end=end, wall_start=clock.wall_time(start), wall_end=clock.wall_time(end),
               now=now)


def deliveries(session: Session, day: Day) -> dict[str, int]:
    """Parcels on today's rounds (or delivered today), by their state now."""
    on_rounds = set(session.scalars(select(Stop.shipment_id).join(Route).where(Route.service_date == day.date)))
    delivered_today = set(session.scalars(select(Shipment.id).where(Shipment.delivered_at >= day.start,
                                                                     Shipment.delivered_at < day.end)))
    ids = on_rounds | delivered_today
    if not ids:
        return {}
    states = Counter(session.scalars(select(Shipment.status).where(Shipment.id.in_(ids))))
    return dict(sorted(states.items()))


def messages(session: Session, day: Day) -> dict[str, dict[str, int]]:
    """Notifications written today, per channel and status (sent, delivered, failed, …)."""
    rows = session.execute(
        select(Notification.channel, Notification.status, func.count())
        .where(Notification.created_at >= day.wall_start, Notification.created_at < day.wall_end)
        .group_by(Notification.channel, Notification.status)
    ).all()
    table: dict[str, dict[str, int]] = defaultdict(dict)
    for channel, status, count in rows:
        table[channel][status] = count
    return {channel: dict(sorted(statuses.items())) for channel, statuses in sorted(table.items())}


def opt_outs(session: Session, day: Day) -> dict[str, int]:
    total = session.scalar(select(func.count()).select_from(Consent).where(Consent.opted_out.is_(True))) or 0
    today = session.scalar(select(func.count()).select_from(Consent).where(
        Consent.opted_out.is_(True), Consent.changed_at >= day.wall_start, Consent.changed_at < day.wall_end)) or 0
    return {"today": today, "total": total}


def changes(session: Session, day: Day) -> dict[str, dict[str, int]]:
    """Changes made today: all of them (the carrier's audit entries) and the part agents made."""
    rows = session.scalars(select(AuditLog).where(AuditLog.at >= day.wall_start, AuditLog.at < day.wall_end,
                                                  AuditLog.action.in_([*SELF_SERVICE, *AGENT_CHANGES]))).all()
    made = Counter(SELF_SERVICE[r.action] for r in rows if r.actor.startswith("carrier:") and r.action in SELF_SERVICE)
    by_agents = Counter(AGENT_CHANGES[r.action] for r in rows if r.action in AGENT_CHANGES)
    by_customers = {kind: max(made[kind] - by_agents.get(kind, 0), 0) for kind in made}
    return {"customers": dict(sorted(by_customers.items())), "agents": dict(sorted(by_agents.items()))}


def conversations(session: Session, day: Day) -> dict[str, int]:
    """Conversations that identified a customer today, and how many of them needed a person."""
    talked = set(session.execute(select(ConversationLink.channel, ConversationLink.sender_id).where(
        ConversationLink.created_at >= day.wall_start, ConversationLink.created_at < day.wall_end)).all())
    handed = set(session.execute(select(Handoff.channel, Handoff.sender_id).where(
        Handoff.opened_at >= day.wall_start, Handoff.opened_at < day.wall_end)).all())
    everyone = talked | handed
    return {"total": len(everyone), "handed_off": len(handed), "contained": len(everyone - handed)}


def agent_response(session: Session, day: Day) -> dict[str, Any]:
    """Median time from a handoff opening to an agent's first reply, for today's handoffs."""
    handoffs = {h.id: h for h in session.scalars(select(Handoff).where(
        Handoff.opened_at >= day.wall_start, Handoff.opened_at < day.wall_end))}
    first: dict[int, datetime] = {}
    for entry in session.scalars(select(AuditLog).where(AuditLog.action == "handoff.reply",
                                                        AuditLog.entity == "handoff").order_by(AuditLog.at)):
        key = int(entry.entity_id)
        if key in handoffs and key not in first:
            first[key] = entry.at
    waits = [(first[k] - handoffs[k].opened_at).total_seconds() for k in first]
    return {"median_seconds": statistics.median(waits) if waits else None, "answered": len(waits),
            "handoffs": len(handoffs), "waiting": sum(1 for h in handoffs.values() if h.status == "open")}


def eta_accuracy(session: Session, day: Day) -> dict[str, Any]:
    """Parcels delivered today inside the window promised to the customer, and by hour of delivery."""
    rows = [(at, start, end) for at, start, end in session.execute(
        select(Shipment.delivered_at, Shipment.promised_start, Shipment.promised_end).where(
            Shipment.delivered_at >= day.start, Shipment.delivered_at < day.end,
            Shipment.promised_start.is_not(None), Shipment.promised_end.is_not(None)))
        if at is not None and start is not None and end is not None]  # none are: the query says so; mypy cannot tell
    inside = [start <= at <= end for at, start, end in rows]
    zone = ZoneInfo("Europe/Berlin")
    by_hour: dict[int, list[bool]] = defaultdict(list)
    for (at, _, _), ok in zip(rows, inside, strict=True):
        by_hour[at.astimezone(zone).hour].append(ok)
    return {"delivered": len(rows), "inside": sum(inside),
            "share": sum(inside) / len(rows) if rows else None,
            "by_hour": {h: {"inside": sum(v), "outside": len(v) - sum(v)} for h, v in sorted(by_hour.items())}}


def dashboard(session: Session, clock: Clock) -> dict[str, Any]:
    day = business_day(clock)
    return {"day": day.date.isoformat(), "now": day.now, "deliveries": deliveries(session, day),
            "messages": messages(session, day), "opt_outs": opt_outs(session, day), "changes": changes(session, day),
            "conversations": conversations(session, day), "agents": agent_response(session, day),
            "eta": eta_accuracy(session, day), "aftercare": aftercare(session, day.now)}
