"""One notification pass, as the embedded scheduler runs it every few seconds: plan the shipments
that asked (`bot.notify.planning`), send what is due, and catch up on recording sent SMS in their Rasa
conversations. With a broker configured the same steps run as Celery tasks (`bot.workers`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select

from bot.conversation.verify_limits import recently_locked
from bot.core.models import Return, Shipment, ShipmentStatus
from bot.core.runtime import Runtime
from bot.notify.conversation import ConversationRecorder
from bot.notify.dispatch import Dispatcher, DispatchReport, Priority
from bot.notify.pacing import RedisPace, pace_for
from bot.notify.planner import FRESH_FOR, WARN_FOR, load_shipments, sync_plans
from bot.notify.planning import plan_requested
from bot.notify.providers import email_sender, sms_sender
from bot.notify.rules import Rules, cached_rules
from bot.notify.whatsapp import whatsapp_sender

FINAL = (ShipmentStatus.DELIVERED, ShipmentStatus.RETURNED)
RETURNS_FOR = timedelta(days=30)


def plan_all(runtime: Runtime, now: datetime, rules: Rules) -> int:
    """Re-derive plans for every shipment whose messages can still change: a one-off (tests, a
    database filled without the flush hook); no pass does this."""
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


def plan_step(runtime: Runtime, now: datetime) -> int:
    """Plan the shipments whose planning requests are due; returns messages newly planned."""
    return plan_requested(runtime.sessions, now, cached_rules(runtime.settings.notification_rules))


@asynccontextmanager
async def _dispatcher(runtime: Runtime, *, priority: Priority | None = None,
                      after_send: Callable[[list[int]], Awaitable[None]] | None = None) -> AsyncIterator[Dispatcher]:
    """A dispatcher with this process's senders, closed after use."""
    settings = runtime.settings
    sms, email, pace = sms_sender(settings), email_sender(settings), pace_for(settings)
    speed = settings.sandbox_speed if settings.carrier == "sandbox" else 1.0
    whatsapp = whatsapp_sender(settings)
    try:
        yield Dispatcher(runtime.sessions, settings, cached_rules(settings.notification_rules), sms=sms,
                         email=email, speed=speed, after_send=after_send, pace=pace, priority=priority,
                         whatsapp=whatsapp)
    finally:
        await sms.close()
        if whatsapp is not None:
            await whatsapp.close()
        if isinstance(pace, RedisPace):
            await pace.close()


async def dispatch_step(runtime: Runtime, now: datetime, *, priority: Priority | None = None,
                        after_send: Callable[[list[int]], Awaitable[None]] | None = None) -> DispatchReport:
    """Send what is due (of one priority, or all: the essential first), through this process's senders."""
    async with _dispatcher(runtime, priority=priority, after_send=after_send) as dispatcher:
        return await dispatcher.run_once(now)


async def send_now(runtime: Runtime, ids: list[int], now: datetime) -> DispatchReport:
    """Send these planned messages at once (someone waits for the outcome); a pass may have them already."""
    async with _dispatcher(runtime) as dispatcher:
        return await dispatcher.send_these(ids, now)


async def record_step(runtime: Runtime, now: datetime, notification_ids: list[int] | None = None) -> int:
    """Record these sent SMS in their conversations, or (None) catch up on the recent ones not recorded."""
    recorder = ConversationRecorder(runtime.sessions, runtime.settings)
    try:
        if notification_ids is None:
            return await recorder.record_pending(now)
        return await recorder.record(notification_ids)
    finally:
        await recorder.close()


async def run_pass(runtime: Runtime, now: datetime | None = None) -> PassReport:
    """The embedded pass: the same steps the workers run, one after the other in this process."""
    now = now or runtime.clock.now()
    planned = plan_step(runtime, now)
    recorder = ConversationRecorder(runtime.sessions, runtime.settings)
    try:
        report = await dispatch_step(runtime, now, after_send=recorder.record_sent)
        recorded = await recorder.record_pending(now)
    finally:
        await recorder.close()
    return PassReport(planned, report, recorded)


def run_pass_sync(runtime: Runtime) -> PassReport:
    return asyncio.run(run_pass(runtime))
