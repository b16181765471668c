"""The workers' tasks: the embedded pass's steps (`bot.notify.service`), one task each.

Every task takes plain values. A failure is retried with exponential backoff (jittered); after
`worker_max_retries` the task is recorded in `failed_tasks` (the dead letters on the ops page) and
dropped. What a dropped task would have done is not lost: its planning requests and due messages
stay in the database for the next task.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from functools import lru_cache
from typing import Any, TypeVar

from celery import Task
from sqlalchemy import select

from bot.core.db import insert_or_skip, transaction
from bot.core.models import FailedTask, utcnow
from bot.notify.service import dispatch_step, plan_step, record_step
from bot.processes.jobs import _runtime
from bot.workers.app import app, declare_queues, queue

logger = logging.getLogger("doorstep.workers")
T = TypeVar("T")


class DoorstepTask(Task):
    acks_late = True
    reject_on_worker_lost = True

    def on_failure(self, exc: Exception, task_id: str, args: tuple[Any, ...], kwargs: dict[str, Any],
                   einfo: object) -> None:
        """Out of retries: a dead letter, once per task id."""
        logger.error("task %s %s failed for good: %r", self.name, task_id, exc)
        with transaction(_runtime().sessions) as session:
            if session.scalar(select(FailedTask.id).where(FailedTask.task_id == task_id)) is None:
                session.execute(insert_or_skip(session, FailedTask, ["task_id"]).values(
                    task=self.name, task_id=task_id, arguments={"args": list(args), "kwargs": kwargs},
                    error=repr(exc)[:2000], attempts=self.request.retries + 1, failed_at=utcnow()))


def _with_retries(task: DoorstepTask, work: Callable[[], T]) -> T:
    try:
        return work()
    except Exception as exc:
        settings = _runtime().settings
        if task.request.retries >= settings.worker_max_retries:
            raise
        wait = settings.worker_retry_backoff_seconds * 2 ** task.request.retries
        raise task.retry(exc=exc, countdown=wait * random.uniform(0.5, 1.5)) from exc


@app.task(bind=True, base=DoorstepTask, name="doorstep.plan")
def plan(self: DoorstepTask) -> int:
    """Plan the shipments whose planning requests are due."""
    runtime = _runtime()
    return _with_retries(self, lambda: plan_step(runtime, runtime.clock.now()))


@app.task(bind=True, base=DoorstepTask, name="doorstep.dispatch")
def dispatch(self: DoorstepTask, priority: str) -> dict[str, int]:
    """Send the due messages of one priority ("essential" or "other"); what was sent is recorded next."""
    runtime = _runtime()

    async def record_later(ids: list[int]) -> None:
        record.apply_async((ids,), queue=queue(runtime.settings, "recording"))

    async def work() -> dict[str, int]:
        report = await dispatch_step(runtime, runtime.clock.now(), priority="essential" if priority == "essential"
                                     else "other", after_send=record_later)
        return dict(report.counts)

    return _with_retries(self, lambda: asyncio.run(work()))


@app.task(bind=True, base=DoorstepTask, name="doorstep.record")
def record(self: DoorstepTask, notification_ids: list[int] | None = None) -> int:
    """Record sent SMS in their conversations (None: catch up on the recent ones not recorded)."""
    runtime = _runtime()
    ids = [int(i) for i in notification_ids] if notification_ids is not None else None
    return _with_retries(self, lambda: asyncio.run(record_step(runtime, runtime.clock.now(), ids)))


@lru_cache(maxsize=1)
def _declared() -> bool:
    declare_queues()
    return True


def enqueue_tick(tick_seconds: float) -> None:
    """The scheduler's tick with workers: one task of each kind. A task still queued after a few ticks
    has been overtaken by newer ones and expires unrun."""
    settings = _runtime().settings
    _declared()
    expires = max(30.0, 5 * tick_seconds)
    plan.apply_async(queue=queue(settings, "planning"), expires=expires)
    dispatch.apply_async(("essential",), queue=queue(settings, "essential"), expires=expires)
    dispatch.apply_async(("other",), queue=queue(settings, "dispatch"), expires=expires)
    record.apply_async(queue=queue(settings, "recording"), expires=expires)
