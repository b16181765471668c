"""Tracking number + postcode guesses, limited per tracking number and per client across every
conversation, channel and process: the counts live in the database (`verification_limits`).

An attempt first takes one try from each of its counters (the client's ones, then the tracking
number's) with one conditional UPDATE each. A locked counter, or one without tries left, refuses the
attempt before the postcode is compared: a locked tracking number refuses the right postcode too,
with the same answer as a wrong one, and guesses sent in parallel never compare more pairs than the
limit allows. A wrong pair that uses a counter's last try locks it: the first lock lasts
`first_lock`, each further one twice as long as the one before, up to `max_lock`. After
`forget_after` without a failure a counter starts over. A right pair gives its tries back.

Times are business time (`runtime.clock`), the clock the actions and the notifications use.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, or_, select, update
from sqlalchemy.orm import Session

from bot.conversation.identity import shipment_by_tracking_and_postcode
from bot.core.db import among, insert_or_skip
from bot.core.models import Shipment, VerificationLimit
from bot.core.settings import Settings
from bot.notify.replan import request_replan_by_tracking

TRACKING = "tracking"
CLIENT = "client"
MAX_SUBJECT = 200


@dataclass(frozen=True)
class VerifyPolicy:
    tracking_failures: int  # wrong pairs for one tracking number before it is locked
    client_failures: int  # wrong pairs from one client before it is locked
    first_lock: timedelta
    max_lock: timedelta
    forget_after: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> VerifyPolicy:
        return cls(
            tracking_failures=settings.verify_failures_per_tracking_number,
            client_failures=settings.verify_failures_per_client,
            first_lock=timedelta(minutes=settings.verify_first_lock_minutes),
            max_lock=timedelta(hours=settings.verify_max_lock_hours),
            forget_after=timedelta(hours=settings.verify_forget_after_hours),
        )

    def lock_for(self, lock_number: int) -> timedelta:
        """How long the n-th lock in a row lasts: doubling, capped."""
        doublings = min(max(lock_number - 1, 0), 30)
        return min(self.first_lock * (2**doublings), self.max_lock)


def address_client(address: object) -> str | None:
    """The client key of a network address ("ip:203.0.113.9"); IPv6 addresses count by their /64,
    which one client usually holds whole. None for anything that is not an address."""
    try:
        ip = ipaddress.ip_address(address) if isinstance(address, str) else None
    except ValueError:
        return None
    if ip is None:
        return None
    return f"ip:{ipaddress.ip_network(f'{ip}/64', strict=False) if ip.version == 6 else ip}"


@dataclass(frozen=True)
class _Counter:
    scope: str
    subject: str
    limit: int


def verify(session: Session, *, tracking_number: str, postcode: str, clients: Sequence[str], now: datetime,
           policy: VerifyPolicy) -> Shipment | None:
    """The shipment when the pair matches and no counter is locked; None otherwise (one answer for a
    wrong pair, an unknown number and a lock). Runs in the caller's transaction."""
    counters = [_Counter(CLIENT, client[:MAX_SUBJECT], policy.client_failures) for client in sorted(set(clients))]
    counters.append(_Counter(TRACKING, tracking_number[:MAX_SUBJECT], policy.tracking_failures))
    taken: list[_Counter] = []
    for counter in counters:
        if not _take_try(session, counter, now, policy):
            for earlier in taken:  # a refused attempt compares nothing, so it counts nowhere
                _give_back(session, earlier, everything=False)
            return None
        taken.append(counter)
    shipment = shipment_by_tracking_and_postcode(session, tracking_number, postcode)
    if shipment is not None:
        for counter in taken:
            _give_back(session, counter, everything=counter.scope == TRACKING)
        return shipment
    for counter in taken:
        _lock_if_spent(session, counter, now, policy)
    return None


def lock_runs(session: Session, tracking_numbers: Sequence[str]) -> dict[str, datetime]:
    """When the current run of locks began, for each of these tracking numbers that has one (the
    customer is told once per run: `bot.notify.planner`)."""
    if not tracking_numbers:
        return {}
    rows = session.execute(select(VerificationLimit.subject, VerificationLimit.first_locked_at).where(
        VerificationLimit.scope == TRACKING, among(session, VerificationLimit.subject, tracking_numbers),
        VerificationLimit.first_locked_at.is_not(None)))
    return {subject: first_locked_at for subject, first_locked_at in rows if first_locked_at is not None}


def recently_locked(since: datetime) -> Select[str]:
    """Tracking numbers whose run of locks began at or after `since` (a subquery for the planner)."""
    return select(VerificationLimit.subject).where(VerificationLimit.scope == TRACKING,
                                                   VerificationLimit.first_locked_at >= since)


def _where(counter: _Counter) -> list[ColumnElement[bool]]:
    return [VerificationLimit.scope == counter.scope, VerificationLimit.subject == counter.subject]


def _take_try(session: Session, counter: _Counter, now: datetime, policy: VerifyPolicy) -> bool:
    session.execute(insert_or_skip(session, VerificationLimit, ["scope", "subject"]).values(
        scope=counter.scope, subject=counter.subject, failures=0, locks=0))
    unlocked = or_(VerificationLimit.locked_until.is_(None), VerificationLimit.locked_until <= now)
    session.execute(  # quiet for long enough: start over (the backoff too)
        update(VerificationLimit).where(*_where(counter), unlocked,
                                        VerificationLimit.last_failure_at < now - policy.forget_after)
        .values(failures=0, locks=0, first_locked_at=None)
        .execution_options(synchronize_session=False))
    taken = session.execute(
        update(VerificationLimit).where(*_where(counter), unlocked, VerificationLimit.failures < counter.limit)
        .values(failures=VerificationLimit.failures + 1, last_failure_at=now)
        .returning(VerificationLimit.id)
        .execution_options(synchronize_session=False)).first()
    return taken is not None


def _give_back(session: Session, counter: _Counter, *, everything: bool) -> None:
    remaining = 0 if everything else VerificationLimit.failures - 1
    session.execute(update(VerificationLimit).where(*_where(counter), VerificationLimit.failures > 0)
                    .values(failures=remaining).execution_options(synchronize_session=False))


def _lock_if_spent(session: Session, counter: _Counter, now: datetime, policy: VerifyPolicy) -> None:
    """The try that reached the limit locks the counter (one conditional UPDATE: racing attempts lock once)."""
    locked = session.execute(
        update(VerificationLimit).where(*_where(counter), VerificationLimit.failures >= counter.limit)
        .values(failures=0, locks=VerificationLimit.locks + 1, locked_until=now)
        .returning(VerificationLimit.id, VerificationLimit.locks, VerificationLimit.first_locked_at)
        .execution_options(synchronize_session=False)).first()
    if locked is None:
        return
    row_id, locks, first_locked_at = locked
    session.execute(update(VerificationLimit).where(VerificationLimit.id == row_id)
                    .values(locked_until=now + policy.lock_for(locks), first_locked_at=first_locked_at or now)
                    .execution_options(synchronize_session=False))
    request_replan_by_tracking(session, counter.subject, "verification locked")  # the customer is warned
