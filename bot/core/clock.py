"""Business time: one clock per process, on the runtime, injected wherever "now" is needed.

Three implementations of `Clock`:
- `SharedClock`, the one `Runtime.build` gives every process: the sandbox's accelerated clock when the
  demo world started one (sim_now = sim_start + (real_now - real_start) × speed, read from the database
  row so that web, actions and scheduler agree), the wall clock otherwise. The row changes only when the
  sandbox clock is (re)started, so each process reads it at most once per `REFRESH_SECONDS` (a restart
  by another process is seen within that time; one committed in this process, at once);
- `WallClock`, the real time;
- `FixedClock`, a clock that moves only when told to (tests).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from bot.core.models import SimClock

# How long a process trusts the clock row it read: another process's restart is seen within this time.
REFRESH_SECONDS = 1.0
# Bumped when a (re)start commits in this process: its shared clocks read the row again at once.
_restarts = itertools.count(1)
_restarted = 0


class Clock(Protocol):
    def now(self) -> datetime:
        """The current business time, timezone-aware (UTC)."""
        ...

    def wall_time(self, moment: datetime) -> datetime:
        """When `moment` of business time is (or was) on the wall clock: rows stamped by the wall clock."""
        ...


def real_now() -> datetime:
    return datetime.now(UTC)


class WallClock:
    def now(self) -> datetime:
        return real_now()

    def wall_time(self, moment: datetime) -> datetime:
        return moment


class FixedClock:
    """Stands still at `at` until moved: for tests that need a known now."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def advance(self, by: timedelta) -> None:
        self.at += by

    def wall_time(self, moment: datetime) -> datetime:
        return moment


@dataclass(frozen=True)
class ClockRow:
    """The sandbox clock's row as read (no row: the wall clock)."""

    real_start: datetime
    sim_start: datetime
    speed: float

    def now(self, at: datetime) -> datetime:
        return self.sim_start + (at - self.real_start) * self.speed

    def wall_time(self, moment: datetime) -> datetime:
        return self.real_start + (moment - self.sim_start) / self.speed


class SharedClock:
    """The sandbox's accelerated clock from the database row when there is one, the wall clock otherwise;
    the row is read again after `refresh_seconds` (or at once after a restart committed in this process)."""

    def __init__(self, sessions: sessionmaker[Session], *, refresh_seconds: float = REFRESH_SECONDS,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._sessions = sessions
        self._refresh_seconds = refresh_seconds
        self._monotonic = monotonic
        self._cached: tuple[float, int, ClockRow | None] | None = None  # (read at, restarts seen, row)

    def _row(self) -> ClockRow | None:
        cached, seen = self._cached, _restarted
        if cached is not None and cached[1] == seen and self._monotonic() - cached[0] < self._refresh_seconds:
            return cached[2]
        read_at = self._monotonic()
        with self._sessions() as session:
            row = read_row(session)
        self._cached = (read_at, seen, row)
        return row

    def now(self) -> datetime:
        row, at = self._row(), real_now()
        return at if row is None else row.now(at)

    def wall_time(self, moment: datetime) -> datetime:
        row = self._row()
        return moment if row is None else row.wall_time(moment)


def read_row(session: Session) -> ClockRow | None:
    """The sandbox clock's row now (one primary-key read), or None if no sandbox clock was started."""
    clock = session.scalar(select(SimClock).where(SimClock.id == 1))
    return None if clock is None else ClockRow(clock.real_start, clock.sim_start, clock.speed)


def sim_now(session: Session, *, at: datetime | None = None) -> datetime:
    """The shared clock's reading through `session` (its implementation; callers use `runtime.clock`)."""
    row, now = read_row(session), at or real_now()
    return now if row is None else row.now(now)


def start_clock(session: Session, *, sim_start: datetime, speed: float, at: datetime | None = None) -> SimClock:
    """Start (or restart) the sandbox's accelerated clock, for every process at once."""
    clock = session.get(SimClock, 1) or SimClock(id=1)
    clock.real_start = at or real_now()
    clock.sim_start = sim_start
    clock.speed = speed
    session.add(clock)
    event.listen(session, "after_commit", _restart_committed, once=True)
    return clock


def _restart_committed(_session: Session) -> None:
    global _restarted
    _restarted = next(_restarts)
