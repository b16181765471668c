"""The machine's RabbitMQ and Redis, as for PostgreSQL in tests/conftest.py: the defaults are the
local services (CI runs them), so these tests run everywhere and never skip."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kombu import Connection

from bot.core.schema import migrate
from bot.core.settings import ROOT
from tests.conftest import _postgres_schema_url

RABBITMQ_URL = os.environ.get("DOORSTEP_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
REDIS_URL = os.environ.get("DOORSTEP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A migrated schema on the test PostgreSQL (the workers are other processes)."""
    for url in _postgres_schema_url():
        migrate(url)
        yield url


@pytest.fixture
def queue_prefix() -> Iterator[str]:
    """This test's own queues on the shared broker; deleted afterwards."""
    prefix = f"test-{uuid.uuid4().hex[:10]}"
    yield prefix
    with Connection(RABBITMQ_URL) as connection:
        channel = connection.channel()
        for name in ("essential", "dispatch", "planning", "recording"):
            channel.queue_delete(queue=f"{prefix}.{name}")


class Processes:
    """Processes started by a test, in their own process groups, all stopped at its end."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        with (self.logs / f"{name}.log").open("ab") as out:
            process = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=out,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        self.started.append(process)
        return process

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    @staticmethod
    def kill(process: subprocess.Popen[bytes]) -> None:
        """SIGKILL the process and its children (a worker's pool), as a machine failing would."""
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.started:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill(process)


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    started = Processes(tmp_path)
    yield started
    started.stop_all()


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"not in {timeout:.0f} s: {what}")


def worker_args(prefix: str, name: str) -> list[str]:
    queues = ",".join(f"{prefix}.{q}" for q in ("essential", "dispatch", "planning", "recording"))
    return ["-m", "celery", "-A", "bot.workers.app", "worker", "-Q", queues, "-c", "1", "-n", f"{name}@%h",
            "--loglevel", "INFO", "--without-gossip", "--without-mingle"]
