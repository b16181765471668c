"""Business time: one clock per process, on the runtime, injected wherever "now" is needed.

Three implementations of `Clock`:
- `SharedClock`, the one `Runtime.build` gives every process: the sandbox's accelerated clock when the
  demo world started one (sim_now = sim_start + (real_now - real_start) × speed, read from the database
  row so that web, actions and scheduler agree), the wall clock otherwise;
- `WallClock`, the real time;
- `FixedClock`, a clock that moves only when told to (tests).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.core.models import SimClock


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


class SharedClock:
    """The sandbox's accelerated clock from the database row when there is one, the wall clock otherwise."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def now(self) -> datetime:
        with self._sessions() as session:
            return sim_now(session)

    def wall_time(self, moment: datetime) -> datetime:
        with self._sessions() as session:
            clock = session.get(SimClock, 1)
        return moment if clock is None else clock.real_start + (moment - clock.sim_start) / clock.speed


def sim_now(session: Session, *, at: datetime | None = None) -> datetime:
    """The shared clock's reading through `session` (its implementation; callers use `runtime.clock`)."""
    clock = session.scalar(select(SimClock).where(SimClock.id == 1))
    now = at or real_now()
    if clock is None:
        return now
    return clock.sim_start + (now - clock.real_start) * clock.speed


def start_clock(session: Session, *, sim_start: datetime, speed: float, at: datetime | None = None) -> SimClock:
    """Start (or restart) the sandbox's accelerated clock, for every process at once."""
    clock = session.get(SimClock, 1) or SimClock(id=1)
    clock.real_start = at or real_now()
    clock.sim_start = sim_start
    clock.speed = speed
    session.add(clock)
    return clock
