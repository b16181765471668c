"""One scheduler ticks at a time: the others stand by until its lock is free.

On PostgreSQL the lock is a session advisory lock, held by one open connection: if the leader dies
or loses its connection, the server frees the lock and a standby takes it. With SQLite (one machine)
it is an exclusive lock on a file next to the database, freed by the kernel when the process dies.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO, Protocol

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from bot.core.settings import VAR_DIR, Settings

LOCK_NAME = "doorstep.scheduler"


class LeaderLock(Protocol):
    def acquire(self) -> bool:
        """Take the lock if it is free; True when this process now leads."""

    def held(self) -> bool:
        """Still the leader (the lock not lost with its connection)."""

    def release(self) -> None: ...


class AdvisoryLock:
    """pg_try_advisory_lock on a key named after the lock and the schema (tests share one database)."""

    def __init__(self, database_url: str) -> None:
        self.engine = create_engine(database_url, pool_size=1, max_overflow=0)
        self.connection: Connection | None = None

    def acquire(self) -> bool:
        if self.connection is None:
            self.connection = self.engine.connect()
        key = text("SELECT pg_try_advisory_lock(hashtext(:name || ':' || current_schema()))")
        taken = bool(self.connection.execute(key, {"name": LOCK_NAME}).scalar())
        self.connection.commit()  # the lock is the session's, not the transaction's
        return taken

    def held(self) -> bool:
        if self.connection is None:
            return False
        try:
            self.connection.execute(text("SELECT 1"))
            self.connection.commit()
        except DBAPIError:
            return False
        return True

    def release(self) -> None:
        """Unlock, then close. Closing alone frees the lock only when the server has ended the session,
        a moment after the client returned: a standby asking at once could still find it taken."""
        if self.connection is not None:
            try:
                self.connection.execute(text("SELECT pg_advisory_unlock_all()"))
                self.connection.commit()
            except DBAPIError:  # the connection is gone, and the lock with it
                pass
            self.connection.close()
            self.connection = None
        self.engine.dispose()


class FileLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.file: IO[str] | None = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self.file = handle
        return True

    def held(self) -> bool:
        return self.file is not None

    def release(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


def leader_lock(settings: Settings) -> LeaderLock:
    url = make_url(settings.database_url)
    if url.get_backend_name() == "postgresql":
        return AdvisoryLock(settings.database_url)
    database = url.database or ""
    path = Path(f"{database}.scheduler.lock") if database and database != ":memory:" \
        else VAR_DIR / f"scheduler-{os.getuid()}.lock"
    return FileLock(path)
