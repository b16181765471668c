"""What messages a shipment's state calls for, derived again whenever the state changes.

`wanted` is a pure function of a shipment (and its customer, returns and route position) at an
instant: it says which messages should exist, each with a dedupe key that names the fact it
announces ("delayed, slipped 20+ minutes, on the 24th"). `sync_plans` makes the database agree:
new keys are planned (the unique key makes a second planner a no-op), planned messages whose fact
is no longer true are cancelled. The dispatcher asks `wanted` again just before sending, so a
message deferred by quiet hours is not sent if it stopped being true in the meantime.

A stage the parcel passed through between two looks (out for delivery, then delivered, before the
planner ran: a scheduler behind the clock, a carrier that reports late) is not silently missed: its
announcement is recorded as `superseded` by the announcement of the stage the parcel is in now, and
never sent (a late "out for delivery" under a "delivered" is noise).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, selectinload

from bot.conversation.rasa_api import ADDRESSABLE_ID
from bot.conversation.verify_limits import lock_runs
from bot.core.db import among, insert_or_skip
from bot.core.models import (
    Claim,
    ClaimStatus,
    Consent,
    Customer,
    DeliveryProof,
    Notification,
    NotificationEvent,
    ProfileApplication,
    ProfileChange,
    Route,
    Shipment,
    ShipmentEvent,
    ShipmentStatus,
    Stop,
)
from bot.notify import goodwill
from bot.notify.rules import Rules

# Event messages are only worth sending while fresh: a world built with history must not announce
# yesterday's deliveries, and a message deferred for a day is news no more.
FRESH_FOR = timedelta(hours=6)
BEFORE_DELIVERY = (ShipmentStatus.LABEL_CREATED, ShipmentStatus.IN_TRANSIT, ShipmentStatus.AT_DEPOT)
# A warning about postcode guessing is worth sending for a day (quiet hours may defer it overnight).
WARN_FOR = timedelta(hours=24)
# The message that announces each stage (as `_events` plans it), and those announced once per local day.
ANNOUNCES = {ShipmentStatus.IN_TRANSIT: "shipped", ShipmentStatus.AT_DEPOT: "shipped",
             ShipmentStatus.OUT_FOR_DELIVERY: "out_for_delivery", ShipmentStatus.FAILED_ATTEMPT: "failed_attempt",
             ShipmentStatus.DELIVERED: "delivered", ShipmentStatus.AT_LOCKER: "at_locker"}
DAILY = ("out_for_delivery", "failed_attempt")
CHECK_AFTER = timedelta(minutes=2)  # the "all OK?" ask comes after the "delivered" message, not before it
TELL_CLAIM_FOR = timedelta(days=3)  # a resolved claim's message is worth sending this long
# A claim opened in the web chat is answered in the chat (bot.aftercare.chat_notice); its SMS/email is
# planned for this much later, and goes only if the chat could not be reached (made due at once then).
CHAT_FIRST = timedelta(minutes=30)
# Messages about one act rather than a state (a change made on the tracking page, issue 16; an agent's
# WhatsApp reply after the 24-hour window, bot/notify/agent_reply.py): planned by
# `bot.notify.confirmations`, true once planned, never cancelled by a re-plan.
ONE_OFF = ("change_confirmed", "agent_reply")


def web_chat(channel: str | None, sender_id: str | None) -> bool:
    """A claim opened in a web chat conversation Rasa's API can address (told there first)."""
    return channel == "web" and sender_id is not None and sender_id.startswith("web:") \
        and ADDRESSABLE_ID.match(sender_id) is not None


@dataclass(frozen=True)
class Wanted:
    trigger: str
    variant: str
    due_at: datetime
    channel: str
    facts: dict[str, object] = field(default_factory=dict)
    return_id: int | None = None

    def fact_key(self, shipment_id: int) -> str:
        """The fact announced, whatever the channel: a fallback email shares it with the failed SMS."""
        return f"{shipment_id}:{self.trigger}:{self.variant}"

    def dedupe_key(self, shipment_id: int) -> str:
        return f"{self.fact_key(shipment_id)}:{self.channel}"


def fact_of(dedupe_key: str) -> str:
    return dedupe_key.rsplit(":", 1)[0]


@dataclass(frozen=True)
class Situation:
    """What the planner needs beyond the shipment row: who may be messaged, and the route position."""

    opted_out: frozenset[str] = frozenset()
    stops_before: int | None = None  # incomplete stops before this one on today's route
    verify_locked_at: datetime | None = None  # its tracking number's checks were locked then (guessing)
    passed: tuple[tuple[ShipmentStatus, datetime], ...] = ()  # stages entered within FRESH_FOR, in order
    # Issue 15: the drop differed from the instructions and the customer was not asked yet (its facts
    # for the message), and resolved claims the customer was not told about yet (reference, resolution).
    drop_differs: dict[str, object] | None = None
    # + the channel the claim came in on: "sms", "web" (an addressable web chat) or ""
    claims_resolved: tuple[tuple[str, str, datetime, str], ...] = ()
    # Issue 16: what the customer's profile could not do for this new parcel (bot/profile/apply.py), and the
    # last change made on the profile page through this parcel's link (its id and time).
    profile_gaps: tuple[str, ...] = ()
    profile_changed: tuple[int, datetime] | None = None


def _fresh(moment: datetime | None, now: datetime) -> bool:
    return moment is not None and now - moment <= FRESH_FOR


def address_for(customer: Customer, channel: str) -> str | None:
    """Where a channel reaches the customer: the phone, the same phone on WhatsApp, or the email."""
    if channel == "whatsapp":
        return f"whatsapp:{customer.phone}" if customer.phone else None
    return customer.phone if channel == "sms" else customer.email


def _channel(rules: Rules, trigger: str, customer: Customer, situation: Situation) -> str | None:
    """The first of the trigger's channels the customer chose, can be reached on and has not left."""
    rule = rules.rule(trigger)
    if rule is None:
        return None
    for channel in rule.channels:
        address = address_for(customer, channel)
        if channel in (customer.preferred_channels or []) and address and channel not in situation.opted_out:
            return channel
    return None


def fallback_channel(rules: Rules, trigger: str, customer: Customer, situation: Situation, failed: str) -> str | None:
    """The next channel after one that failed for good (an SMS to an unreachable number → email):
    the trigger's later channels first, then any other the customer can be reached on."""
    rule = rules.rule(trigger)
    if rule is None:
        return None
    later = rule.channels[rule.channels.index(failed) + 1:] if failed in rule.channels else []
    for channel in [*later, *(c for c in ("email", "sms") if c not in later and c != failed)]:
        address = address_for(customer, channel)
        if address and channel not in situation.opted_out:
            return channel
    return None


Event = tuple[str, str, datetime, dict[str, object], int | None]


def _events(shipment: Shipment, now: datetime, rules: Rules, situation: Situation) -> Iterable[Event]:
    """(trigger, variant, due_at, facts, return id) for each message the state calls for."""
    status, at = shipment.status_enum, shipment.status_at
    tz = ZoneInfo(shipment.customer.time_zone)
    if status in (ShipmentStatus.IN_TRANSIT, ShipmentStatus.AT_DEPOT) and _fresh(at, now):
        yield "shipped", "", at or now, {}, None
    if status in BEFORE_DELIVERY and shipment.promised_start is not None:
        promised_day = shipment.promised_start.astimezone(tz).date()
        day_start = datetime.combine(promised_day, datetime.min.time(), tz)
        if now < day_start:
            due = datetime.combine(promised_day - timedelta(days=1), rules.day_before_at, tz)
            window = shipment.promised_start.astimezone(tz).strftime("%H%M")
            yield "day_before", f"{promised_day.isoformat()}:{window}", due, {"day": promised_day.isoformat()}, None
    if status == ShipmentStatus.OUT_FOR_DELIVERY and at is not None:
        day = at.astimezone(tz).date().isoformat()
        if _fresh(at, now):
            yield "out_for_delivery", day, at, {}, None
        if situation.stops_before is not None and situation.stops_before < rules.stops_away:
            yield "stops_away", day, now, {"stops_before": situation.stops_before}, None
    if status in (ShipmentStatus.AT_DEPOT, ShipmentStatus.OUT_FOR_DELIVERY) and shipment.eta_end and shipment.promised_end:
        slip = (shipment.eta_end - shipment.promised_end).total_seconds() / 60
        if slip >= rules.delay_threshold_minutes:
            step = int(slip // rules.delay_threshold_minutes)
            day = shipment.eta_end.astimezone(tz).date().isoformat()
            # Issue 16: past the promise margin the message apologises and offers the options (the template).
            yield "delayed", f"{day}:{step}", now, {"slip_minutes": int(slip),
                                                   "broken": slip > rules.promise_margin_minutes}, None
    if status == ShipmentStatus.FAILED_ATTEMPT and _fresh(at, now):
        yield "failed_attempt", at.astimezone(tz).date().isoformat() if at else "", at or now, {}, None
    if status == ShipmentStatus.DELIVERED and _fresh(shipment.delivered_at, now):
        yield "delivered", "", shipment.delivered_at or now, {}, None
        if situation.drop_differs is not None:  # "left at the back door, not as you asked. All OK?"
            yield "delivery_check", "", (shipment.delivered_at or now) + CHECK_AFTER, dict(situation.drop_differs), None
    for reference, resolution, resolved_at, channel in situation.claims_resolved:
        if now - resolved_at <= TELL_CLAIM_FOR:
            due = resolved_at + CHAT_FIRST if channel == "web" else resolved_at
            yield "claim_resolved", reference, due, {"reference": reference, "resolution": resolution,
                                                     "prefer": channel}, None
    if status == ShipmentStatus.AT_LOCKER and at is not None:
        deadline = at + timedelta(days=rules.locker_hold_days)
        if _fresh(at, now):
            yield "at_locker", "", at, {"deadline": deadline.isoformat()}, None
        if now < deadline:
            due = deadline - timedelta(hours=rules.locker_reminder_hours_before)
            yield "locker_reminder", "", due, {"deadline": deadline.isoformat()}, None
    if situation.profile_gaps:
        yield "profile_not_applied", "", now, {"profile_items": ",".join(situation.profile_gaps)}, None
    if situation.profile_changed is not None and now - situation.profile_changed[1] <= FRESH_FOR:
        yield "profile_changed", str(situation.profile_changed[0]), situation.profile_changed[1], {}, None
    if situation.verify_locked_at is not None and now - situation.verify_locked_at <= WARN_FOR:
        locked_at = situation.verify_locked_at  # one warning per run of locks, not per guess
        yield "verify_warning", locked_at.strftime("%Y%m%dT%H%M%S"), locked_at, {}, None
    for ret in shipment.returns:
        if ret.status == "created" and ret.label_code and now - ret.created_at <= timedelta(days=1):
            yield "return_label", ret.rma, ret.created_at, {"rma": ret.rma}, ret.id
        if ret.status == "created" and ret.method in ("locker", "label"):
            due = ret.created_at + timedelta(days=rules.return_dropoff_reminder_days)
            yield "return_dropoff_reminder", ret.rma, due, {"rma": ret.rma}, ret.id
        if ret.status == "received":
            yield "return_received", ret.rma, now, {"rma": ret.rma}, ret.id


def wanted(shipment: Shipment, now: datetime, rules: Rules, situation: Situation) -> list[Wanted]:
    """Every message the shipment's state calls for at `now`, each on its channel."""
    result = []
    for trigger, variant, due_at, facts, return_id in _events(shipment, now, rules, situation):
        channel = _channel(rules, trigger, shipment.customer, situation)
        prefer = facts.pop("prefer", None)  # the channel the customer wrote to us on, when it can take it
        if prefer == "sms" and shipment.customer.phone and "sms" not in situation.opted_out and channel is not None:
            channel = "sms"
        if channel is not None:
            result.append(Wanted(trigger, variant, due_at, channel, facts, return_id))
    return result


def announcement(status: ShipmentStatus, at: datetime, tz: ZoneInfo) -> tuple[str, str] | None:
    """(trigger, variant) of the message that announces entering `status` at `at`, if any."""
    trigger = ANNOUNCES.get(status)
    if trigger is None:
        return None
    return trigger, at.astimezone(tz).date().isoformat() if trigger in DAILY else ""


def superseded(shipment: Shipment, now: datetime, rules: Rules, situation: Situation) -> list[Wanted]:
    """Announcements of fresh stages the parcel has already left, on the channel the customer would
    have got them on, each naming the announcement that replaces it (facts["superseded_by"])."""
    tz = ZoneInfo(shipment.customer.time_zone)
    current = announcement(shipment.status_enum, shipment.status_at or now, tz)
    # Only the stages before the one this row shows: an event applied after the row was read (the
    # carrier runs alongside) is news for the next pass, not something the current stage replaced.
    entered = [i for i, stage in enumerate(situation.passed) if stage == (shipment.status_enum, shipment.status_at)]
    if current is None or not entered:
        return []
    result: dict[tuple[str, str], Wanted] = {}
    for status, at in situation.passed[:entered[-1]]:
        left = announcement(status, at, tz)
        if left is None or left == current or left in result or not _fresh(at, now):
            continue
        channel = _channel(rules, left[0], shipment.customer, situation)
        if channel is not None:
            result[left] = Wanted(left[0], left[1], at, channel, {"superseded_by": ":".join(filter(None, current))})
    return list(result.values())


def superseded_by(notification: Notification, shipment: Shipment, now: datetime, rules: Rules,
                  situation: Situation) -> str | None:
    """The announcement that replaces this message, if it announces a stage the parcel has left."""
    for want in superseded(shipment, now, rules, situation):
        if want.fact_key(shipment.id) == fact_of(notification.dedupe_key):
            return str(want.facts["superseded_by"])
    return None


def situations(session: Session, shipments: list[Shipment], now: datetime) -> dict[int, Situation]:
    """Opt-outs, route positions and the stages entered lately, for many shipments in three queries."""
    customer_ids = {s.customer_id for s in shipments}
    opted: dict[int, set[str]] = {}
    for customer_id, channel in session.execute(
        select(Consent.customer_id, Consent.channel).where(among(session, Consent.customer_id, customer_ids), Consent.opted_out)
    ):
        opted.setdefault(customer_id, set()).add(channel)
    # WhatsApp only after an explicit opt-in (a consent row for it, not opted out): no row is no.
    whatsapp_in = set(session.scalars(select(Consent.customer_id).where(
        among(session, Consent.customer_id, customer_ids), Consent.channel == "whatsapp", Consent.opted_out.is_(False))))
    for customer_id in customer_ids - whatsapp_in:
        opted.setdefault(customer_id, set()).add("whatsapp")
    out_ids = [s.id for s in shipments if s.status == ShipmentStatus.OUT_FOR_DELIVERY]
    before: dict[int, int] = {}
    if out_ids:
        rows = session.execute(
            select(Stop.route_id, Stop.sequence, Stop.shipment_id)
            .join(Route).where(Route.status == "active", Stop.completed_at.is_(None))
            .where(Stop.route_id.in_(select(Stop.route_id).where(among(session, Stop.shipment_id, out_ids))))
        ).all()
        by_route: dict[int, list[tuple[int, int]]] = {}
        for route_id, sequence, shipment_id in rows:
            by_route.setdefault(route_id, []).append((sequence, shipment_id))
        for stops in by_route.values():
            stops.sort()
            for index, (_, shipment_id) in enumerate(stops):
                before[shipment_id] = index
    locked = lock_runs(session, [s.tracking_number for s in shipments])
    passed: dict[int, list[tuple[ShipmentStatus, datetime]]] = {}
    for shipment_id, status, at in session.execute(
        select(ShipmentEvent.shipment_id, ShipmentEvent.status, ShipmentEvent.occurred_at)
        .where(among(session, ShipmentEvent.shipment_id, [s.id for s in shipments]), ShipmentEvent.applied,
               ShipmentEvent.occurred_at >= now - FRESH_FOR)
        .order_by(ShipmentEvent.id)
    ):
        passed.setdefault(shipment_id, []).append((ShipmentStatus(status), at))
    ids = [s.id for s in shipments]
    differs = {proof.shipment_id: drop_facts(proof) for proof in session.scalars(
        select(DeliveryProof).where(among(session, DeliveryProof.shipment_id, ids), DeliveryProof.compliance == "differs",
                                    DeliveryProof.customer_asked_at.is_(None)))}
    resolved: dict[int, list[tuple[str, str, datetime, str]]] = {}
    for shipment_id, reference, resolution, resolved_at, claim_channel, sender_id in session.execute(
        select(Claim.shipment_id, Claim.reference, Claim.resolution, Claim.resolved_at, Claim.channel,
               Claim.sender_id)
        .where(among(session, Claim.shipment_id, ids), Claim.status == ClaimStatus.RESOLVED, Claim.customer_told_at.is_(None),
               Claim.resolved_at >= now - TELL_CLAIM_FOR)
    ):
        if resolved_at is not None:
            came_in = "sms" if claim_channel in ("sms", "whatsapp") else "web" if web_chat(claim_channel, sender_id) else ""
            resolved.setdefault(shipment_id, []).append((reference, resolution or "", resolved_at, came_in))
    gaps, changed = profile_facts(session, ids, now)
    return {
        s.id: Situation(frozenset(opted.get(s.customer_id, ())), before.get(s.id),
                        verify_locked_at=locked.get(s.tracking_number), passed=tuple(passed.get(s.id, ())),
                        drop_differs=differs.get(s.id), claims_resolved=tuple(resolved.get(s.id, ())),
                        profile_gaps=tuple(gaps.get(s.id, ())), profile_changed=changed.get(s.id))
        for s in shipments
    }


def profile_facts(session: Session, ids: list[int], now: datetime
                  ) -> tuple[dict[int, list[str]], dict[int, tuple[int, datetime]]]:
    """Issue 16: the profile items a new parcel could not get (recorded lately), and the last change made
    on the profile page through each parcel's link."""
    gaps: dict[int, list[str]] = {}
    for shipment_id, item in session.execute(
        select(ProfileApplication.shipment_id, ProfileApplication.item)
        .where(among(session, ProfileApplication.shipment_id, ids), ProfileApplication.outcome != "applied",
               ProfileApplication.at >= now - FRESH_FOR).order_by(ProfileApplication.id)
    ):
        gaps.setdefault(shipment_id, []).append(item)
    changed: dict[int, tuple[int, datetime]] = {}
    for through, change_id, at in session.execute(
        select(ProfileChange.shipment_id, ProfileChange.id, ProfileChange.at)
        .where(among(session, ProfileChange.shipment_id, ids), ProfileChange.channel == "page", ProfileChange.at >= now - FRESH_FOR)
        .order_by(ProfileChange.id)
    ):
        if through is not None:
            changed[through] = (change_id, at)  # the last one wins
    return gaps, changed


def drop_facts(proof: DeliveryProof) -> dict[str, object]:
    """What the "all OK?" message says about a drop that differed from the instructions."""
    far = proof.distance_m is not None and "distance" in (proof.compliance_reasons or [])
    return {"place": proof.place or "", "asked": proof.instructions_in_force or "",
            "distance": str(proof.distance_m) if far else ""}


def load_shipments(session: Session, ids: Iterable[int]) -> list[Shipment]:
    return list(session.scalars(
        select(Shipment).where(Shipment.id.in_(list(ids)))
        .options(selectinload(Shipment.customer), selectinload(Shipment.returns))
    ).all())


def sync_plans(session: Session, shipments: list[Shipment], now: datetime, rules: Rules) -> int:
    """Plan what is wanted and not yet planned; cancel planned messages no longer true, and record the
    announcements of stages already left as superseded. Returns new plans."""
    if not shipments:
        return 0
    where = situations(session, shipments, now)
    wants: dict[str, tuple[Shipment, Wanted]] = {}
    left: dict[str, tuple[Shipment, Wanted]] = {}
    for shipment in shipments:
        for want in wanted(shipment, now, rules, where[shipment.id]):
            wants[want.dedupe_key(shipment.id)] = (shipment, want)
            if want.trigger == "delayed" and want.facts.get("broken"):  # a broken promise: the operator's goodwill
                goodwill.grant(session, shipment, slip_minutes=int(str(want.facts["slip_minutes"])),
                               rule=rules.goodwill, now=now)
        for want in superseded(shipment, now, rules, where[shipment.id]):
            left[want.dedupe_key(shipment.id)] = (shipment, want)
    facts = {fact_of(key) for key in wants}
    replaced = {fact_of(key): str(want.facts["superseded_by"]) for key, (_, want) in left.items()}
    existing = {
        n.dedupe_key: n for n in session.scalars(
            select(Notification).where(Notification.shipment_id.in_([s.id for s in shipments]),
                                       Notification.status.in_(("planned", "cancelled")))
        )
    }
    known = set(session.scalars(select(Notification.dedupe_key).where(
        Notification.dedupe_key.in_([*wants, *left]))))
    new_rows: list[dict[str, object]] = []
    for key, (shipment, want) in wants.items():
        if key in known:
            row = existing.get(key)
            if row is not None and row.status == "cancelled":  # true again (e.g. a window moved back)
                row.status, row.due_at, row.error = "planned", want.due_at, None
                session.add(NotificationEvent(notification=row, at=now, status="planned", detail="true again"))
            continue
        new_rows.append(_row(shipment, want, key, now, "planned"))
    created = _insert_new(session, new_rows, now)
    # Never announced because the parcel moved on before a planner looked: on record, not sent.
    _insert_new(session, [_row(shipment, want, key, now, "superseded") for key, (shipment, want) in left.items()
                          if key not in known], now)
    for key, row in existing.items():
        if row.status == "planned" and fact_of(key) in replaced:
            row.status, row.error = "superseded", f"superseded by {replaced[fact_of(key)]}"
            row.context = {**row.context, "superseded_by": replaced[fact_of(key)]}
            session.add(NotificationEvent(notification=row, at=now, status="superseded", detail=row.error))
        elif row.status == "planned" and fact_of(key) not in facts and row.trigger not in ONE_OFF:
            row.status, row.error = "cancelled", "no longer true"
            session.add(NotificationEvent(notification=row, at=now, status="cancelled", detail="no longer true"))
    session.flush()
    return created


def _row(shipment: Shipment, want: Wanted, key: str, now: datetime, status: str) -> dict[str, object]:
    customer = shipment.customer
    superseding = want.facts.get("superseded_by") if status == "superseded" else None
    return {
        "customer_id": customer.id, "shipment_id": shipment.id, "trigger": want.trigger, "channel": want.channel,
        "template": want.trigger, "locale": customer.locale,
        "to_address": address_for(customer, want.channel),
        "dedupe_key": key, "due_at": want.due_at, "status": status, "body": "", "attempts": 0,
        "error": f"superseded by {superseding}" if superseding else None,
        "context": {**want.facts, "return_id": want.return_id} if want.return_id else dict(want.facts),
        "created_at": now,
    }


def _insert_new(session: Session, rows: list[dict[str, object]], now: datetime) -> int:
    """Insert plans in bulk; a key another planner inserted meanwhile is skipped by the database
    (ON CONFLICT DO NOTHING on the unique dedupe key), so two planners never make two messages."""
    if not rows:
        return 0
    statement = insert_or_skip(session, Notification, ["dedupe_key"])
    inserted = session.execute(statement.returning(
        Notification.id, Notification.due_at, Notification.status, Notification.error), rows).all()
    if inserted:
        session.execute(insert(NotificationEvent), [
            {"notification_id": notification_id, "at": now, "status": status,
             "detail": error or f"due {due_at.isoformat()}"}
            for notification_id, due_at, status, error in inserted
        ])
    return len(inserted)


def still_wanted(notification: Notification, shipment: Shipment, now: datetime,
                 rules: Rules, situation: Situation) -> bool:
    """Is the fact this message announces still true now (asked just before sending)?"""
    if notification.trigger in ONE_OFF:
        return True
    facts = {w.fact_key(shipment.id) for w in wanted(shipment, now, rules, situation)}
    return fact_of(notification.dedupe_key) in facts


def cancel_for_customer_channel(session: Session, customer_id: int, channel: str, now: datetime, reason: str) -> int:
    """An opt-out cancels what was planned on that channel (the planner re-plans on another one)."""
    rows = session.scalars(
        select(Notification).where(Notification.customer_id == customer_id, Notification.channel == channel,
                                   Notification.status == "planned")
    ).all()
    for row in rows:
        row.status, row.error = "cancelled", reason
        session.add(NotificationEvent(notification=row, at=now, status="cancelled", detail=reason))
    session.flush()
    return len(rows)



def plan_fallback(session: Session, row: Notification, rules: Rules, now: datetime, why: str) -> Notification | None:
    """Plan the same message on the next channel after `row` failed for good (an SMS to a dead
    number → email), unless there is none or it exists already."""
    shipment = session.get(Shipment, row.shipment_id) if row.shipment_id else None
    if shipment is None:
        return None
    situation = situations(session, [shipment], now)[shipment.id]
    channel = fallback_channel(rules, row.trigger, shipment.customer, situation, row.channel)
    if channel is None:
        return None
    key = f"{fact_of(row.dedupe_key)}:{channel}"
    if session.scalar(select(Notification.id).where(Notification.dedupe_key == key)) is not None:
        return None
    fallback = Notification(
        customer_id=row.customer_id, shipment_id=row.shipment_id, trigger=row.trigger, channel=channel,
        template=row.template, locale=row.locale, dedupe_key=key, due_at=now, status="planned",
        to_address=address_for(shipment.customer, channel),
        context={**row.context, "fallback_of": row.id}, created_at=now,
    )
    session.add(fallback)
    session.flush()
    session.add(NotificationEvent(notification_id=fallback.id, at=now, status="planned", detail=why))
    return fallback


# Public names for planning a one-off message (bot.notify.confirmations) the way the planner plans the others.
wanted_channel = _channel
plan_row = _row
insert_plans = _insert_new
