"""A sandbox morning with the real web and scheduler processes: the right messages at the right
(accelerated) times, in each customer's language, none twice, none in quiet hours."""

from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.clock import sim_now
from bot.devstack import Stack
from bot.models import Customer, Notification, NotificationEvent, OutboxMessage
from bot.runtime import Runtime

# Words that give a language away (a message in the wrong one scores higher elsewhere).
LANGUAGE_WORDS = {
    "en": {"your", "the", "you", "we", "parcel", "driver", "reply", "was", "our"},
    "de": {"ihr", "sie", "der", "wir", "paket", "fahrer", "antworten", "wurde", "nicht", "für"},
    "nl": {"je", "jij", "de", "wij", "pakket", "bezorger", "antwoord", "niet", "voor", "heeft"},
}


def language_of(text: str) -> str:
    words = set(re.findall(r"[a-zäöüß]+", text.lower()))
    return max(LANGUAGE_WORDS, key=lambda locale: len(words & LANGUAGE_WORDS[locale]))


@pytest.fixture
def day_stack(tmp_path: Path):  # type: ignore[no-untyped-def]
    # 900x: a real second is a quarter of an hour of the sandbox day.
    stack = Stack(tmp_path, processes=("web", "scheduler"), extra_env={"SANDBOX_SPEED": "900",
                                                                       "NOTIFY_TICK_SECONDS": "1"})
    stack.start()
    yield stack
    stack.stop()


def test_a_sandbox_morning_sends_the_right_messages_in_time(day_stack: Stack) -> None:
    runtime = Runtime.build(day_stack.settings)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with runtime.sessions() as session:
                if sim_now(session).astimezone(ZoneInfo("Europe/Berlin")).hour >= 13:
                    break
            time.sleep(1)
        day_stack.stop()  # a still picture: nothing in flight while we count
        with runtime.sessions() as session:
            in_flight = session.scalars(select(Notification).where(Notification.status == "sending")).all()
            sent = session.scalars(select(Notification).where(Notification.sent_at.is_not(None))).all()
            customers = {c.id: c for c in session.scalars(select(Customer))}
            outbox = Counter((m.to_address, m.body) for m in session.scalars(
                select(OutboxMessage).where(OutboxMessage.direction == "outbound")))
            deferred = session.scalars(select(NotificationEvent).where(NotificationEvent.status == "deferred")).all()
        triggers = Counter(n.trigger for n in sent)
        assert triggers["out_for_delivery"] >= 5 and triggers["delivered"] >= 5 and triggers["stops_away"] >= 3, triggers
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
