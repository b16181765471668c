"""Away from home: a hold over every parcel of a customer arriving in a period ("I'm away until the 12th").

`plan` is the check: it finds the parcels due in the period (or with no day yet) and, through the change
service's options, each one's new plan: the first window the carrier offers after the period, or a locker
(the one the customer named, their preferred one, else the nearest with room); or why it can't be held.
Nothing changes. `make` records the hold and makes the confirmed plan, parcel by parcel, each one a change
through the change service (whole or not at all): a carrier that refuses one does not undo the others. Only
the parcels in the confirmed plan are touched; `on_new_parcel` (bot/holds) gives a parcel that arrives later
the same treatment. `cancel` ends a hold; parcels already moved keep their new plan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.carriers import Refusal, TimeWindow
from bot.changes import service
from bot.changes.common import CarrierDown, Code, Done, Kind, Reason, Refused, Requester, reason_text
from bot.changes.locker import LockerRequest
from bot.changes.reschedule import RescheduleRequest
from bot.core.db import transaction
from bot.core.models import AuditLog, Customer, Hold, HoldParcel, Locker, Shipment, ShipmentStatus
from bot.core.runtime import Runtime
from bot.text import hold_text
from bot.text.hold_text import PlanLine

# Parcels a hold leaves alone: already there, or not coming to the door.
SETTLED = (ShipmentStatus.DELIVERED, ShipmentStatus.RETURNED, ShipmentStatus.AT_LOCKER)


class HoldMode(StrEnum):
    RESCHEDULE = "reschedule"  # the first window after the hold
    LOCKER = "locker"  # a locker instead of the door


@dataclass(frozen=True, kw_only=True)
class HoldRequest:
    """Hold every parcel of `customer_id` due from `starts_on` to `ends_on` (both included, the customer's days)."""

    kind: ClassVar[Kind] = Kind.HOLD
    customer_id: int
    by: Requester
    starts_on: date
    ends_on: date
    mode: HoldMode = HoldMode.RESCHEDULE
    locker_name: str | None = None  # the locker the customer named ("the Hermannplatz one")
    language: str = "en"
    channel: str = "sms"
    only: tuple[int, ...] | None = None  # the parcels the asker may see (a chat verified with one parcel's details)


@dataclass(frozen=True)
class ParcelPlan:
    """One parcel's new plan under a hold: a window, a locker, or why it can't be held (`code`)."""

    shipment_id: int
    ref: str
    action: str  # "reschedule" | "locker" | "none"
    window: TimeWindow | None = None
    locker_code: str | None = None
    locker_name: str | None = None
    code: str | None = None

    def line(self) -> PlanLine:
        return PlanLine(self.ref, self.window.start if self.window else None, self.window.end if self.window else None,
                        self.locker_name, hold_text.problem_key(self.code) if self.action == "none" else None)

    def to_dict(self) -> dict[str, Any]:
        """For the conversation's slot (the confirmed plan is read back from it)."""
        return {"shipment_id": self.shipment_id, "ref": self.ref, "action": self.action, "code": self.code,
                "start": self.window.start.isoformat() if self.window else None,
                "end": self.window.end.isoformat() if self.window else None,
                "locker_code": self.locker_code, "locker_name": self.locker_name}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ParcelPlan:
        window = (TimeWindow(datetime.fromisoformat(data["start"]), datetime.fromisoformat(data["end"]))
                  if data.get("start") and data.get("end") else None)
        return cls(int(data["shipment_id"]), str(data["ref"]), str(data["action"]), window,
                   data.get("locker_code"), data.get("locker_name"), data.get("code"))


@dataclass(frozen=True)
class HoldPlan:
    """What a hold would do, before anything changes: each parcel due in the period and its new plan."""

    request: HoldRequest
    parcels: list[ParcelPlan]
    now: datetime
    tz: str

    @property
    def movable(self) -> list[ParcelPlan]:
        return [p for p in self.parcels if p.action != "none"]

    def question(self) -> str:
        """The one confirmation, listing each parcel and its new plan."""
        if not self.parcels:
            return hold_text.nothing_due(self.request.language, first=self.request.starts_on,
                                         last=self.request.ends_on)
        return hold_text.confirmation(self.request.language, first=self.request.starts_on, last=self.request.ends_on,
                                      lines=[p.line() for p in self.parcels], now=self.now, tz=self.tz)


@dataclass(frozen=True)
class HoldDone:
    """The hold is recorded; what happened to each parcel."""

    hold_id: int
    message: str
    outcomes: list[tuple[ParcelPlan, service.Outcome]] = field(default_factory=list)
    kind: Kind = Kind.HOLD


# -- the parcels a hold covers ---------------------------------------------------------------------------
def _due_day(shipment: Shipment, tz: str) -> date | None:
    start = shipment.eta_start or shipment.promised_start
    return start.astimezone(ZoneInfo(tz)).date() if start is not None else None


def covers(shipment: Shipment, *, starts_on: date, ends_on: date, tz: str) -> bool:
    """Is this parcel due at the door in the period (or with no day yet, so it may come then)?"""
    if shipment.status in SETTLED or shipment.locker_id is not None:
        return False
    day = _due_day(shipment, tz)
    return day is None or starts_on <= day <= ends_on


def parcels_due(session: Session, *, customer_id: int, starts_on: date, ends_on: date) -> list[Shipment]:
    customer = session.get(Customer, customer_id)
    if customer is None:
        return []
    shipments = session.scalars(select(Shipment).where(Shipment.customer_id == customer_id).order_by(Shipment.id))
    due = [s for s in shipments if covers(s, starts_on=starts_on, ends_on=ends_on, tz=customer.time_zone)]
    return sorted(due, key=lambda s: (_due_day(s, customer.time_zone) or date.max, s.id))


def preferred_locker(session: Session, customer_id: int) -> int | None:
    """The customer's preferred locker (its id), from their recipient profile; None when they have none."""
    from bot.profile.store import read

    profile = read(session, customer_id)
    if profile is None or not profile.locker:
        return None
    return session.scalar(select(Locker.id).where(Locker.code == profile.locker))


# -- one parcel's plan -----------------------------------------------------------------------------------
def _first_window_after(windows: Sequence[TimeWindow], ends_on: date, tz: str) -> TimeWindow | None:
    zone = ZoneInfo(tz)
    after = [w for w in windows if w.start.astimezone(zone).date() > ends_on]
    return min(after, key=lambda w: w.start) if after else None


def _named(lockers: Sequence[Any], name: str) -> Any | None:
    from bot.conversation.choices import pick_by_name  # pure word matching, shared with the chat

    index = pick_by_name(name, [option.name for option in lockers])
    return lockers[index] if index is not None else None


def plan_parcel(runtime: Runtime, request: HoldRequest, shipment_id: int, ref: str, tz: str,
                preferred_code: str | None = None) -> ParcelPlan:
    """This parcel's new plan under the hold, from what the carrier offers now (the service's options)."""
    asker = service.Asker(shipment_id=shipment_id, by=request.by, language=request.language,
                          customer_id=request.customer_id)
    found = service.options(runtime, asker)
    if request.mode == HoldMode.LOCKER:
        refused = found.refusals[Kind.LOCKER]
        if refused is not None:
            return ParcelPlan(shipment_id, ref, "none", code=str(refused.code))
        chosen = None
        if request.locker_name:
            chosen = _named(found.lockers, request.locker_name)
        if chosen is None and preferred_code is not None:
            chosen = next((option for option in found.lockers if option.code == preferred_code), None)
        if chosen is None and not request.locker_name and found.lockers:
            chosen = found.lockers[0]  # nearest first, with room
        if chosen is None:
            return ParcelPlan(shipment_id, ref, "none", code=Reason.NO_LOCKER.value)
        return ParcelPlan(shipment_id, ref, "locker", locker_code=chosen.code, locker_name=chosen.name)
    refused = found.refusals[Kind.RESCHEDULE]
    if refused is not None:
        return ParcelPlan(shipment_id, ref, "none", code=str(refused.code))
    after = _first_window_after(found.windows, request.ends_on, tz)
    if after is None:
        return ParcelPlan(shipment_id, ref, "none", code=Reason.NO_WINDOW_AFTER.value)
    return ParcelPlan(shipment_id, ref, "reschedule", window=after)


def _invalid(request: HoldRequest, today: date) -> bool:
    return request.ends_on < request.starts_on or request.ends_on < today or (
        request.ends_on - request.starts_on).days > 62


def plan(runtime: Runtime, request: HoldRequest) -> HoldPlan | Refused:
    """The check before the question: each parcel due in the period and its new plan. Changes nothing."""
    now = runtime.clock.now()
    with runtime.sessions() as session:
        customer = session.get(Customer, request.customer_id)
        if customer is None:
            return Refused(Reason.NOT_VERIFIED, reason_text(request.language, Reason.NOT_VERIFIED))
        tz = customer.time_zone
        if _invalid(request, now.astimezone(ZoneInfo(tz)).date()):
            return Refused(Reason.INVALID, reason_text(request.language, Reason.INVALID))
        due = [(s.id, s.tracking_number[-4:]) for s in parcels_due(
            session, customer_id=request.customer_id, starts_on=request.starts_on, ends_on=request.ends_on)
            if request.only is None or s.id in request.only]
        preferred_id = preferred_locker(session, request.customer_id)
        preferred = session.get(Locker, preferred_id) if preferred_id is not None else None
        preferred_code = preferred.code if preferred is not None else None
    parcels = [plan_parcel(runtime, request, shipment_id, ref, tz, preferred_code) for shipment_id, ref in due]
    return HoldPlan(request, parcels, now, tz)


# -- making it -------------------------------------------------------------------------------------------
def _change(runtime: Runtime, request: HoldRequest, planned: ParcelPlan) -> service.Outcome:
    if planned.action == "locker" and planned.locker_code:
        return service.make(runtime, LockerRequest(shipment_id=planned.shipment_id, by=request.by,
                                                   language=request.language, customer_id=request.customer_id,
                                                   locker_code=planned.locker_code))
    assert planned.window is not None
    return service.make(runtime, RescheduleRequest(shipment_id=planned.shipment_id, by=request.by,
                                                   language=request.language, customer_id=request.customer_id,
                                                   window=planned.window))


def _inside(planned: ParcelPlan, request: HoldRequest, tz: str) -> bool:
    """A window on a day of the hold (or before its end): never made, whatever the plan says."""
    return planned.window is not None and planned.window.start.astimezone(ZoneInfo(tz)).date() <= request.ends_on


def apply_plan(runtime: Runtime, request: HoldRequest, planned: ParcelPlan, tz: str) -> tuple[ParcelPlan, service.Outcome]:
    """One parcel's change under the hold. A window taken since the question: the next one after the hold."""
    if planned.action == "none" or (planned.action == "reschedule" and (planned.window is None
                                                                         or _inside(planned, request, tz))):
        code = planned.code or Reason.INVALID.value
        return planned, Refused(_code(code), reason_text(request.language, _code(code), Kind.HOLD))
    outcome = _change(runtime, request, planned)
    if isinstance(outcome, Refused) and outcome.code == Refusal.WINDOW_TAKEN:
        again = plan_parcel(runtime, request, planned.shipment_id, planned.ref, tz)
        if again.action == "reschedule" and not _inside(again, request, tz):
            return again, _change(runtime, request, again)
    return planned, outcome


def _code(value: str) -> Code:
    if value in Refusal.__members__.values():
        return Refusal(value)
    return Reason(value) if value in Reason.__members__.values() else Reason.INVALID


def claim(runtime: Runtime, hold_id: int, planned: ParcelPlan, *, new: bool) -> int | None:
    """Take the parcel into the hold before changing it: one row per hold and parcel, so a parcel is changed
    once however often it is offered (None: it is in the hold already)."""
    try:
        with transaction(runtime.sessions) as session:
            row = HoldParcel(hold_id=hold_id, shipment_id=planned.shipment_id, action=planned.action,
                             outcome="pending", detail={}, new_parcel=new)
            session.add(row)
            session.flush()
            return row.id
    except IntegrityError:
        return None


def settle(runtime: Runtime, row_id: int, planned: ParcelPlan, outcome: service.Outcome) -> None:
    """Record what happened to the parcel."""
    with transaction(runtime.sessions) as session:
        row = session.get(HoldParcel, row_id)
        assert row is not None
        row.action = planned.action
        if isinstance(outcome, Done):
            row.outcome, row.code, row.detail = "done", None, dict(outcome.detail)
        elif isinstance(outcome, CarrierDown):
            row.outcome, row.code = "carrier_down", Reason.CARRIER_DOWN.value
        else:
            row.outcome, row.code = "refused", str(outcome.code)


def _outcome_line(planned: ParcelPlan, outcome: service.Outcome) -> PlanLine:
    if isinstance(outcome, Done):
        return planned.line()
    code = Reason.CARRIER_DOWN.value if isinstance(outcome, CarrierDown) else str(outcome.code)
    return PlanLine(planned.ref, problem=hold_text.problem_key(code))


def make(runtime: Runtime, request: HoldRequest, confirmed: Sequence[ParcelPlan]) -> HoldDone | Refused:
    """Record the hold (it replaces the customer's earlier one) and make the confirmed plan, parcel by parcel."""
    now = runtime.clock.now()
    with transaction(runtime.sessions) as session:
        customer = session.get(Customer, request.customer_id)
        if customer is None or (request.by != Requester.AGENT and request.customer_id is None):
            return Refused(Reason.NOT_VERIFIED, reason_text(request.language, Reason.NOT_VERIFIED))
        tz = customer.time_zone
        if _invalid(request, now.astimezone(ZoneInfo(tz)).date()):
            return Refused(Reason.INVALID, reason_text(request.language, Reason.INVALID))
        for earlier in active_holds(session, request.customer_id, now=now):
            earlier.cancelled_at = now
        locker = session.scalar(select(Locker).where(Locker.code == next(
            (p.locker_code for p in confirmed if p.locker_code), None)))
        hold = Hold(customer_id=request.customer_id, starts_on=request.starts_on, ends_on=request.ends_on,
                    mode=request.mode.value, locker_id=locker.id if locker is not None else None,
                    channel=request.channel, language=request.language, created_at=now, confirmed_at=now)
        session.add(hold)
        session.flush()
        hold_id = hold.id
        session.add(AuditLog(actor=f"{request.by.value}:{request.channel}", action="hold", entity="customer",
                             entity_id=str(request.customer_id),
                             detail={"hold": hold_id, "from": request.starts_on.isoformat(),
                                     "until": request.ends_on.isoformat(), "mode": request.mode.value,
                                     "parcels": [p.shipment_id for p in confirmed]}))
    outcomes = []
    once: dict[int, ParcelPlan] = {}
    for each in confirmed:
        once.setdefault(each.shipment_id, each)
    for planned in once.values():  # each parcel once, as first listed
        row_id = claim(runtime, hold_id, planned, new=False)
        if row_id is None:
            continue
        changed, outcome = apply_plan(runtime, request, planned, tz)
        settle(runtime, row_id, changed, outcome)
        outcomes.append((changed, outcome))
    done = [_outcome_line(p, o) for p, o in outcomes if isinstance(o, Done)]
    failed = [_outcome_line(p, o) for p, o in outcomes if not isinstance(o, Done)]
    message = hold_text.outcome(request.language, last=request.ends_on, done=done, failed=failed, now=now, tz=tz)
    return HoldDone(hold_id, message, outcomes)


# -- holds in force, ending one --------------------------------------------------------------------------
def active_holds(session: Session, customer_id: int, *, now: datetime) -> list[Hold]:
    """The customer's confirmed holds that have not ended or been cancelled (their days, in their time zone)."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        return []
    today = now.astimezone(ZoneInfo(customer.time_zone)).date()
    return list(session.scalars(select(Hold).where(
        Hold.customer_id == customer_id, Hold.confirmed_at.is_not(None), Hold.cancelled_at.is_(None),
        Hold.ends_on >= today).order_by(Hold.id)))


def current_hold(runtime: Runtime, customer_id: int) -> tuple[date, date] | None:
    """The period of the customer's hold in force, if any (for the question before cancelling it)."""
    now = runtime.clock.now()
    with runtime.sessions() as session:
        holds = active_holds(session, customer_id, now=now)
        return (holds[-1].starts_on, holds[-1].ends_on) if holds else None


def cancel(runtime: Runtime, *, customer_id: int, by: Requester, language: str = "en") -> Done | Refused:
    """End the customer's holds in force. Parcels already moved keep their new plan; new ones come as usual."""
    now = runtime.clock.now()
    with transaction(runtime.sessions) as session:
        holds = active_holds(session, customer_id, now=now)
        if not holds:
            return Refused(Reason.INVALID, hold_text.no_hold(language))
        for hold in holds:
            hold.cancelled_at = now
        session.add(AuditLog(actor=by.value, action="hold_cancelled", entity="customer", entity_id=str(customer_id),
                             detail={"holds": [hold.id for hold in holds]}))
        return Done(Kind.HOLD, hold_text.cancelled(language), {"holds": [hold.id for hold in holds]})
