"""Scheduler jobs: top-level functions taking plain values, so the job store can persist them."""

from __future__ import annotations

import logging
from functools import lru_cache

from bot.carriers.sandbox.proofs import DropPolicy
from bot.carriers.sandbox.simulator import tick
from bot.core.db import transaction
from bot.core.models import Heartbeat, utcnow
from bot.core.runtime import Runtime
from bot.core.settings import get_settings

logger = logging.getLogger("doorstep.jobs")


@lru_cache(maxsize=1)
def _runtime() -> Runtime:
    return Runtime.build(get_settings())


def heartbeat(component: str = "scheduler") -> None:
    with transaction(_runtime().sessions) as session:
        beat = session.get(Heartbeat, component) or Heartbeat(component=component, beat_at=utcnow())
        beat.beat_at = utcnow()
        session.add(beat)


def sandbox_tick() -> int:
    """Advance the sandbox world; returns how many shipment changes it applied."""
    rt = _runtime()
    with transaction(rt.sessions) as session:
        report = tick(session, now=rt.clock.now(), seed=rt.settings.sandbox_seed, drops=DropPolicy.from_settings(rt.settings))
    if report.applied:
        logger.info("sandbox %s: %d shipment updates", report.now.isoformat(timespec="minutes"), len(report.applied))
    return len(report.applied)


def notify_tick() -> str:
    """Plan and send notifications: here (bot.notify.service), or by the workers when a broker is set."""
    settings = _runtime().settings
    if settings.celery_broker_url:
        from bot.workers.tasks import enqueue_tick

        enqueue_tick(settings.notify_tick_seconds)
        return "enqueued"
    from bot.notify.service import run_pass_sync

    report = run_pass_sync(_runtime())
    counts = dict(report.dispatch.counts)
    if report.planned or counts:
        logger.info("notifications: planned %d, %s", report.planned, counts)
    return f"planned={report.planned} {counts}"
