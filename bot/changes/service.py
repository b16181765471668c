"""The change service: the one way the bot, the agent console and the HTTP API change a delivery.

`check` says, without changing anything, whether a kind of change can be made to a parcel now (who asks,
the carrier's capabilities, the parcel's state); `make` makes a change whole or not at all, then
re-plans the parcel's messages and sends follow-ups (a return label by email). `options` lists what can
be changed now and the choices (windows, lockers, return methods). Each opens its own database sessions
and returns a value: `Done`, `Refused` with a reason code, or `CarrierDown`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from bot.carriers import Carrier, CarrierError, ChangeRefused, LockerOption, Refusal, TimeWindow, UnsupportedOperation
from bot.changes import address, instructions, locker, mirror, reschedule, returns
from bot.changes.common import (
    CARRIER_DOWN,
    PARCEL_KINDS,
    CarrierDown,
    Done,
    Kind,
    Outcome,
    Parcel,
    Reason,
    Refused,
    Requester,
    carrier_does,
    load_parcel,
    reason_text,
    refused,
    state_refusal,
)
from bot.core.db import transaction
from bot.core.runtime import Runtime
from bot.notify import replan_after_change
from bot.notify.confirmations import plan_confirmation
from bot.notify.rules import cached_rules
from bot.text import t

Request = (reschedule.RescheduleRequest | locker.LockerRequest | instructions.InstructionsRequest
           | address.NeighbourRequest | address.AddressRequest | returns.ReturnRequest)


@dataclass(frozen=True, kw_only=True)
class Asker:
    """Who asks about which parcel, in which language (a change request without its fields)."""

    shipment_id: int
    by: Requester
    language: str = "en"
    customer_id: int | None = None


def _refusal(kind: Kind, parcel: Parcel | None, by: Requester, customer_id: int | None,
             carrier: Carrier | None) -> Reason | Refusal | None:
    if parcel is None:
        return Reason.UNKNOWN_PARCEL
    if by != Requester.AGENT:
        if customer_id is None:
            return Reason.NOT_VERIFIED
        if customer_id != parcel.customer_id:
            return Reason.UNKNOWN_PARCEL  # someone else's parcel looks like no parcel
    if carrier is None or not carrier_does(carrier.capabilities, kind):
        return Refusal.NOT_OFFERED
    return state_refusal(kind, parcel)


def _load(runtime: Runtime, shipment_id: int) -> tuple[Parcel | None, Carrier | None]:
    now = runtime.clock.now()
    with runtime.sessions() as session:
        parcel = load_parcel(session, shipment_id, now)
    try:
        carrier = runtime.carrier(parcel.carrier) if parcel is not None else None
    except UnsupportedOperation:  # no adapter for that carrier here
        carrier = None
    return parcel, carrier


def check(runtime: Runtime, kind: Kind, asker: Asker) -> Refused | None:
    """Why this kind of change can't be made to the parcel now, without changing anything; None if it can."""
    parcel, carrier = _load(runtime, asker.shipment_id)
    code = _refusal(kind, parcel, asker.by, asker.customer_id, carrier)
    return Refused(code, reason_text(asker.language, code, kind)) if code is not None else None


def _well_formed(request: Request) -> bool:
    if isinstance(request, instructions.InstructionsRequest):
        return instructions.well_formed(request)
    if isinstance(request, address.NeighbourRequest | address.AddressRequest):
        return address.well_formed(request)
    if isinstance(request, returns.ReturnRequest):
        return returns.well_formed(request)
    if isinstance(request, locker.LockerRequest):
        return 0 < len(request.locker_code) <= 40
    return request.window.start < request.window.end


def _apply(carrier: Carrier, parcel: Parcel, request: Request) -> Done:
    if isinstance(request, reschedule.RescheduleRequest):
        return reschedule.apply(carrier, parcel, request)
    if isinstance(request, locker.LockerRequest):
        return locker.apply(carrier, parcel, request)
    if isinstance(request, instructions.InstructionsRequest):
        return instructions.apply(carrier, parcel, request)
    if isinstance(request, returns.ReturnRequest):
        return returns.apply(carrier, parcel, request)
    return address.apply(carrier, parcel, request)


def make(runtime: Runtime, request: Request) -> Outcome:
    """Make the change through the parcel's carrier (one call: whole or nothing), then the follow-ups."""
    parcel, carrier = _load(runtime, request.shipment_id)
    code = _refusal(request.kind, parcel, request.by, request.customer_id, carrier)
    if code is None and not _well_formed(request):
        code = Reason.INVALID
    if code is not None:
        return refused(request, code)
    assert parcel is not None and carrier is not None
    try:
        done = _apply(carrier, parcel, request)
    except ChangeRefused as refusal:
        return refused(request, refusal.code)
    except UnsupportedOperation:
        return refused(request, Refusal.NOT_OFFERED)
    except CarrierError:
        return CarrierDown(t(request.language, CARRIER_DOWN))
    _follow_up(runtime, parcel, carrier.name, done, request)
    return done


def _follow_up(runtime: Runtime, parcel: Parcel, carrier: str, done: Done, request: Request) -> None:
    """Our side of a change the carrier made, in one transaction: our copy of it (`bot.changes.mirror`), the
    re-planned window messages or a return's label; a change made on the tracking page or through the API is
    told on the customer's channel (a return by its label message), as nobody says it in a conversation."""
    with transaction(runtime.sessions) as session:
        if done.accepted is not None:
            mirror.record(session, parcel.id, carrier, done.accepted)
        if done.kind == Kind.RETURN:
            returns.email_label(session, runtime.settings, parcel, done)
            return
        replan_after_change(session, shipment_id=parcel.id, change=done.kind.value)
        if request.by == Requester.API:
            plan_confirmation(session, shipment_id=parcel.id, kind=done.kind.value, now=parcel.now,
                              what={"detail": done.detail, "request": asdict(request)},
                              rules=cached_rules(runtime.settings.notification_rules))


@dataclass
class Options:
    """What can be changed now (None) or why not (a refusal), with the choices the carrier offers."""

    refusals: dict[Kind, Refused | None]
    windows: list[TimeWindow] = field(default_factory=list)
    lockers: list[LockerOption] = field(default_factory=list)
    return_methods: list[str] = field(default_factory=list)
    return_items: list[dict[str, Any]] = field(default_factory=list)
    return_lockers: list[LockerOption] = field(default_factory=list)
    pickup_windows: list[TimeWindow] = field(default_factory=list)
    parcel: Parcel | None = None


def options(runtime: Runtime, asker: Asker) -> Options:
    """Every kind's check, and the choices for those that can be made (a carrier that is down: `CarrierDown`)."""
    parcel, carrier = _load(runtime, asker.shipment_id)
    refusals: dict[Kind, Refused | None] = {}
    for kind in PARCEL_KINDS:
        code = _refusal(kind, parcel, asker.by, asker.customer_id, carrier)
        refusals[kind] = Refused(code, reason_text(asker.language, code, kind)) if code is not None else None
    found = Options(refusals, parcel=parcel)
    if parcel is None or carrier is None:
        return found
    down = Refused(Reason.CARRIER_DOWN, t(asker.language, CARRIER_DOWN))
    if refusals[Kind.RESCHEDULE] is None:
        try:
            found.windows = reschedule.options(carrier, parcel)
        except ChangeRefused as refusal:
            refusals[Kind.RESCHEDULE] = Refused(refusal.code, reason_text(asker.language, refusal.code, Kind.RESCHEDULE))
        except CarrierError:
            refusals[Kind.RESCHEDULE] = down
    if refusals[Kind.LOCKER] is None or refusals[Kind.RETURN] is None:
        try:
            lockers = locker.options(carrier, parcel)
        except CarrierError:
            lockers = []
            refusals[Kind.LOCKER] = refusals[Kind.LOCKER] or down
        found.lockers = lockers if refusals[Kind.LOCKER] is None else []
        found.return_lockers = lockers if refusals[Kind.RETURN] is None else []
    if refusals[Kind.RETURN] is None:
        found.return_methods = returns.methods(carrier)
        found.return_items = [{"sku": item["sku"], "name": item["name"]} for item in parcel.returnable]
        if "pickup" in found.return_methods:
            try:
                found.pickup_windows = carrier.pickup_windows(parcel.tracking_number)
            except CarrierError:
                found.return_methods.remove("pickup")
    return found
