"""Booking a return of delivered items: a locker drop-off, a pickup at the door, or a label by email."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from sqlalchemy.orm import Session

from bot.carriers import Carrier, TimeWindow
from bot.changes.common import ChangeRequest, Done, Kind, Parcel
from bot.changes.mirror import ReturnBooked
from bot.core.settings import Settings
from bot.demo.outbox import record
from bot.text import N_, t
from bot.text.timefmt import window as window_text

# The methods in the order we offer them, and how the customer is asked about them.
METHODS: dict[str, str] = {
    "locker": N_("Drop it at a locker (QR code, no printer)"),
    "pickup": N_("Carrier pickup from your door"),
    "label": N_("Label by email, drop at any shop"),
}
MAX_REASON = 200


@dataclass(frozen=True, kw_only=True)
class ReturnRequest(ChangeRequest):
    kind: ClassVar[Kind] = Kind.RETURN
    items: list[str]  # skus; empty means every returnable item
    reason: str
    method: str  # a key of METHODS
    locker_code: str | None = None  # for a locker drop-off
    pickup: TimeWindow | None = None  # for a pickup


def methods(carrier: Carrier) -> list[str]:
    """The return methods this carrier offers, in our usual order."""
    return [method for method in METHODS if method in carrier.return_methods]


def well_formed(request: ReturnRequest) -> bool:
    return request.method in METHODS and 0 < len(request.reason.strip()) <= MAX_REASON


def apply(carrier: Carrier, parcel: Parcel, request: ReturnRequest) -> Done:
    skus = list(request.items) or [item["sku"] for item in parcel.returnable]
    reason, locker_code = request.reason.strip()[:MAX_REASON], request.locker_code if request.method == "locker" else None
    label = carrier.create_return(
        parcel.tracking_number, items=skus, reason=reason, method=request.method, locker_code=locker_code,
        pickup=request.pickup if request.method == "pickup" else None,
    )
    language = request.language
    detail = {"rma": label.rma, "method": request.method, "label_code": label.label_code}
    if request.method == "locker":
        message = t(language, "Return {rma} booked. At the {locker} locker, scan code {code} and put the parcel in. "
                              "No printer needed.", rma=label.rma, locker=label.locker_name, code=label.label_code)
    elif request.method == "pickup" and label.pickup:
        message = t(language, "Return {rma} booked: pickup {window}. Have the parcel ready; the driver brings the "
                              "label ({code}).", rma=label.rma, code=label.label_code,
                    window=window_text(label.pickup.start, label.pickup.end, parcel.now, parcel.tz, language))
    else:
        message = t(language, "Return {rma} booked. The label ({code}) is on its way to your email.", rma=label.rma,
                    code=label.label_code)
    return Done(Kind.RETURN, message, detail, ReturnBooked(label, skus, reason, locker_code))


def email_label(session: Session, settings: Settings, parcel: Parcel, done: Done) -> None:
    """The follow-up of a label return, whoever booked it: the label goes to the customer's email."""
    if done.detail.get("method") != "label" or settings.email_provider != "outbox":
        return  # SendGrid delivery of labels comes with the notification service
    rma, code = done.detail["rma"], done.detail["label_code"]
    record(session, channel="email", to=parcel.email, sender=settings.email_from,
           subject=t(parcel.locale, "Your return label {rma}", rma=rma),
           body=t(parcel.locale, "Return {rma}: print label {code} and drop the parcel at any shop.", rma=rma, code=code))
