"""One notification pass, as the scheduler runs it every few seconds: plan from the shipments' state,
send what is due, and catch up on recording sent SMS in their Rasa conversations."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select

from bot.conversation.verify_limits import recently_locked
from bot.core.clock import sim_now
from bot.core.models import Return, Shipment, ShipmentStatus
from bot.core.runtime import Runtime
from bot.notify.conversation import ConversationRecorder
from bot.notify.dispatch import Dispatcher, DispatchReport
from bot.notify.planner import FRESH_FOR, WARN_FOR, load_shipments, sync_plans
from bot.notify.providers import email_sender, sms_sender
from bot.notify.rules import Rules, cached_rules

FINAL = (ShipmentStatus.DELIVERED, ShipmentStatus.RETURNED)
RETURNS_FOR = timedelta(days=30)


def now_for(runtime: Runtime) -> datetime:
    """The sandbox's accelerated clock in the demo, the real one otherwise."""
    with runtime.sessions() as session:
        return sim_now(session)


def plan_all(runtime: Runtime, now: datetime, rules: Rules) -> int:
    """Re-derive plans for every shipment whose messages can still change."""
    with runtime.sessions() as session:
        open_returns = select(Return.shipment_id).where(Return.status.in_(("created", "received")),
                                                        Return.created_at >= now - RETURNS_FOR)
        ids = list(session.scalars(select(Shipment.id).where(or_(
            Shipment.status.notin_(FINAL), Shipment.status_at >= now - FRESH_FOR - timedelta(hours=1),
            Shipment.id.in_(open_returns),  # a delivered parcel's return has its own messages
            Shipment.tracking_number.in_(recently_locked(now - WARN_FOR)),  # postcode guessing: a warning
        ))))
        created = 0
        for start in range(0, len(ids), 500):
            created += sync_plans(session, load_shipments(session, ids[start:start + 500]), now, rules)
        session.commit()
        return created


@dataclass
class PassReport:
    planned: int
    dispatch: DispatchReport
    recorded: int


async def run_pass(runtime: Runtime, now: datetime | None = None) -> PassReport:
    settings = runtime.settings
    rules = cached_rules(settings.notification_rules)
    now = now or now_for(runtime)
    planned = plan_all(runtime, now, rules)
    sms, email = sms_sender(settings), email_sender(settings)
    recorder = ConversationRecorder(runtime.sessions, settings)
    speed = settings.sandbox_speed if settings.carrier == "sandbox" else 1.0
    dispatcher = Dispatcher(runtime.sessions, settings, rules, sms=sms, email=email, speed=speed,
                            after_send=lambda ids: _record(recorder, ids))
    try:
        report = await dispatcher.run_once(now)
        recorded = await recorder.record_pending(now)
    finally:
        await sms.close()
        await recorder.close()
    return PassReport(planned, report, recorded)


async def _record(recorder: ConversationRecorder, ids: list[int]) -> None:
    await recorder.record(ids)


def run_pass_sync(runtime: Runtime) -> PassReport:
    return asyncio.run(run_pass(runtime))
