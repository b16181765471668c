"""What every change kind shares: who asks, the outcomes, our reason codes and their words, the parcel as the
service sees it, the capability check and the state check."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy.orm import Session

from bot.carriers import Capability, Refusal
from bot.changes.mirror import Accepted
from bot.core.models import Shipment, ShipmentStatus
from bot.text import N_, t


class Kind(StrEnum):
    RESCHEDULE = "reschedule"
    LOCKER = "locker"
    INSTRUCTIONS = "instructions"
    ADDRESS = "address"  # a neighbour, or a new address
    RETURN = "return"
    HOLD = "hold"  # away from home: every parcel arriving in a period, moved after it or to a locker


# The kinds made to one parcel (a hold is made of reschedules or locker changes, one per parcel).
PARCEL_KINDS = tuple(kind for kind in Kind if kind != Kind.HOLD)


class Requester(StrEnum):
    CUSTOMER = "customer"  # in the chat, verified
    AGENT = "agent"  # from the console, for the customer
    API = "api"  # the HTTP API, with the parcel's signed link
    PROFILE = "profile"  # the customer's saved profile, applied to a new parcel of theirs (bot/profile)


class Reason(StrEnum):
    """Our own reasons to refuse, beside the carriers' `Refusal` codes."""

    NOT_VERIFIED = "not_verified"  # the customer has not shown it is their parcel
    UNKNOWN_PARCEL = "unknown_parcel"
    AT_LOCKER = "at_locker"  # waiting in a locker
    INVALID = "invalid"  # the request itself does not make sense (an empty note, an unknown return method)
    CARRIER_DOWN = "carrier_down"  # the carrier did not answer (in the list of options only)
    NO_WINDOW_AFTER = "no_window_after"  # a hold: the carrier offers no window after it (yet)
    NO_LOCKER = "no_locker"  # a hold to a locker: none near with room (or not the one named)


Code = Refusal | Reason


@dataclass(frozen=True, kw_only=True)
class ChangeRequest:
    """Who asks for a change to which parcel, and the language of the answer. Each kind adds its fields."""

    kind: ClassVar[Kind]
    shipment_id: int
    by: Requester
    language: str = "en"
    customer_id: int | None = None  # the verified customer (customers and the API); None for agents


@dataclass(frozen=True)
class Done:
    kind: Kind
    message: str  # the customer's confirmation, in their language
    detail: dict[str, Any] = field(default_factory=dict)  # what changed, for the audit log and the API
    accepted: Accepted | None = None  # what the carrier accepted, for our copy (`bot.changes.mirror`)


@dataclass(frozen=True)
class Refused:
    code: Code
    message: str  # why, in the customer's language


@dataclass(frozen=True)
class CarrierDown:
    message: str


Outcome = Done | Refused | CarrierDown


@dataclass(frozen=True)
class Parcel:
    """The facts about a shipment a change needs, read in one session."""

    id: int
    tracking_number: str
    carrier: str
    status: ShipmentStatus
    customer_id: int
    email: str
    locale: str
    tz: str
    now: datetime
    going_to_locker: bool
    return_until: datetime | None
    items: list[dict[str, Any]]

    @property
    def short(self) -> str:
        return self.tracking_number[-4:]

    @property
    def returnable(self) -> list[dict[str, Any]]:
        return [item for item in self.items if item.get("returnable")]


def load_parcel(session: Session, shipment_id: int, now: datetime) -> Parcel | None:
    shipment = session.get(Shipment, shipment_id)
    if shipment is None:
        return None
    customer = shipment.customer
    return Parcel(shipment.id, shipment.tracking_number, shipment.carrier, shipment.status_enum, customer.id,
                  customer.email, customer.locale, customer.time_zone, now,
                  shipment.locker_id is not None, shipment.return_until, list(shipment.items or []))


# What each kind needs the carrier to do.
NEEDS: dict[Kind, frozenset[Capability]] = {
    Kind.RESCHEDULE: frozenset({Capability.WINDOWS, Capability.RESCHEDULE}),
    Kind.LOCKER: frozenset({Capability.REDIRECT, Capability.LOCKERS}),
    Kind.INSTRUCTIONS: frozenset({Capability.INSTRUCTIONS}),
    Kind.ADDRESS: frozenset({Capability.CHANGE_ADDRESS}),
    Kind.RETURN: frozenset({Capability.RETURNS}),
    Kind.HOLD: frozenset({Capability.WINDOWS, Capability.RESCHEDULE}),  # or a locker, when the customer says so
}


def carrier_does(capabilities: frozenset[Capability], kind: Kind) -> bool:
    return NEEDS[kind] <= capabilities


def state_refusal(kind: Kind, parcel: Parcel) -> Code | None:
    """Why this parcel's state rules the change out now, from our mirror of it; None if it does not."""
    return refusal_for_state(kind, status=parcel.status, going_to_locker=parcel.going_to_locker,
                             return_until=parcel.return_until, now=parcel.now)


def refusal_for_state(kind: Kind, *, status: str, going_to_locker: bool, return_until: datetime | None = None,
                      now: datetime | None = None) -> Code | None:
    """The state check on its own, for callers that hold the facts already (the chat's context)."""
    if kind == Kind.RETURN:
        if status != ShipmentStatus.DELIVERED:
            return Refusal.NOT_YET_DELIVERED
        if return_until is None or now is None or return_until <= now:
            return Refusal.RETURN_WINDOW_CLOSED
        return None
    if status == ShipmentStatus.OUT_FOR_DELIVERY:
        return Refusal.OUT_FOR_DELIVERY
    if status == ShipmentStatus.AT_LOCKER:
        return Reason.AT_LOCKER
    if status in (ShipmentStatus.DELIVERED, ShipmentStatus.RETURNED):
        return Refusal.DELIVERED
    if going_to_locker:
        return Refusal.GOING_TO_LOCKER
    return None


CARRIER_DOWN = N_("I can't reach the carrier right now, so nothing was changed.")

# What each reason says to the customer.
REASONS: dict[Code, str] = {
    Refusal.OUT_FOR_DELIVERY: N_("Your parcel is already out with the driver, so I can't change that now."),
    Refusal.DELIVERED: N_("Your parcel has already arrived, so I can't change that now."),
    Refusal.GOING_TO_LOCKER: N_("Your parcel is on its way to a locker, so I can't change that now."),
    Refusal.NOT_OFFERED: N_("This carrier doesn't offer that."),
    Refusal.WINDOW_TAKEN: N_("That window is no longer available."),
    Refusal.UNKNOWN_LOCKER: N_("I don't know that locker."),
    Refusal.LOCKER_FULL: N_("That locker is full right now."),
    Refusal.OUTSIDE_AREA: N_("We don't deliver to that postcode from this depot."),
    Refusal.NOT_YET_DELIVERED: N_("A return can be booked once the parcel has been delivered."),
    Refusal.RETURN_WINDOW_CLOSED: N_("The return window for this order has closed."),
    Refusal.NOT_RETURNABLE: N_("Those items can't be returned."),
    Refusal.RETURN_METHOD_NOT_OFFERED: N_("That return method isn't offered."),
    Refusal.LOCKER_NEEDED: N_("Please choose a locker for the drop-off."),
    Refusal.PICKUP_WINDOW_NEEDED: N_("Please choose a pickup window."),
    Refusal.LABEL_FAILED: N_("The carrier couldn't create a return label for this parcel."),
    Refusal.REJECTED: N_("The carrier didn't accept that change."),
    Reason.NOT_VERIFIED: N_("Please tell me your tracking number and postcode first."),
    Reason.UNKNOWN_PARCEL: N_("I can't find that parcel."),
    Reason.AT_LOCKER: N_("Your parcel is already at the locker, so I can't change that now."),
    Reason.INVALID: N_("I couldn't make sense of that change."),
    Reason.CARRIER_DOWN: CARRIER_DOWN,
    Reason.NO_WINDOW_AFTER: N_("The carrier offers no delivery day after your time away yet."),
    Reason.NO_LOCKER: N_("There is no locker with room near you."),
}

# When the carrier can't make a kind of change at all (Refusal.NOT_OFFERED), per kind.
CANNOT: dict[Kind, str] = {
    Kind.RESCHEDULE: N_("This carrier doesn't let me move deliveries."),
    Kind.LOCKER: N_("This carrier has no lockers I can use."),
    Kind.INSTRUCTIONS: N_("This carrier doesn't take delivery notes."),
    Kind.ADDRESS: N_("This carrier doesn't let me send it to a neighbour or another address."),
    Kind.RETURN: N_("This carrier doesn't let me book returns here."),
    Kind.HOLD: N_("This carrier doesn't let me move deliveries."),
}


def reason_text(language: str | None, code: Code, kind: Kind | None = None) -> str:
    """A refusal in the customer's language; "not offered" says which change the carrier doesn't do."""
    if code == Refusal.NOT_OFFERED and kind is not None:
        return t(language, CANNOT[kind])
    return t(language, REASONS[code])


def refused(request: ChangeRequest, code: Code) -> Refused:
    return Refused(code, reason_text(request.language, code, request.kind))
