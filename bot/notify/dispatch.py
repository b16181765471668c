"""Sending what is due, exactly once.

One pass (`Dispatcher.run_once`):
1. Claim due messages with one conditional UPDATE (planned → sending, stamped with this worker): two
   dispatchers racing claim disjoint sets, so a message is never handed to a provider twice.
2. Decide each one from the state as it is now: opted out → blocked (and the next channel is
   planned); announcing a stage the parcel has since left → superseded (the newer stage's message
   replaces it); otherwise no longer true → skipped; in the customer's quiet hours → deferred to
   their morning; over the daily cap → suppressed; else rendered (once: a retry sends the same text).
3. Send concurrently; record each result: sent, retried later with backoff (429, 5xx, a refused
   connection), left to reconciliation when the provider may have it (a timeout or a connection
   dropped after the request went out: see below), or failed for good (invalid or unsubscribed
   number), which plans the fallback channel.
A dispatcher killed between the provider's answer and step 3 leaves messages in `sending`; the next
pass reconciles them with the provider (Twilio's message list: was this text sent to this number
since the claim?) before sending anything again, so a crash neither loses nor repeats a message.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Table, and_, bindparam, case, func, insert, or_, select, text, update
from sqlalchemy.orm import Session, joinedload, sessionmaker

from bot.aftercare.notices import mark_sent
from bot.aftercare.proof_media import media_allowed, proof_photo_url
from bot.core.db import among
from bot.core.models import Locker, Notification, NotificationEvent, Return, Shipment, utcnow
from bot.core.settings import Settings
from bot.notify.pacing import Pace, Unlimited
from bot.notify.planner import Situation, plan_fallback, situations, still_wanted, superseded_by
from bot.notify.providers import Attachment, EmailSender, PermanentFailure, Sent, SmsSender, TransientFailure
from bot.notify.render import context_for, render, render_short
from bot.notify.rules import Rules
from bot.notify.whatsapp import TwilioWhatsApp, WhatsAppMessage

logger = logging.getLogger("doorstep.notify")
Priority = Literal["essential", "other"]
SENT_STATES = ("sent", "delivered")
CAP_LOCKS = 0x0CA9  # the advisory-lock space (first key) of the daily cap's per-customer locks


@dataclass
class DispatchReport:
    counts: Counter[str] = field(default_factory=Counter)

    def __getitem__(self, key: str) -> int:
        return self.counts[key]


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def in_quiet_hours(moment: datetime, tz: str, start: int, end: int) -> datetime | None:
    """If `moment` falls in the quiet hours [start, end) local, the instant they end; else None."""
    local = moment.astimezone(ZoneInfo(tz))
    quiet = (start <= local.hour or local.hour < end) if start > end else (start <= local.hour < end)
    if not quiet or start == end:
        return None
    wake = local.replace(hour=end, minute=0, second=0, microsecond=0)
    if wake <= local:
        wake += timedelta(days=1)
    return wake


def _event(session: Session, row: Notification, status: str, at: datetime, detail: str | None = None) -> None:
    session.add(NotificationEvent(notification_id=row.id, at=at, status=status, detail=detail))


@dataclass
class _Job:
    id: int
    channel: str
    to: str
    body: str
    subject: str
    html: str
    key: str
    attachments: tuple[Attachment, ...] = ()
    whatsapp: WhatsAppMessage | None = None
    media_url: str | None = None  # the proof-of-delivery photo, where the channel takes pictures


LABEL_TYPES = {"PDF": "application/pdf", "PNG": "image/png", "GIF": "image/gif", "ZPL": "application/zpl"}


def label_attachment(ret: Return | None) -> tuple[Attachment, ...]:
    """A return's printable label, for the email that announces it."""
    if ret is None or not ret.label_document:
        return ()
    kind = (ret.label_format or "PDF").upper()
    return (Attachment(f"return-label-{ret.rma}.{kind.lower()}", ret.label_document,
                       LABEL_TYPES.get(kind, "application/octet-stream")),)


class Dispatcher:
    def __init__(self, sessions: sessionmaker[Session], settings: Settings, rules: Rules, *, sms: SmsSender,
                 email: EmailSender, speed: float = 1.0, worker: str | None = None,
                 after_send: Callable[[list[int]], Awaitable[None]] | None = None,
                 pace: Pace | None = None, priority: Priority | None = None,
                 whatsapp: TwilioWhatsApp | None = None) -> None:
        self.sessions, self.settings, self.rules = sessions, settings, rules
        self.sms, self.email, self.speed = sms, email, speed
        self.whatsapp = whatsapp
        self.worker = worker or worker_name()
        self.after_send = after_send
        self.pace = pace or Unlimited()
        self.priority = priority  # None: every message, the essential ones first
        self.concurrency = asyncio.Semaphore(settings.notify_concurrency)

    # -- 0. messages a dead dispatcher left in "sending" ------------------------------------------
    async def recover(self, now: datetime, report: DispatchReport) -> None:
        stale_before = utcnow() - timedelta(seconds=self.settings.notify_claim_lease_seconds)
        with self.sessions() as session:
            rows = session.scalars(
                select(Notification).where(Notification.status == "sending", Notification.claimed_at < stale_before)
                .limit(self.settings.notify_batch)
            ).all()
            found: dict[int, str | None] = {}
            for row in rows:
                if row.channel in ("sms", "whatsapp") and row.body:
                    try:
                        if row.channel == "whatsapp" and self.whatsapp is not None:
                            found[row.id] = await self.whatsapp.find_sent(row.to_address, row.body, row.trigger,
                                                                          row.locale, row.claimed_at or now)
                        else:
                            found[row.id] = await self.sms.find_sent(row.to_address, row.body,
                                                                     row.claimed_at or now)
                    except (TransientFailure, PermanentFailure) as exc:
                        logger.warning("cannot reconcile notification %s yet: %s", row.id, exc)
                        continue
                else:  # email: SendGrid has no message search without an add-on; its events reconcile
                    found[row.id] = None
            for row in rows:
                if row.id not in found:
                    continue
                if found[row.id]:
                    row.status, row.provider, row.provider_id = "sent", self.sms.name, found[row.id]
                    row.sent_at = row.sent_at or now
                    _event(session, row, "sent", now, "reconciled: the provider had it")
                    report.counts["reconciled_sent"] += 1
                else:
                    row.status, row.claimed_by, row.claimed_at = "planned", None, None
                    _event(session, row, "planned", now, "reconciled: not at the provider, will send")
                    report.counts["reconciled_resend"] += 1
            session.commit()

    # -- 1. claim ---------------------------------------------------------------------------------
    def claim(self, now: datetime, only: list[int] | None = None) -> list[int]:
        """Claim a batch of due messages: the essential ones first (or only one kind, see `priority`;
        or only these ids, see `send_these`)."""
        essential = Notification.trigger.in_(self.rules.essential_triggers)
        with self.sessions() as session:
            due = select(Notification.id).where(Notification.status == "planned", Notification.due_at <= now)
            if only is not None:
                due = due.where(Notification.id.in_(only))
            if self.priority is not None:
                due = due.where(essential if self.priority == "essential" else ~essential)
            # SKIP LOCKED (PostgreSQL; ignored by SQLite, whose writers take turns): a dispatcher passes
            # over rows another one is claiming this instant, instead of waiting for them and then
            # finding them taken, so two workers claim two full batches side by side.
            due = due.order_by(case((essential, 0), else_=1), Notification.due_at, Notification.id) \
                .limit(self.settings.notify_batch).with_for_update(skip_locked=True)
            ids = list(session.scalars(due))
            if not ids:
                return []
            claimed = list(session.scalars(
                update(Notification).where(among(session, Notification.id, ids), Notification.status == "planned")
                .values(status="sending", claimed_by=self.worker, claimed_at=utcnow())
                .returning(Notification.id)
            ))
            session.commit()
            return claimed

    # -- 2. decide --------------------------------------------------------------------------------
    def decide(self, ids: list[int], now: datetime, report: DispatchReport) -> list[_Job]:
        jobs: list[_Job] = []
        with self.sessions() as session:
            rows = session.scalars(select(Notification).where(among(session, Notification.id, ids))).all()
            shipment_ids = {r.shipment_id for r in rows if r.shipment_id}
            # Joined, not selectin-loaded: one query, no second list of a thousand ids (returns are rare).
            shipments = {s.id: s for s in session.scalars(
                select(Shipment).where(among(session, Shipment.id, shipment_ids))
                .options(joinedload(Shipment.customer), joinedload(Shipment.returns))
            ).unique()}
            where = situations(session, list(shipments.values()), now)
            capped = {name for name, rule in self.rules.triggers.items() if rule.enabled and not rule.essential}
            sent_today = self._sent_today(session, {r.customer_id for r in rows if r.trigger in capped}, set(ids), now)
            locker_ids = {s.locker_id for s in shipments.values() if s.locker_id}
            lockers = {locker.id: locker for locker in session.scalars(
                select(Locker).where(among(session, Locker.id, locker_ids)))} if locker_ids else {}
            for row in rows:
                shipment = shipments.get(row.shipment_id or -1)
                if shipment is None:
                    self._finish(session, row, "skipped", now, "shipment gone", report)
                    continue
                situation = where.get(shipment.id, Situation())
                customer = shipment.customer
                if row.channel in situation.opted_out:
                    self._finish(session, row, "blocked", now, f"customer opted out of {row.channel}", report)
                    self._plan_fallback(session, row, now, report)
                    continue
                if not still_wanted(row, shipment, now, self.rules, situation):
                    replacement = superseded_by(row, shipment, now, self.rules, situation)
                    if replacement is not None:  # the parcel moved on: the newer news replaces it
                        row.context = {**row.context, "superseded_by": replacement}
                        self._finish(session, row, "superseded", now, f"superseded by {replacement}", report)
                    else:
                        self._finish(session, row, "skipped", now, "no longer true", report)
                    continue
                wake = in_quiet_hours(now, customer.time_zone, customer.quiet_hours_start, customer.quiet_hours_end)
                if wake is not None:
                    row.status, row.due_at, row.claimed_by, row.claimed_at = "planned", wake, None, None
                    _event(session, row, "deferred", now, f"quiet hours until {wake.isoformat()}")
                    report.counts["deferred"] += 1
                    continue
                rule = self.rules.rule(row.trigger)
                if rule is not None and not rule.essential:
                    if sent_today[customer.id] >= self.rules.frequency_cap_per_day:
                        self._finish(session, row, "suppressed", now, "daily frequency cap", report)
                        continue
                    sent_today[customer.id] += 1
                ret = next((r for r in shipment.returns if r.id == row.context.get("return_id")), None)
                ctx: dict[str, object] | None = None
                if not row.body or row.channel == "whatsapp":
                    ctx = context_for(row, shipment, now=now, settings=self.settings,
                                      locker=lockers.get(shipment.locker_id or -1), ret=ret)
                if not row.body:
                    assert ctx is not None
                    email = row.channel == "email"
                    out = (render if email else render_short)(row.template, row.locale, ctx)
                    row.body = out.sms if row.channel in ("sms", "whatsapp") else out.text
                    row.subject, row.html = out.subject, out.html if email else None
                row.attempts += 1
                attachments = label_attachment(ret) if row.channel == "email" and row.trigger == "return_label" else ()
                media = proof_photo_url(self.settings, shipment, row.trigger, now) \
                    if media_allowed(row.channel, row.to_address) else None
                whatsapp = WhatsAppMessage(row.to_address, row.body, row.trigger, row.locale, dict(ctx or {}),
                                           media_url=media) if row.channel == "whatsapp" else None
                jobs.append(_Job(row.id, row.channel, row.to_address, row.body, row.subject or "", row.html or "",
                                 row.dedupe_key, attachments, whatsapp, media))
            session.commit()
        return jobs

    def _sent_today(self, session: Session, customer_ids: set[int], batch: set[int], now: datetime) -> Counter[int]:
        """Non-essential messages sent to each customer in the last day, or on their way: decided by
        another dispatcher and not yet recorded (the cap's count; asked only for customers with a capped
        message in the batch, so a wave of essential messages takes no lock and runs no count).

        On PostgreSQL the customers are locked for this transaction first (advisory locks, in id
        order), so two dispatchers deciding one customer's messages at the same moment take turns: the
        second counts what the first decided."""
        if not customer_ids:
            return Counter()
        essential = self.rules.essential_triggers
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:space, id) FROM unnest(CAST(:ids AS integer[])) AS id "
                                 "ORDER BY id"), {"space": CAP_LOCKS, "ids": sorted(customer_ids)})
        counted = or_(
            and_(Notification.status.in_(SENT_STATES), Notification.sent_at >= now - timedelta(days=1)),
            and_(Notification.status == "sending", Notification.attempts > 0, ~among(session, Notification.id, batch)),
        )
        rows = session.execute(
            select(Notification.customer_id, func.count()).where(
                among(session, Notification.customer_id, customer_ids), counted, Notification.trigger.notin_(essential),
            ).group_by(Notification.customer_id)
        ).all()
        return Counter({customer_id: count for customer_id, count in rows})

    def _finish(self, session: Session, row: Notification, status: str, now: datetime, why: str,
                report: DispatchReport) -> None:
        row.status, row.error, row.claimed_by, row.claimed_at = status, why, None, None
        _event(session, row, status, now, why)
        report.counts[status] += 1

    def _plan_fallback(self, session: Session, row: Notification, now: datetime, report: DispatchReport) -> None:
        if plan_fallback(session, row, self.rules, now, f"fallback after {row.channel}: {row.error}") is not None:
            report.counts["fallback"] += 1

    # -- 3. send and record -----------------------------------------------------------------------
    async def _send(self, job: _Job) -> Sent | Exception:
        async with self.concurrency:
            try:
                if job.channel == "sms":
                    await self.pace.take()
                    # The callback names our record, so a status that arrives before we stored the
                    # provider's id still finds its message.
                    callback = f"{self.settings.twilio_status_callback_url}?n={job.id}"
                    if job.media_url:  # an MMS (US and Canadian numbers)
                        return await self.sms.send(job.to, job.body, callback, job.media_url)
                    return await self.sms.send(job.to, job.body, callback)
                if job.channel == "whatsapp":
                    if self.whatsapp is None or job.whatsapp is None:
                        return PermanentFailure("WhatsApp is not switched on (no WhatsApp sender)")
                    await self.pace.take()
                    return await self.whatsapp.send(job.whatsapp, f"{self.settings.twilio_status_callback_url}?n={job.id}")
                return await self.email.send(job.to, job.subject, job.body, job.html,
                                             {"notification_id": str(job.id), "dedupe_key": job.key}, job.attachments)
            except (TransientFailure, PermanentFailure) as exc:
                return exc

    def record(self, jobs: list[_Job], results: list[Sent | Exception], now: datetime, report: DispatchReport) -> list[int]:
        """Store every result of one batch: the sent ones in bulk, the rare failures one by one."""
        sent = [(job, result) for job, result in zip(jobs, results, strict=True) if isinstance(result, Sent)]
        failed = {job.id: result for job, result in zip(jobs, results, strict=True) if not isinstance(result, Sent)}
        with self.sessions() as session:
            if sent:
                table = Notification.__table__
                assert isinstance(table, Table)  # a declarative model's table (typed as any FromClause)
                # Only a message still "sending" becomes "sent": a status callback may have been faster.
                session.execute(
                    update(table).where(table.c.id == bindparam("nid"), table.c.status == "sending")
                    .values(status="sent"), [{"nid": job.id} for job, _ in sent])
                session.execute(
                    update(table).where(table.c.id == bindparam("nid")).values(
                        provider=bindparam("p"), provider_id=bindparam("pid"), sent_at=now, error=None,
                        claimed_by=None, claimed_at=None),
                    [{"nid": job.id, "p": result.provider, "pid": result.provider_id} for job, result in sent])
                session.execute(insert(NotificationEvent), [
                    {"notification_id": job.id, "at": now, "status": "sent",
                     "detail": " ".join(filter(None, (result.provider, result.provider_id, result.detail)))}
                    for job, result in sent])
                report.counts["sent"] += len(sent)
                # A WhatsApp template: keep what the customer read (ops, and their conversation in Rasa).
                worded = [{"nid": job.id, "text": result.text} for job, result in sent
                          if job.channel == "whatsapp" and result.text and result.text != job.body]
                if worded:
                    session.execute(update(table).where(table.c.id == bindparam("nid")).values(
                        body=bindparam("text")), worded)
                mark_sent(session, [job.key for job, _ in sent], now)  # "all OK?" asked, a claim's answer told
            if failed:
                for row in session.scalars(select(Notification).where(among(session, Notification.id, failed))):
                    self._failed(session, row, failed[row.id], now, report)
            session.commit()
        return [job.id for job, _ in sent]

    def _failed(self, session: Session, row: Notification, error: Exception, now: datetime,
                report: DispatchReport) -> None:
        if isinstance(error, TransientFailure) and error.maybe_sent and row.attempts < self.rules.max_attempts:
            # The provider may have it (a timeout after the request went out): not sent again blindly.
            # It stays "sending" under its claim, and once the claim's lease ends `recover` asks the
            # provider, as for a dispatcher that died mid-send: found -> sent, not found -> planned.
            row.error = str(error)
            _event(session, row, "unknown", now, f"{error}; reconciled with the provider before any resend")
            report.counts["unknown"] += 1
            return
        if isinstance(error, TransientFailure) and row.attempts < self.rules.max_attempts:
            wait = timedelta(seconds=self.rules.retry_base_seconds * 2 ** (row.attempts - 1) * self.speed)
            row.status, row.due_at, row.error, row.claimed_by, row.claimed_at = (
                "planned", now + wait, str(error), None, None)
            _event(session, row, "retry", now, f"{error}; next try {row.due_at.isoformat()}")
            report.counts["retry"] += 1
        else:
            self._finish(session, row, "failed", now, str(error), report)
            self._plan_fallback(session, row, now, report)

    async def run_once(self, now: datetime) -> DispatchReport:
        report = DispatchReport()
        await self.recover(now, report)
        # SQLite takes one writer at a time: a second lane would only wait for the first.
        with self.sessions() as session:
            server = session.get_bind().dialect.name != "sqlite"
        lanes = await asyncio.gather(*(self._lane(now) for _ in range(self.settings.notify_lanes if server else 1)))
        for lane in lanes:
            report.counts.update(lane.counts)
        return report

    async def _lane(self, now: datetime) -> DispatchReport:
        """Claim, decide, send and record, batch after batch, until nothing is due. The database steps
        run in a thread, so while one lane waits for the database (or renders), the other lanes'
        sends go on in the event loop; each lane claims its own batch (SKIP LOCKED)."""
        report = DispatchReport()
        while True:
            ids = await asyncio.to_thread(self.claim, now)
            if not ids:
                break
            report.counts["claimed"] += len(ids)
            await self._work(ids, now, report)
            if len(ids) < self.settings.notify_batch:
                break
        return report

    async def _work(self, ids: list[int], now: datetime, report: DispatchReport) -> list[int]:
        """Decide, send and record one claimed batch, its claim renewed meanwhile; then `after_send`."""
        sent: list[int] = []
        holding = asyncio.create_task(self._hold(ids))
        try:
            jobs = await asyncio.to_thread(self.decide, ids, now, report)
            if jobs:
                results = await asyncio.gather(*(self._send(job) for job in jobs))
                sent = await asyncio.to_thread(self.record, jobs, list(results), now, report)
        finally:
            holding.cancel()
        if sent and self.after_send is not None:
            await self.after_send(sent)
        return sent

    async def send_these(self, ids: list[int], now: datetime) -> DispatchReport:
        """Send these messages now, if they are still planned and due (an agent waiting for the outcome):
        the same claim, decision, send and record as a pass, so a pass running at the same time claims
        each message at most once between them."""
        report = DispatchReport()
        claimed = await asyncio.to_thread(self.claim, now, ids)
        if claimed:
            report.counts["claimed"] += len(claimed)
            await self._work(claimed, now, report)
        return report

    async def _hold(self, ids: list[int]) -> None:
        """Renew this batch's claim every third of the lease while it is being worked on. The lease
        says "presumed dead": a batch that takes longer than the lease (a slow provider, a busy
        machine) would otherwise be reconciled by another dispatcher while this one still sends it,
        and messages not yet out would be sent by both. Only a dispatcher that stopped renewing
        (killed, hung) has its claims reconciled."""
        every = self.settings.notify_claim_lease_seconds / 3
        while True:
            await asyncio.sleep(every)
            try:
                await asyncio.to_thread(self._renew, ids)
            except Exception:  # a renewal missed is retried; the lease has two more thirds to go
                logger.warning("could not renew the claim of %d messages", len(ids), exc_info=True)

    def _renew(self, ids: list[int]) -> None:
        with self.sessions() as session:
            session.execute(update(Notification).where(
                among(session, Notification.id, ids), Notification.status == "sending",
                Notification.claimed_by == self.worker).values(claimed_at=utcnow())
                .execution_options(synchronize_session=False))
            session.commit()


__all__ = ["DispatchReport", "Dispatcher", "Priority", "in_quiet_hours"]
