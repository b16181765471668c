"""The scheduler process: APScheduler with a SQLAlchemy job store. One active instance."""

from __future__ import annotations

import contextlib
import logging

from apscheduler.events import EVENT_JOB_ERROR, JobExecutionEvent
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.blocking import BlockingScheduler

from bot.core.settings import Settings

logger = logging.getLogger("doorstep.scheduler")


def _report_error(event: JobExecutionEvent) -> None:
    logger.error("job %s failed: %r", event.job_id, event.exception)


def build_scheduler(settings: Settings) -> BlockingScheduler:
    scheduler = BlockingScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=settings.database_url, tablename="scheduler_jobs")},
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


def run(settings: Settings) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # Our own lines say what each pass did; the libraries' per-request and per-run lines are noise.
    for noisy in ("twilio", "httpx", "apscheduler.executors.default"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from bot.processes.jobs import heartbeat

    heartbeat()
    scheduler = build_scheduler(settings)
    logger.info("scheduler started")
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        scheduler.start()
