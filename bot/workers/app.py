"""The Celery application: `celery -A bot.workers.app worker -Q <prefix>.essential,<prefix>.dispatch,...`.

Tasks are acknowledged late (after they ran) and given back to the queue if the worker process dies
mid-task, so every task is written to be run twice safely: planning is idempotent, dispatch keeps
its claim-and-reconcile mechanism (`bot.notify.dispatch`), recording skips what is recorded.
Essential messages have their own queue, so they never wait behind a wave of other messages.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery
from celery.signals import after_setup_logger, worker_init
from kombu import Queue

from bot.core.settings import Settings, get_settings

QUEUES = ("essential", "dispatch", "planning", "recording")


def queue(settings: Settings, name: str) -> str:
    return f"{settings.celery_queue_prefix}.{name}"


def celery_config(settings: Settings) -> dict[str, Any]:
    return {
        "broker_url": settings.celery_broker_url,
        "broker_connection_retry_on_startup": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,  # a worker holds one unacknowledged task: the rest stay shared
        "task_ignore_result": True,
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_queues": [Queue(queue(settings, name), routing_key=queue(settings, name)) for name in QUEUES],
        "task_default_queue": queue(settings, "planning"),
        "worker_hijack_root_logger": False,
    }


app = Celery("doorstep", include=["bot.workers.tasks"])
NOISY = ("twilio", "httpx")  # a line per request: the workers' own lines say what each task did


@after_setup_logger.connect
def _quiet(**_: object) -> None:
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)

@worker_init.connect
def _preload(**_: object) -> None:
    """Import what every dispatch task needs in the worker's main process, before it forks its pool:
    the Twilio library loads its REST API lazily, about a second of CPU that each pool process
    would otherwise spend on its first dispatch task (measured with py-spy: 12% of a worker's time in
    a 10,000-message wave)."""
    import twilio.rest.api  # noqa: F401 - imported for its side effect: loaded once, shared by the pool


# Read when the app is first configured (a worker starting, a first task sent), not at import.
app.add_defaults(lambda: celery_config(get_settings()))


def declare_queues() -> None:
    """Declare the queues from the sending side too: tasks sent before any worker started wait for it
    (an exchange with no queue bound drops what it is given)."""
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        for declared in app.amqp.queues.values():
            declared.bind(channel).declare()


def configure(settings: Settings) -> Celery:
    """Point the app at these settings (a process that was given its settings rather than the environment)."""
    app.conf.update(celery_config(settings))
    return app
