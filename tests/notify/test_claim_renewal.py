"""A batch that takes longer than the claim lease (a slow provider) keeps its claim while its
dispatcher works on it: a second dispatcher passing by meanwhile does not reconcile it as lost and
send it again."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from bench.notify_wave import build_wave
from bot.core.models import Notification, utcnow
from bot.core.runtime import Runtime
from bot.notify.dispatch import Dispatcher, DispatchReport
from bot.notify.planner import load_shipments, sync_plans
from bot.notify.rules import load_rules
from tests.notify.helpers import MailRecorder, fake_twilio, twilio_sms

WAVE = 8


def test_a_live_batch_slower_than_the_lease_is_not_sent_twice(runtime: Runtime) -> None:
    settings = runtime.settings.model_copy(update={"notify_claim_lease_seconds": 0.6, "notify_concurrency": 1,
                                                    "notify_batch": WAVE, "notify_lanes": 1})
    now = utcnow()
    with runtime.sessions() as session:
        ids = build_wave(session, WAVE, now)
        sync_plans(session, load_shipments(session, ids), now, load_rules())
        session.commit()
    # One at a time, 0.25 s each: the batch is with the provider for 2 s, three leases.
    with fake_twilio(delay_seconds=0.25) as (fake, base):
        async def go() -> tuple[DispatchReport, DispatchReport]:
            slow, other = twilio_sms(base, timeout=5.0), twilio_sms(base, timeout=5.0)
            first = Dispatcher(runtime.sessions, settings, load_rules(), sms=slow, email=MailRecorder(), worker="a")
            second = Dispatcher(runtime.sessions, settings, load_rules(), sms=other, email=MailRecorder(), worker="b")

            async def later() -> DispatchReport:
                await asyncio.sleep(1.3)  # two leases into the first batch: its claim would be stale
                return await second.run_once(utcnow())

            try:
                return tuple(await asyncio.gather(first.run_once(now), later()))  # type: ignore[return-value]
            finally:
                await slow.close()
                await other.close()

        first, second = asyncio.run(go())
    assert first["sent"] == WAVE
    assert second["reconciled_resend"] == 0 and second["sent"] == 0
    assert fake.duplicates == 0 and len(fake.received) == WAVE
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).where(Notification.status == "sent")) == WAVE
