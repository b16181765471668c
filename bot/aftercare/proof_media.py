"""The proof-of-delivery photo as a message attachment: a signed URL that works for one hour.

Twilio fetches `MediaUrl` when it sends the message, so the link only has to live that long; it is
not the tracking link (which lasts weeks), names one shipment, and opens nothing but the photo.
Media goes where the channel takes it: WhatsApp, and MMS to US and Canadian numbers (+1); a plain SMS
elsewhere carries the link to the tracking page instead.
"""

from __future__ import annotations

from datetime import datetime

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.orm import object_session

from bot.aftercare.proof import PHOTO_TYPES, proof_of
from bot.core.models import Shipment
from bot.core.settings import Settings

MEDIA_SALT = "proof-media"
MEDIA_MAX_AGE_SECONDS = 3600


def media_allowed(channel: str, to: str) -> bool:
    """WhatsApp takes pictures; an SMS number only when it is MMS-capable (US and Canada)."""
    return channel == "whatsapp" or (channel == "sms" and to.startswith("+1"))


def make_media_token(secret: str, shipment_id: int) -> str:
    return URLSafeTimedSerializer(secret, salt=MEDIA_SALT).dumps({"p": shipment_id})


def read_media_token(secret: str, token: str, *, max_age_seconds: int = MEDIA_MAX_AGE_SECONDS) -> int | None:
    """The shipment id of a valid token younger than `max_age_seconds`; None for anything else."""
    try:
        data = URLSafeTimedSerializer(secret, salt=MEDIA_SALT).loads(token, max_age=max_age_seconds)
    except (BadSignature, SignatureExpired):
        return None
    shipment_id = data.get("p") if isinstance(data, dict) else None
    return shipment_id if isinstance(shipment_id, int) else None


def proof_photo_url(settings: Settings, shipment: Shipment, trigger: str, now: datetime) -> str | None:
    """The signed URL of the driver's photo for a `delivered` message, when the carrier gave one."""
    if trigger != "delivered":
        return None
    session = object_session(shipment)
    proof = proof_of(session, shipment.id) if session is not None else None
    if proof is None or not proof.photo or proof.photo_format not in PHOTO_TYPES:
        return None
    token = make_media_token(settings.link_secret, shipment.id)
    return f"{settings.public_base_url.rstrip('/')}/m/{token}/proof.{proof.photo_format}"
