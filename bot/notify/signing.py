"""SendGrid's signed event webhook: ECDSA P-256 over timestamp + body, verified with SendGrid's
library. The outbox signs its own events with a key derived from its token, so the same check runs
locally and in production."""

from __future__ import annotations

import base64
import hashlib
import time
from functools import lru_cache

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sendgrid.helpers.eventwebhook import EventWebhook

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
# A signed event is taken only this far ahead of our clock (clock skew); how old it may be is a setting.
MAX_EVENT_CLOCK_SKEW_SECONDS = 300
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


@lru_cache(maxsize=4)
def _outbox_key(secret: str) -> ec.EllipticCurvePrivateKey:
    scalar = int.from_bytes(hashlib.sha256(b"doorstep-outbox-events:" + secret.encode()).digest()) % (_P256_ORDER - 1) + 1
    return ec.derive_private_key(scalar, ec.SECP256R1())


def outbox_public_key(secret: str) -> str:
    der = _outbox_key(secret).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def outbox_sign(secret: str, timestamp: str, body: str) -> str:
    signature = _outbox_key(secret).sign((timestamp + body).encode(), ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(signature).decode()


def verify_event_webhook(public_key: str, body: str, signature: str, timestamp: str) -> bool:
    if not (public_key and signature and timestamp):
        return False
    try:
        return bool(EventWebhook(public_key).verify_signature(body, signature, timestamp))
    except (ValueError, TypeError):  # malformed key or signature encoding
        return False


def timestamp_is_fresh(timestamp: str, *, max_age_seconds: float, now: float | None = None) -> bool:
    """The signed timestamp (unix seconds, real time) is recent: a replayed old event is refused even if signed."""
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
        return False
    now = time.time() if now is None else now
    return now - max_age_seconds <= int(timestamp) <= now + MAX_EVENT_CLOCK_SKEW_SECONDS
