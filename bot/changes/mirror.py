"""Our copy of a change the carrier accepted: written by the change service, never by an adapter.

An adapter only talks to its carrier and answers with our value types. When the carrier accepted a change,
the service records what it accepted on our shipment, with one audit entry, in the same transaction as the
re-planning of the parcel's messages. A record is idempotent: where our copy already says so (the sandbox,
whose world is our database, has applied it itself), nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.carriers import LockerOption, ReturnLabel, TimeWindow
from bot.core.models import AuditLog, Locker, Return, Shipment


def neighbour_note(neighbour: str) -> str:
    """What the driver reads when the customer names a neighbour (driver-facing, not a customer text)."""
    return f"Leave with neighbour: {neighbour}"


@dataclass(frozen=True)
class Booked:
    window: TimeWindow


@dataclass(frozen=True)
class SentToLocker:
    locker: LockerOption
    our_network: bool  # the carrier delivers into our lockers (a place in one is taken), not its own


@dataclass(frozen=True)
class Instructed:
    text: str
    action: str = "instructions"  # or "neighbour"


@dataclass(frozen=True)
class Readdressed:
    address_line: str
    postcode: str


@dataclass(frozen=True)
class ReturnBooked:
    label: ReturnLabel
    items: list[str] = field(default_factory=list)
    reason: str = ""
    locker_code: str | None = None  # a drop-off at this locker


Accepted = Booked | SentToLocker | Instructed | Readdressed | ReturnBooked


def record(session: Session, shipment_id: int, carrier: str, accepted: Accepted) -> bool:
    """Mirror what `carrier` accepted on our shipment, with an audit entry; False when ours already said so."""
    shipment = session.get(Shipment, shipment_id)
    if shipment is None:
        return False
    action, detail = _apply(session, shipment, accepted)
    if action is None:
        return False
    session.add(AuditLog(actor=f"carrier:{carrier}", action=action, entity="shipment", entity_id=str(shipment.id),
                         detail=detail))
    return True


def _apply(session: Session, shipment: Shipment, accepted: Accepted) -> tuple[str | None, dict[str, Any]]:
    if isinstance(accepted, Booked):
        window = accepted.window
        if (shipment.promised_start, shipment.promised_end) == (window.start, window.end):
            return None, {}
        shipment.promised_start, shipment.promised_end = window.start, window.end
        shipment.eta_start, shipment.eta_end = window.start, window.end
        return "reschedule", {"start": window.start.isoformat()}
    if isinstance(accepted, SentToLocker):
        ours = session.scalar(select(Locker).where(Locker.code == accepted.locker.code))
        if ours is not None and shipment.locker_id == ours.id:
            return None, {}
        if accepted.our_network:
            if ours is None:
                return None, {}
            ours.occupied += 1
            shipment.locker_id = ours.id
        else:  # the carrier's own locker network: ours notes the locker where it is one of ours; the ETA is theirs
            shipment.locker_id = ours.id if ours is not None else shipment.locker_id
            shipment.eta_start = shipment.eta_end = None
        return "redirect_to_locker", {"locker": accepted.locker.code}
    if isinstance(accepted, Instructed):
        if shipment.instructions == accepted.text:
            return None, {}
        shipment.instructions = accepted.text
        return accepted.action, {"length": len(accepted.text)}
    if isinstance(accepted, Readdressed):
        if (shipment.address_line, shipment.postcode) == (accepted.address_line, accepted.postcode):
            return None, {}
        shipment.address_line, shipment.postcode = accepted.address_line, accepted.postcode
        return "change_address", {"postcode": accepted.postcode}
    label = accepted.label
    if session.scalar(select(Return.id).where(Return.rma == label.rma)) is not None:
        return None, {}
    locker = session.scalar(select(Locker.id).where(Locker.code == accepted.locker_code)) if accepted.locker_code else None
    session.add(Return(
        shipment_id=shipment.id, rma=label.rma, items=sorted(accepted.items), reason=accepted.reason[:200],
        method=label.method, label_code=label.label_code[:64], locker_id=locker,
        pickup_start=label.pickup.start if label.pickup else None, pickup_end=label.pickup.end if label.pickup else None,
        label_document=label.document, label_format=(label.document_format or "PDF")[:16] if label.document else None))
    return "create_return", {"rma": label.rma, "method": label.method}
