"""A sandbox morning with the real web and scheduler processes: the right messages at the right
(accelerated) times, in each customer's language, none twice, none in quiet hours, and none lost
when the scheduler falls behind the clock (a busy machine: a parcel delivered before the planner saw
it go out gets its "delivered", and the "out for delivery" is on record as superseded)."""

from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.core.clock import sim_now, start_clock
from bot.core.models import Customer, Notification, NotificationEvent, OutboxMessage
from bot.core.runtime import Runtime
from bot.notify.rules import cached_rules
from bot.notify.service import plan_all
from bot.processes.devstack import Stack
from tests.notify.test_superseded import unannounced

BERLIN = ZoneInfo("Europe/Berlin")
SPEED = 900.0  # a real second is a quarter of an hour of the sandbox day

# Words that give a language away (a message in the wrong one scores higher elsewhere).
LANGUAGE_WORDS = {
    "en": {"your", "the", "you", "we", "parcel", "driver", "reply", "was", "our"},
    "de": {"ihr", "sie", "der", "wir", "paket", "fahrer", "antworten", "wurde", "nicht", "für"},
    "nl": {"je", "jij", "de", "wij", "pakket", "bezorger", "antwoord", "niet", "voor", "heeft"},
}


def language_of(text: str) -> str:
    words = set(re.findall(r"[a-zäöüß]+", text.lower()))
    return max(LANGUAGE_WORDS, key=lambda locale: len(words & LANGUAGE_WORDS[locale]))


def hold_clock(runtime: Runtime, *, speed: float) -> None:
    """Restart the sandbox clock where it stands, at `speed` (1: it barely moves)."""
    with runtime.sessions() as session, session.begin():
        start_clock(session, sim_start=sim_now(session), speed=speed)


def wait_for_a_pass_at_the_start_of_the_day(runtime: Runtime, timeout: float = 300) -> None:
    """The scheduler has planned and dispatched at least once: the first news was deferred (07:30 is
    in the customers' quiet hours). A busy machine takes long to start it; the held clock waits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with runtime.sessions() as session:
            if session.scalars(select(NotificationEvent.id).where(NotificationEvent.status == "deferred")).first():
                return
        time.sleep(0.5)
    raise AssertionError(f"the scheduler made no notification pass in {timeout}s")


@pytest.fixture
def day_stack(tmp_path: Path):  # type: ignore[no-untyped-def]
    stack = Stack(tmp_path, processes=("web", "scheduler"), extra_env={"SANDBOX_SPEED": str(SPEED),
                                                                       "NOTIFY_TICK_SECONDS": "1"})
    stack.setup()
    runtime = Runtime.build(stack.settings)
    try:
        # The day starts when the scheduler runs, not while the processes are still starting.
        with runtime.sessions() as session, session.begin():
            day_start = sim_now(session).astimezone(BERLIN).replace(hour=7, minute=30, second=0, microsecond=0)
            start_clock(session, sim_start=day_start, speed=1.0)
        stack.start()
        wait_for_a_pass_at_the_start_of_the_day(runtime)
        hold_clock(runtime, speed=SPEED)
    except Exception:
        stack.stop()
        raise
    finally:
        runtime.engine.dispose()
    yield stack
    stack.stop()


def test_a_sandbox_morning_sends_the_right_messages_in_time(day_stack: Stack) -> None:
    runtime = Runtime.build(day_stack.settings)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with runtime.sessions() as session:
                if sim_now(session).astimezone(BERLIN).hour >= 13:
                    break
            time.sleep(1)
        day_stack.stop()  # a still picture: nothing in flight while we count
        hold_clock(runtime, speed=1.0)
        with runtime.sessions() as session:
            now = sim_now(session)
        # The pass that would have come next: what the last carrier events call for is on record.
        plan_all(runtime, now, cached_rules(day_stack.settings.notification_rules))
        with runtime.sessions() as session:
            in_flight = session.scalars(select(Notification).where(Notification.status == "sending")).all()
            sent = session.scalars(select(Notification).where(Notification.sent_at.is_not(None))).all()
            customers = {c.id: c for c in session.scalars(select(Customer))}
            outbox = Counter((m.to_address, m.body) for m in session.scalars(
                select(OutboxMessage).where(OutboxMessage.direction == "outbound")))
            deferred = session.scalars(select(NotificationEvent).where(NotificationEvent.status == "deferred")).all()
            unannounced_parcels = unannounced(session, now)
            announced = Counter(n.status for n in session.scalars(
                select(Notification).where(Notification.trigger == "out_for_delivery")))
        triggers = Counter(n.trigger for n in sent)
        # However far the scheduler fell behind: every parcel that went out has its out-for-delivery
        # message, sent or superseded by one on record (how many of each depends on the machine's load).
        assert unannounced_parcels == [], unannounced_parcels
        # A sent message may already carry the provider's later status (delivered, undelivered...).
        assert triggers["out_for_delivery"] + announced["superseded"] >= 5 and triggers["delivered"] >= 5, (
            announced, triggers)
        assert max(outbox.values()) == 1, "no message twice"
        assert all(outbox[(n.to_address, n.body)] == 1 for n in sent)
        assert len(sent) <= sum(outbox.values()) <= len(sent) + len(in_flight)  # a stop mid-send: reconciled later
        for n in sent:
            customer = customers[n.customer_id]
            text = n.body if n.channel == "sms" else (n.subject or "") + n.body
            assert language_of(text) == customer.locale, (customer.locale, text)
            assert n.sent_at is not None and n.sent_at >= n.due_at
            local = n.sent_at.astimezone(ZoneInfo(customer.time_zone)).hour
            assert not (local >= customer.quiet_hours_start or local < customer.quiet_hours_end), (n.trigger, local)
            if n.channel == "sms":
                assert "/t/" in n.body
        assert deferred, "the 07:30 start is inside quiet hours: the first news waited for 08:00"
        assert {customers[n.customer_id].locale for n in sent} >= {"en", "de", "nl"}
    finally:
        runtime.engine.dispose()
