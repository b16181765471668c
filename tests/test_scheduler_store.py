"""The scheduler's job store waits for a busy SQLite file like the rest of the app: a long sandbox tick on a
busy machine made APScheduler's own engine (5 s) fail `UPDATE scheduler_jobs` with "database is locked",
which stopped the scheduler and, under honcho, every process."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from bot.core.schema import migrate
from bot.processes.scheduler import build_scheduler
from tests.conftest import make_settings


def test_the_job_store_waits_out_a_writer_that_holds_the_file_for_longer_than_five_seconds(tmp_path: Path) -> None:
    path = tmp_path / "scheduler.db"
    url = f"sqlite:///{path}"
    migrate(url)
    scheduler = build_scheduler(make_settings(url))
    store = scheduler._jobstores["default"]  # type: ignore[attr-defined]
    store.start(scheduler, "default")
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("BEGIN IMMEDIATE")  # another process in the middle of a long write
    released = threading.Timer(6.0, lambda: writer.execute("COMMIT"))
    released.start()
    started = time.monotonic()
    try:
        store.remove_all_jobs()  # a write to scheduler_jobs: it waits for the writer instead of failing after 5 s
    finally:
        released.join()
        writer.close()
    assert time.monotonic() - started >= 5.5 and store.get_all_jobs() == []
