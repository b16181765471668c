"""Who is writing: an SMS sender by their signed phone number, a web chat by a signed link token or
by tracking number + postcode. Nothing personal is shown before one of these has matched."""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.db import insert_or_skip
from bot.core.models import FINAL_STATUSES, ConversationLink, Customer, Shipment, ShipmentStatus, utcnow

TRACKING_NUMBER = re.compile(r"^DS\d{10}$")
POSTCODE = re.compile(r"^\d{5}$")
LINK_SALT = "shipment-link"


def normalise_phone(raw: str, region: str = "DE") -> str | None:
    """E.164 or None. Accepts 'whatsapp:+49…' as Twilio sends it for WhatsApp."""
    raw = raw.removeprefix("whatsapp:")
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_tracking_number(raw: str) -> str | None:
    candidate = re.sub(r"[\s-]", "", raw or "").upper()
    return candidate if TRACKING_NUMBER.match(candidate) else None


def normalise_postcode(raw: str) -> str | None:
    candidate = re.sub(r"\s", "", raw or "")
    return candidate if POSTCODE.match(candidate) else None


def customer_by_phone(session: Session, phone: str) -> Customer | None:
    e164 = normalise_phone(phone)
    if e164 is None:
        return None
    return session.scalar(select(Customer).where(Customer.phone == e164))


def shipment_by_tracking_and_postcode(session: Session, tracking_number: str, postcode: str) -> Shipment | None:
    """The shipment only when both match; callers must not reveal which of the two was wrong."""
    return session.scalar(
        select(Shipment).where(Shipment.tracking_number == tracking_number, Shipment.postcode == postcode)
    )


def link_conversation(session: Session, *, channel: str, sender_id: str, customer_id: int,
                      shipment_id: int | None) -> ConversationLink:
    """Record who the conversation is. Two calls for one new sender at once (a customer's first text
    while a notification opens the same conversation) both get the one row: the insert is
    ON CONFLICT DO NOTHING on (channel, sender_id), then the row is read and set."""
    now = utcnow()
    session.execute(insert_or_skip(session, ConversationLink, ["channel", "sender_id"])
                    .values(channel=channel, sender_id=sender_id, verified=False, created_at=now))
    link = session.scalar(
        select(ConversationLink).where(ConversationLink.channel == channel, ConversationLink.sender_id == sender_id)
    )
    assert link is not None
    link.customer_id, link.shipment_id = customer_id, shipment_id
    link.verified, link.verified_at = True, now
    session.flush()
    return link


def verified_link(session: Session, *, channel: str, sender_id: str) -> ConversationLink | None:
    """The verified identity of a conversation. A signed SMS sender is verified by their phone."""
    link = session.scalar(
        select(ConversationLink).where(ConversationLink.channel == channel, ConversationLink.sender_id == sender_id,
                                       ConversationLink.verified.is_(True))
    )
    if link is not None or channel != "twilio":
        return link
    customer = customer_by_phone(session, sender_id)
    if customer is None:
        return None
    return link_conversation(session, channel=channel, sender_id=sender_id, customer_id=customer.id,
                             shipment_id=None)


def link_may_see(session: Session, link: ConversationLink | None, shipment_id: int | None) -> bool:
    """Whether a conversation with this link may see (and change) that parcel: verified, and the
    parcel is the one it was verified with, or (verified by phone) one of the customer's own."""
    if link is None or not link.verified or link.customer_id is None or shipment_id is None:
        return False
    if link.shipment_id is not None:
        return link.shipment_id == shipment_id
    return session.scalar(select(Shipment.id).where(Shipment.id == shipment_id,
                                                    Shipment.customer_id == link.customer_id)) is not None


def active_shipments(session: Session, customer_id: int) -> list[Shipment]:
    """Parcels still on their way (or waiting at a locker), the most urgent first."""
    shipments = session.scalars(select(Shipment).where(Shipment.customer_id == customer_id)).all()
    active = [s for s in shipments if s.status_enum not in FINAL_STATUSES]
    order = {ShipmentStatus.OUT_FOR_DELIVERY: 0, ShipmentStatus.FAILED_ATTEMPT: 1, ShipmentStatus.AT_LOCKER: 2,
             ShipmentStatus.AT_DEPOT: 3, ShipmentStatus.IN_TRANSIT: 4, ShipmentStatus.LABEL_CREATED: 5}
    return sorted(active, key=lambda s: (order.get(s.status_enum, 9), s.eta_start or s.created_at))


@lru_cache(maxsize=4)
def _link_serializer(secret: str) -> URLSafeTimedSerializer:
    """One serializer per secret: building one derives its signing key, and every notification makes a link."""
    return URLSafeTimedSerializer(secret, salt=LINK_SALT)


def make_link_token(secret: str, shipment_id: int) -> str:
    return _link_serializer(secret).dumps({"s": shipment_id})


def read_link_token(secret: str, token: str, *, max_age_days: int) -> int | None:
    """The shipment id in a valid, unexpired token; None for anything else."""
    try:
        data = URLSafeTimedSerializer(secret, salt=LINK_SALT).loads(token, max_age=max_age_days * 86400)
    except (BadSignature, SignatureExpired):
        return None
    shipment_id = data.get("s") if isinstance(data, dict) else None
    return shipment_id if isinstance(shipment_id, int) else None
