"""The daily cap on non-essential messages holds between dispatchers (two workers, or two lanes of one)
deciding one customer's messages side by side: the second counts what the first decided and has not yet
recorded as sent."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from bench.notify_wave import build_wave
from bot.core.models import Notification, Shipment, utcnow
from bot.core.runtime import Runtime
from bot.notify.dispatch import Dispatcher, DispatchReport
from bot.notify.planner import load_shipments, sync_plans
from bot.notify.providers import sms_sender
from bot.notify.rules import Rules, load_rules
from tests.notify.helpers import MailRecorder


def capped_at_one() -> Rules:
    """The default rules with a cap of one a day and "out for delivery" counted under it."""
    rules = load_rules()
    out = rules.triggers["out_for_delivery"].model_copy(update={"essential": False})
    return rules.model_copy(update={"frequency_cap_per_day": 1, "triggers": {**rules.triggers, "out_for_delivery": out}})


def test_two_dispatchers_deciding_one_customers_messages_keep_the_daily_cap(runtime: Runtime) -> None:
    rules, now = capped_at_one(), utcnow()
    with runtime.sessions() as session:  # one customer, two parcels out for delivery: two messages due
        first, second = build_wave(session, 2, now)
        one, two = session.get(Shipment, first), session.get(Shipment, second)
        assert one is not None and two is not None
        two.customer_id = one.customer_id
        session.flush()
        sync_plans(session, load_shipments(session, [first, second]), now, rules)
        session.commit()
        messages = list(session.scalars(select(Notification.id).where(Notification.trigger == "out_for_delivery")
                                        .order_by(Notification.id)))
    assert len(messages) == 2

    async def decide_side_by_side() -> tuple[list[int], list[int], DispatchReport]:
        sms = sms_sender(runtime.settings)  # the outbox; never called: deciding sends nothing
        try:
            a = Dispatcher(runtime.sessions, runtime.settings, rules, sms=sms, email=MailRecorder(), worker="a")
            b = Dispatcher(runtime.sessions, runtime.settings, rules, sms=sms, email=MailRecorder(), worker="b")
            assert a.claim(now, messages[:1]) == messages[:1] and b.claim(now, messages[1:]) == messages[1:]
            decided_b = DispatchReport()
            by_a = [job.id for job in a.decide(messages[:1], now, DispatchReport())]  # on its way, not yet sent
            by_b = [job.id for job in b.decide(messages[1:], now, decided_b)]
            return by_a, by_b, decided_b
        finally:
            await sms.close()

    by_a, by_b, decided_b = asyncio.run(decide_side_by_side())
    assert by_a == messages[:1] and by_b == [] and decided_b["suppressed"] == 1
    with runtime.sessions() as session:
        statuses = dict(session.execute(select(Notification.id, Notification.status)
                                        .where(Notification.id.in_(messages))).all())
    assert statuses == {messages[0]: "sending", messages[1]: "suppressed"}
