"""The scheduler process: APScheduler with a SQLAlchemy job store. One leads; the others stand by.

It ticks the sandbox clock, beats the heartbeat and drives the notifications: in the embedded
default (no broker) it runs the notification pass itself; with `CELERY_BROKER_URL` set it only
enqueues the workers' tasks (`bot.workers.tasks.enqueue_tick`). Either way two schedulers never
both tick: each takes the leader lock (`bot.workers.leader`) before it starts its jobs.
"""

from __future__ import annotations

import contextlib
import logging
import time
from urllib.parse import urlsplit

from apscheduler.events import EVENT_JOB_ERROR, JobExecutionEvent
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.blocking import BlockingScheduler

from bot.core.db import make_engine
from bot.core.settings import Settings
from bot.workers.leader import LeaderLock, leader_lock

logger = logging.getLogger("doorstep.scheduler")
STANDBY_RETRY_SECONDS = 2.0
LEADER_CHECK_SECONDS = 5.0


def _report_error(event: JobExecutionEvent) -> None:
    logger.error("job %s failed: %r", event.job_id, event.exception)


def build_scheduler(settings: Settings) -> BlockingScheduler:
    scheduler = BlockingScheduler(
        # Our engine, not one of APScheduler's own: on SQLite it carries WAL and the 30 s busy timeout, where a
        # bare engine waits 5 s and a long sandbox tick on a busy machine stopped the scheduler (and honcho with it).
        jobstores={"default": SQLAlchemyJobStore(engine=make_engine(settings.database_url), tablename="scheduler_jobs"),
                   "memory": MemoryJobStore()},  # this process's own checks, never persisted
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30},
        timezone="UTC",
    )
    scheduler.add_listener(_report_error, EVENT_JOB_ERROR)
    scheduler.add_job("bot.processes.jobs:heartbeat", "interval", seconds=5, id="heartbeat", replace_existing=True)
    if settings.carrier == "sandbox":
        scheduler.add_job("bot.processes.jobs:sandbox_tick", "interval", seconds=settings.sandbox_tick_seconds,
                          id="sandbox_tick", replace_existing=True)
    scheduler.add_job("bot.processes.jobs:notify_tick", "interval", seconds=settings.notify_tick_seconds, id="notify_tick",
                      replace_existing=True)
    return scheduler


def lead(lock: LeaderLock) -> None:
    """Wait until this process holds the leader lock."""
    if lock.acquire():
        return
    logger.info("scheduler standing by: another scheduler leads")
    while not lock.acquire():
        time.sleep(STANDBY_RETRY_SECONDS)


def run(settings: Settings) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # Our own lines say what each pass did; the libraries' per-request and per-run lines are noise.
    for noisy in ("twilio", "httpx", "apscheduler.executors.default"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    lock = leader_lock(settings)
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        lead(lock)
        from bot.processes.jobs import heartbeat

        if settings.celery_broker_url:  # ready to send before the first tick
            from bot.workers.app import declare_queues

            declare_queues()
        heartbeat()
        scheduler = build_scheduler(settings)

        def keep_leading() -> None:  # the lock went with its connection: stop, and let a standby lead
            if not lock.held():
                logger.error("scheduler lost its leader lock: stopping")
                scheduler.shutdown(wait=False)

        scheduler.add_job(keep_leading, "interval", seconds=LEADER_CHECK_SECONDS, id="leader_check",
                          jobstore="memory", replace_existing=True)
        logger.info("scheduler started, leading (%s)", "workers on " + _broker(settings)
                    if settings.celery_broker_url else "embedded: no broker")
        scheduler.start()
    lock.release()


def _broker(settings: Settings) -> str:
    """The broker's address without its credentials, for the log."""
    parts = urlsplit(settings.celery_broker_url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or ''}"
