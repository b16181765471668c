"""Operations: what was planned, sent, delivered, failed and deferred; each message's timeline; and the
same counts on /metrics in Prometheus' format (read from the database at scrape time, so every
process and every replica agree)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CollectorRegistry, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.core.models import Consent, FailedTask, Notification, NotificationEvent, PlanningRequest
from bot.notify.rules import TRIGGERS
from bot.web.auth import require_agent
from bot.web.deps import SessionDep
from bot.web.inputs import BeforeId, RowId
from bot.web.pages import render

STATUSES = ("planned", "sending", "sent", "delivered", "failed", "undelivered", "bounced", "dropped",
            "blocked", "skipped", "suppressed", "cancelled", "superseded")
PAGE = 100
DEAD_LETTERS = 20  # the workers' latest tasks that failed for good


router = APIRouter()
staff = APIRouter(dependencies=[Depends(require_agent)])  # the agent console's login


@staff.get("/ops/notifications", response_class=HTMLResponse)
def notifications_page(
    session: SessionDep,
    status: Annotated[str | None, Query(max_length=24)] = None,
    trigger: Annotated[str | None, Query(max_length=40)] = None,
    channel: Annotated[str | None, Query(max_length=16)] = None,
    to: Annotated[str | None, Query(max_length=254)] = None,
    before: BeforeId = None,
) -> HTMLResponse:
    query = select(Notification)
    if status:
        query = query.where(Notification.status == status)
    if trigger:
        query = query.where(Notification.trigger == trigger)
    if channel:
        query = query.where(Notification.channel == channel)
    if to:
        query = query.where(Notification.to_address == to)
    if before:
        query = query.where(Notification.id < before)
    rows = session.scalars(query.order_by(Notification.id.desc()).limit(PAGE)).all()
    counts = dict(session.execute(select(Notification.status, func.count()).group_by(Notification.status)).all())
    dead = session.scalars(select(FailedTask).order_by(FailedTask.id.desc()).limit(DEAD_LETTERS)).all()
    backlog = session.scalar(select(func.count()).select_from(PlanningRequest)) or 0
    return render("ops_notifications.html", rows=rows, counts=counts, statuses=STATUSES, triggers=TRIGGERS,
                  dead_letters=dead, planning_backlog=backlog,
                  filters={"status": status or "", "trigger": trigger or "", "channel": channel or "", "to": to or ""},
                  next_before=rows[-1].id if len(rows) == PAGE else None)


@staff.get("/ops/notifications/{notification_id}", response_class=HTMLResponse)
def notification_page(notification_id: RowId, session: SessionDep) -> HTMLResponse:
    row = session.get(Notification, notification_id)
    if row is None:
        raise HTTPException(status_code=404)
    events = session.scalars(select(NotificationEvent).where(NotificationEvent.notification_id == row.id)
                             .order_by(NotificationEvent.id)).all()
    return render("ops_notification.html", row=row, events=events)


router.include_router(staff)


class NotificationCollector(Collector):
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def collect(self) -> Iterator[GaugeMetricFamily]:
        by_status = GaugeMetricFamily("doorstep_notifications", "Notifications by status, channel and trigger",
                                      labels=["status", "channel", "trigger"])
        opted_out = GaugeMetricFamily("doorstep_opted_out_customers", "Customers opted out, per channel",
                                      labels=["channel"])
        due = GaugeMetricFamily("doorstep_notifications_overdue", "Planned messages due more than 5 minutes ago")
        with self.sessions() as session:
            for status, channel, trigger, count in session.execute(
                select(Notification.status, Notification.channel, Notification.trigger, func.count())
                .group_by(Notification.status, Notification.channel, Notification.trigger)
            ):
                by_status.add_metric([status, channel, trigger], count)
            for channel, count in session.execute(
                select(Consent.channel, func.count()).where(Consent.opted_out).group_by(Consent.channel)
            ):
                opted_out.add_metric([channel], count)
            latest = session.scalar(select(func.max(Notification.due_at)).where(Notification.status == "sent"))
            overdue = 0
            if latest is not None:
                overdue = session.scalar(select(func.count()).where(
                    Notification.status == "planned", Notification.due_at < latest - timedelta(minutes=5))) or 0
            due.add_metric([], overdue)
        yield by_status
        yield opted_out
        yield due


@router.get("/metrics")
def metrics(request: Request) -> Response:
    registry = getattr(request.app.state, "metrics_registry", None)
    if registry is None:
        registry = CollectorRegistry()
        registry.register(NotificationCollector(request.app.state.runtime.sessions))
        request.app.state.metrics_registry = registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)



