"""The broker restarted in the middle of a wave (issue 17): nothing lost, nothing sent twice.

The machine's RabbitMQ is shared by everything else on it, so the test runs a RabbitMQ node of its
own (Debian's rabbitmq-server, the same package, with its data in the test's directory and its own
ports), and stops and starts that one: a graceful stop, as a restart for an upgrade does, while the
worker is sending and the scheduler keeps publishing. The queues are durable and the tasks
persistent, so they survive the restart; the worker reconnects by itself; tasks it was running when
its connection went are delivered again and must not send anything twice."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bench.notify_wave import build_wave
from bot.core.models import Notification, PlanningRequest, utcnow
from bot.core.runtime import Runtime
from bot.notify.replan import request_replan
from bot.processes.devstack import free_port
from tests.conftest import make_settings
from tests.notify.helpers import fake_twilio
from tests.workers.conftest import Processes, wait_until, worker_args

WAVE = 300
RABBITMQ_SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")


class Broker:
    """A RabbitMQ node of the test's own: started, stopped and started again on the same data."""

    def __init__(self, workdir: Path) -> None:
        if not RABBITMQ_SERVER.exists():
            pytest.fail("Debian's rabbitmq-server is not installed (the workers' tests need RabbitMQ)")
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        dist = free_port()
        (workdir / "enabled_plugins").write_text("[].\n")
        (workdir / "rabbitmq.conf").write_text("loopback_users = none\n")
        self.env = {
            **os.environ,
            "RABBITMQ_NODENAME": f"doorstep{uuid.uuid4().hex[:8]}@localhost",
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1", "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(dist),
            "RABBITMQ_SERVER_START_ARGS": f"-kernel inet_dist_listen_min {dist} -kernel inet_dist_listen_max {dist}",
            "RABBITMQ_MNESIA_BASE": str(workdir / "mnesia"), "RABBITMQ_LOG_BASE": str(workdir / "log"),
            "RABBITMQ_PID_FILE": str(workdir / "pid"), "RABBITMQ_ENABLED_PLUGINS_FILE": str(workdir / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(workdir / "rabbitmq"), "RABBITMQ_LOGS": "-",
        }
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def start(self) -> float:
        """Start the node; the seconds until it takes connections."""
        started = time.monotonic()
        with (self.workdir / "rabbitmq.log").open("ab") as log:
            self.process = subprocess.Popen([str(RABBITMQ_SERVER)], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        wait_until(self._listening, 120, "the test's RabbitMQ taking connections")
        return time.monotonic() - started

    def _listening(self) -> bool:
        assert self.process is not None and self.process.poll() is None, \
            (self.workdir / "rabbitmq.log").read_text(errors="replace")[-3000:]
        try:
            import socket

            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def stop(self) -> None:
        """A graceful stop (SIGTERM: the node closes its connections and writes its queues)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    node = Broker(tmp_path / "rabbitmq")
    node.start()
    yield node
    node.stop()


def count(runtime: Runtime, status: str) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).where(Notification.status == status)) or 0


def test_a_broker_restarted_mid_wave_loses_and_repeats_nothing(postgres_url: str, broker: Broker,
                                                                 processes: Processes) -> None:
    settings = make_settings(postgres_url)
    runtime = Runtime.build(settings)
    with runtime.sessions() as session:
        for shipment_id in build_wave(session, WAVE, utcnow()):
            request_replan(session, shipment_id, "out for delivery")
        session.commit()
    prefix = f"test-{uuid.uuid4().hex[:10]}"
    with fake_twilio(delay_seconds=0.05, prefix="/outbox/twilio", account_sid=settings.outbox_account_sid,
                     auth_token=settings.outbox_auth_token) as (fake, base):
        env = {**os.environ, "DATABASE_URL": postgres_url, "CELERY_BROKER_URL": broker.url,
               "CELERY_QUEUE_PREFIX": prefix, "WEB_INTERNAL_URL": base, "PUBLIC_BASE_URL": base,
               "RASA_URL": "http://127.0.0.1:9", "NOTIFY_CONCURRENCY": "2", "NOTIFY_BATCH": "20",
               "NOTIFY_CLAIM_LEASE_SECONDS": "2", "NOTIFY_TICK_SECONDS": "0.5", "SANDBOX_TICK_SECONDS": "3600"}
        processes.start("scheduler", ["-m", "bot", "scheduler"], env)
        processes.start("worker1", worker_args(prefix, "worker1"), env)
        wait_until(lambda: len(fake.received) >= 40, 90, "the worker sending the wave\n" + processes.log("worker1")[-3000:])

        broker.stop()
        sent_while_down = len(fake.received)
        assert sent_while_down < WAVE, "the broker went down mid-wave"
        time.sleep(3)  # down for a while: the scheduler's publishing and the worker's fetching fail meanwhile
        back_after = broker.start()

        wait_until(lambda: count(runtime, "sent") == WAVE, 180,
                   f"every message sent after the broker came back ({back_after:.0f} s)\n"
                   + processes.log("worker1")[-3000:] + processes.log("scheduler")[-2000:])
    assert fake.duplicates == 0, "nothing sent twice"
    assert len(fake.received) == WAVE, "nothing lost"
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(PlanningRequest)) == 0
        assert session.scalar(select(func.count()).select_from(Notification)) == WAVE
    runtime.engine.dispose()
