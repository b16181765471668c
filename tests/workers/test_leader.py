"""Two schedulers started against one database: one ticks (its tasks are the only ones on the broker),
the other stands by, and takes over when the leader dies."""

from __future__ import annotations

import os
import time
from pathlib import Path

from kombu import Connection

from bot.core.settings import VAR_DIR
from bot.workers.leader import AdvisoryLock, FileLock, leader_lock
from tests.conftest import make_settings
from tests.workers.conftest import RABBITMQ_URL, Processes, wait_until


def origins(queue: str) -> set[int]:
    """The process ids that published the tasks waiting in the queue (Celery's `origin` header), drained."""
    found: set[int] = set()
    with Connection(RABBITMQ_URL) as connection:
        channel = connection.channel()
        channel.queue_declare(queue=queue, passive=True)  # declared by the leader before it ticks
        while (message := channel.basic_get(queue=queue, no_ack=True)) is not None:
            origin = str(message.headers["origin"])  # "gen<pid>@<host>"
            found.add(int(origin.split("@")[0].removeprefix("gen")))
    return found


def test_two_schedulers_one_ticks_and_the_other_takes_over(postgres_url: str, queue_prefix: str,
                                                            processes: Processes) -> None:
    env = {**os.environ, "DATABASE_URL": postgres_url, "CELERY_BROKER_URL": RABBITMQ_URL,
           "CELERY_QUEUE_PREFIX": queue_prefix, "NOTIFY_TICK_SECONDS": "0.5", "SANDBOX_TICK_SECONDS": "3600",
           "RASA_URL": "http://127.0.0.1:9"}
    first = processes.start("first", ["-m", "bot", "scheduler"], env)
    wait_until(lambda: "leading" in processes.log("first"), 60, "the first scheduler leads")
    second = processes.start("second", ["-m", "bot", "scheduler"], env)
    wait_until(lambda: "standing by" in processes.log("second"), 60, "the second scheduler stands by")
    planning = f"{queue_prefix}.planning"
    ticks: set[int] = set()
    wait_until(lambda: bool(ticks.update(origins(planning)) or ticks), 30, "the leader ticks")
    time.sleep(3)
    ticks.update(origins(planning))
    assert ticks == {first.pid}, "only the leader ticks"
    assert "leading" not in processes.log("second")

    processes.kill(first)
    wait_until(lambda: "leading" in processes.log("second"), 30, "the standby takes over")
    origins(planning)  # the dead leader's last ticks
    after: set[int] = set()
    wait_until(lambda: bool(after.update(origins(planning)) or after), 30, "the new leader ticks")
    assert after == {second.pid}


def test_the_embedded_lock_is_a_file_next_to_the_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    one, two = leader_lock(make_settings(url)), leader_lock(make_settings(url))
    assert isinstance(one, FileLock) and isinstance(two, FileLock)
    assert one.acquire() and one.held()
    assert not two.acquire(), "a second scheduler on the same database waits"
    one.release()
    assert two.acquire()
    two.release()
    assert isinstance(leader_lock(make_settings("sqlite://")), FileLock)
    assert str(VAR_DIR) in str(leader_lock(make_settings("sqlite://")).path)  # type: ignore[attr-defined]


def test_the_advisory_lock_is_one_per_schema(postgres_url: str) -> None:
    one, two = AdvisoryLock(postgres_url), AdvisoryLock(postgres_url)
    try:
        assert one.acquire() and one.held()
        assert not two.acquire()
        one.release()
        assert two.acquire()
    finally:
        one.release()
        two.release()
