"""Business time. With the sandbox carrier the world runs on an accelerated simulated clock.

sim_now = sim_start + (real_now - real_start) × speed; the row is read from the database so that
every process (web, actions, scheduler) agrees on the time.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.models import SimClock


def real_now() -> datetime:
    return datetime.now(UTC)


def sim_now(session: Session, *, at: datetime | None = None) -> datetime:
    """Simulated now; the wall clock if the sandbox clock was never started."""
    clock = session.scalar(select(SimClock).where(SimClock.id == 1))
    now = at or real_now()
    if clock is None:
        return now
    return clock.sim_start + (now - clock.real_start) * clock.speed


def start_clock(session: Session, *, sim_start: datetime, speed: float, at: datetime | None = None) -> SimClock:
    clock = session.get(SimClock, 1) or SimClock(id=1)
    clock.real_start = at or real_now()
    clock.sim_start = sim_start
    clock.speed = speed
    session.add(clock)
    return clock

