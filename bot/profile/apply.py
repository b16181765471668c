"""Apply a customer's profile to a new parcel of theirs, through the change service, as far as its carrier can.

Called once per new parcel by the intake (`bot.parcels.intake`). The profile asks as `Requester.PROFILE`
for the parcel's own customer, so the change service's checks (carrier capabilities, the parcel's state)
hold as for any other caller. What is done, and what could not be done with the reason, is recorded per
item in `ProfileApplication` (the agent console shows it); the customer is told once per parcel about
what could not be applied (the `profile_not_applied` message, planned by `bot.notify.planner`).

- a preferred locker: the parcel goes to that locker (nothing else is needed at a door then);
- a safe place, a neighbour, accessibility needs and extra time at the door: one note for the driver
  (a carrier without notes but with neighbour delivery still gets the neighbour);
- days and times that suit or never suit: the promised window is kept if it fits, else the first
  window the carrier offers that fits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.carriers import Capability, Refusal, TimeWindow, UnsupportedOperation
from bot.changes import (
    Asker,
    CarrierDown,
    Done,
    InstructionsRequest,
    Kind,
    LockerRequest,
    NeighbourRequest,
    Outcome,
    Requester,
    RescheduleRequest,
    make,
    options,
)
from bot.changes.instructions import MAX_NOTE
from bot.core.db import insert_or_skip, transaction
from bot.core.models import ProfileApplication, Shipment
from bot.core.runtime import Runtime
from bot.notify.replan import request_replan
from bot.profile.store import WEEK, Profile, read
from bot.text import N_, language_of, t

APPLIED = "applied"
NOT_OFFERED = "not_offered"
REFUSED = "refused"
CARRIER_DOWN = "carrier_down"
NO_WINDOW = "no_window"  # no window the carrier offers fits the customer's days and times
NOT_APPLIED = (NOT_OFFERED, REFUSED, CARRIER_DOWN, NO_WINDOW)

SAFE_PLACE = N_("Safe place: {text}")
NEIGHBOUR = N_("If nobody is in, leave it with the neighbour: {text}")
ACCESS = N_("Access needs: {text}")
DOOR = N_("Please allow {minutes} extra minutes at the door.")


@dataclass(frozen=True)
class Applied:
    item: str  # note | neighbour | locker | window
    outcome: str  # APPLIED or one of NOT_APPLIED
    detail: str = ""


def driver_note(profile: Profile, language: str, *, with_neighbour: bool = True) -> str:
    """The one note for the driver, in the customer's language, within the carrier's note length."""
    parts = []
    if profile.safe_place:
        parts.append(t(language, SAFE_PLACE, text=profile.safe_place))
    if profile.neighbour and with_neighbour:
        parts.append(t(language, NEIGHBOUR, text=profile.neighbour))
    if profile.accessibility:
        parts.append(t(language, ACCESS, text=profile.accessibility))
    if profile.door_minutes:
        parts.append(t(language, DOOR, minutes=profile.door_minutes))
    note = " ".join(part if part.endswith((".", "!", "?")) else part + "." for part in parts)
    return note if len(note) <= MAX_NOTE else note[:MAX_NOTE - 1] + "…"


def fits(window: TimeWindow, profile: Profile, tz: ZoneInfo) -> bool:
    """Does the window keep to the customer's days and times (in their time zone)?"""
    start, end = window.start.astimezone(tz), window.end.astimezone(tz)
    day = WEEK[start.weekday()]
    if day in profile.never_days or (profile.suit_days and day not in profile.suit_days):
        return False
    if profile.not_before is not None and start.hour * 60 + start.minute < profile.not_before:
        return False
    end_minutes = end.hour * 60 + end.minute if end.date() == start.date() else 24 * 60
    return profile.not_after is None or end_minutes <= profile.not_after


def _result(item: str, outcome: Outcome, detail: str = "") -> Applied:
    if isinstance(outcome, Done):
        return Applied(item, APPLIED, detail)
    if isinstance(outcome, CarrierDown):
        return Applied(item, CARRIER_DOWN)
    return Applied(item, NOT_OFFERED if outcome.code == Refusal.NOT_OFFERED else REFUSED, str(outcome.code))


def _window(runtime: Runtime, profile: Profile, asker: Asker, promised: TimeWindow | None, tz: ZoneInfo) -> Applied:
    if promised is not None and fits(promised, profile, tz):
        return Applied("window", APPLIED, "kept")
    found = options(runtime, asker)
    refusal = found.refusals.get(Kind.RESCHEDULE)
    if refusal is not None:
        return Applied("window", NOT_OFFERED if refusal.code == Refusal.NOT_OFFERED else REFUSED, str(refusal.code))
    chosen = next((w for w in found.windows if fits(w, profile, tz)), None)
    if chosen is None:
        return Applied("window", NO_WINDOW)
    request = RescheduleRequest(shipment_id=asker.shipment_id, by=asker.by, language=asker.language,
                                customer_id=asker.customer_id, window=chosen)
    return _result("window", make(runtime, request), chosen.start.isoformat())


def _door(runtime: Runtime, profile: Profile, asker: Asker, capabilities: frozenset[Capability]) -> list[Applied]:
    base: dict[str, Any] = {"shipment_id": asker.shipment_id, "by": asker.by, "language": asker.language,
            "customer_id": asker.customer_id}
    results = []
    takes_notes = Capability.INSTRUCTIONS in capabilities
    neighbour_apart = bool(profile.neighbour) and not takes_notes
    if neighbour_apart:  # a carrier without notes may still deliver to a neighbour
        request = NeighbourRequest(**base, neighbour=profile.neighbour or "")
        results.append(_result("neighbour", make(runtime, request)))
    note = driver_note(profile, asker.language, with_neighbour=not neighbour_apart)
    if note:
        results.append(_result("note", make(runtime, InstructionsRequest(**base, note=note)), note))
    return results


def apply_profile(runtime: Runtime, shipment_id: int) -> list[Applied]:
    """Apply the profile to one parcel now (each item through the change service); nothing recorded."""
    with runtime.sessions() as session:
        shipment = session.get(Shipment, shipment_id)
        if shipment is None:
            return []
        profile = read(session, shipment.customer_id)
        carrier_name, tz = shipment.carrier, ZoneInfo(shipment.customer.time_zone)
        promised = (TimeWindow(shipment.promised_start, shipment.promised_end)
                    if shipment.promised_start and shipment.promised_end else None)
    if profile is None or not profile.has_wishes:
        return []
    try:
        capabilities = runtime.carrier(carrier_name).capabilities
    except UnsupportedOperation:
        capabilities = frozenset()
    asker = Asker(shipment_id=shipment_id, by=Requester.PROFILE, language=language_of(profile.language),
                  customer_id=profile.customer_id)
    if profile.locker:
        request = LockerRequest(shipment_id=shipment_id, by=asker.by, language=asker.language,
                                customer_id=asker.customer_id, locker_code=profile.locker)
        return [_result("locker", make(runtime, request), profile.locker)]
    results = []
    if profile.window_rules:  # the window first: a carrier may refuse to move a parcel that has a note
        results.append(_window(runtime, profile, asker, promised, tz))
    results += _door(runtime, profile, asker, capabilities)
    return results


def on_new_parcel(runtime: Runtime, shipment_id: int) -> list[Applied]:
    """Apply the profile to a parcel that has just arrived, once: a second call changes nothing."""
    with runtime.sessions() as session:
        seen = session.scalar(select(ProfileApplication.id).where(ProfileApplication.shipment_id == shipment_id).limit(1))
        shipment = session.get(Shipment, shipment_id)
        customer_id = shipment.customer_id if shipment is not None else None
    if seen is not None or customer_id is None:
        return []
    results = apply_profile(runtime, shipment_id)
    if results:
        with transaction(runtime.sessions) as session:
            session.execute(insert_or_skip(session, ProfileApplication, ["shipment_id", "item"]), [
                {"shipment_id": shipment_id, "customer_id": customer_id, "item": r.item, "outcome": r.outcome,
                 "detail": r.detail[:1000]} for r in results])
            if any(r.outcome in NOT_APPLIED for r in results):  # the customer is told once (bot.notify.planner)
                request_replan(session, shipment_id, "profile not applied")
    return results


def applications(session: Session, shipment_ids: list[int]) -> dict[int, list[ProfileApplication]]:
    """What the profile did to each of these parcels (for the console)."""
    found: dict[int, list[ProfileApplication]] = {}
    for row in session.scalars(select(ProfileApplication).where(ProfileApplication.shipment_id.in_(shipment_ids))
                               .order_by(ProfileApplication.id)):
        found.setdefault(row.shipment_id, []).append(row)
    return found
