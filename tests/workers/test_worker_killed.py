"""The scaled set for real: a scheduler as the beat, Celery workers on RabbitMQ, PostgreSQL, and the
fake Twilio API counting. A worker SIGKILLed in the middle of a wave: its task is given to the next
worker (late acknowledgement), and every message is sent exactly once."""

from __future__ import annotations

import os
import re

from sqlalchemy import func, select

from bench.notify_wave import build_wave
from bot.core.models import Notification, PlanningRequest, utcnow
from bot.core.runtime import Runtime
from bot.notify.replan import request_replan
from tests.conftest import make_settings
from tests.notify.helpers import fake_twilio
from tests.workers.conftest import RABBITMQ_URL, Processes, wait_until, worker_args

WAVE = 10_000  # the morning wave
HELD_AFTER = 400  # sends the first worker gets through before the provider holds the rest
TAKEN = r"Task doorstep\.dispatch\[([0-9a-f-]+)\] received"
# A redelivered task that newer ticks' tasks overtook meanwhile arrives past its expiry: the worker takes
# it from the queue and discards it unrun (its messages are the newer tasks' work by then).
DISCARDED = r"Discarding revoked task: doorstep\.dispatch\[([0-9a-f-]+)\]"


def count(runtime: Runtime, status: str) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).where(Notification.status == status)) or 0


def received_not_finished(log: str) -> set[str]:
    """Dispatch tasks a worker took and never finished (it was killed running them)."""
    taken = set(re.findall(TAKEN, log))
    done = set(re.findall(r"Task doorstep\.dispatch\[([0-9a-f-]+)\] (?:succeeded|retry|raised)", log))
    return taken - done


def redelivered(log: str) -> set[str]:
    """Dispatch tasks a worker was given, whether it ran them or discarded them as expired."""
    return {taken or discarded for taken, discarded in re.findall(f"{TAKEN}|{DISCARDED}", log)}


def test_a_worker_killed_mid_wave_loses_and_repeats_nothing(postgres_url: str, queue_prefix: str,
                                                              processes: Processes) -> None:
    settings = make_settings(postgres_url)
    runtime = Runtime.build(settings)
    now = utcnow()
    with runtime.sessions() as session:  # the wave's parcels go out; each asks to be planned
        for shipment_id in build_wave(session, WAVE, now):
            request_replan(session, shipment_id, "out for delivery")
        session.commit()
    with fake_twilio(prefix="/outbox/twilio", account_sid=settings.outbox_account_sid,
                     auth_token=settings.outbox_auth_token) as (fake, base):
        env = {**os.environ, "DATABASE_URL": postgres_url, "CELERY_BROKER_URL": RABBITMQ_URL,
               "CELERY_QUEUE_PREFIX": queue_prefix, "WEB_INTERNAL_URL": base, "PUBLIC_BASE_URL": base,
               "RASA_URL": "http://127.0.0.1:9", "NOTIFY_CONCURRENCY": "16", "NOTIFY_BATCH": "500",
               "NOTIFY_CLAIM_LEASE_SECONDS": "2", "NOTIFY_TICK_SECONDS": "0.5", "SANDBOX_TICK_SECONDS": "3600"}
        processes.start("scheduler", ["-m", "bot", "scheduler"], env)
        fake.hold_after(HELD_AFTER)  # the first worker gets these through, then its sends hang unanswered
        first = processes.start("worker1", worker_args(queue_prefix, "worker1"), env)
        wait_until(lambda: fake.held > 0 and count(runtime, "sending") > 0, 300,
                   "the first worker stuck mid-batch\n" + processes.log("worker1")[-3000:])
        processes.kill(first)  # mid-batch: claimed, with the provider, not recorded
        assert count(runtime, "sending") > 0 and len(fake.received) < WAVE, "the kill landed mid-wave"
        with runtime.sessions() as session:  # claimed by the dead worker: with the provider or not, unrecorded
            orphaned = set(session.scalars(select(Notification.id).where(Notification.status == "sending")))
        fake.release()  # the held sends reach the provider after their sender died (some, stored)
        interrupted = received_not_finished(processes.log("worker1"))
        assert interrupted, "the killed worker was running a dispatch task"
        processes.start("worker2", worker_args(queue_prefix, "worker2"), env)
        wait_until(lambda: count(runtime, "sent") == WAVE, 300,
                   "every message sent\n" + processes.log("worker2")[-3000:])
        wait_until(lambda: bool(interrupted & redelivered(processes.log("worker2"))), 60,
                   "the interrupted task redelivered to the other worker (run, or discarded as overtaken)")
        with runtime.sessions() as session:
            assert set(session.scalars(select(Notification.id).where(Notification.id.in_(orphaned),
                                                                     Notification.status == "sent"))) == orphaned
    assert fake.duplicates == 0
    assert len(fake.received) == WAVE
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(PlanningRequest)) == 0
        assert session.scalar(select(func.count()).select_from(Notification)) == WAVE
    runtime.engine.dispose()
