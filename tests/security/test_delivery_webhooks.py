"""Issue 12 items 10 and 6 (web side): provider status webhooks.

SendGrid events are signed as SendGrid signs them (ECDSA P-256 over timestamp + body, our own key
pair configured as the verification key); a correctly signed but stale or future event is refused
and changes nothing. Twilio status callbacks are signed over every field, blank ones included.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from bot.core.models import Customer, Notification
from bot.core.runtime import Runtime
from bot.notify.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, timestamp_is_fresh
from tests import worlds
from tests.conftest import T0, make_settings
from tests.test_web import LiveServer

SENDGRID_KEY = ec.generate_private_key(ec.SECP256R1())
SENDGRID_PUBLIC_KEY = base64.b64encode(SENDGRID_KEY.public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
YEAR_2010 = 1262304000


def sendgrid_headers(body: str, timestamp: int) -> dict[str, str]:
    signature = SENDGRID_KEY.sign((str(timestamp) + body).encode(), ec.ECDSA(hashes.SHA256()))
    return {"Content-Type": "application/json", SIGNATURE_HEADER: base64.b64encode(signature).decode(),
            TIMESTAMP_HEADER: str(timestamp)}


@pytest.fixture
def world(sqlite_runtime: Runtime) -> Runtime:
    worlds.load_world(sqlite_runtime, world_speed=30, built_at=T0)
    return sqlite_runtime


@pytest.fixture
def live(world: Runtime) -> Iterator[LiveServer]:
    settings = make_settings(world.settings.database_url, email_provider="sendgrid", sendgrid_api_key="SG.test",
                             sendgrid_webhook_public_key=SENDGRID_PUBLIC_KEY)
    with LiveServer(settings) as server:
        yield server


def sent_notification(runtime: Runtime, channel: str, provider_id: str | None = None) -> int:
    with runtime.sessions() as session, session.begin():
        customer = session.scalars(select(Customer).order_by(Customer.id)).first()
        assert customer is not None
        row = Notification(customer_id=customer.id, trigger="shipped", channel=channel, template="shipped",
                           locale="en", to_address=customer.email if channel == "email" else customer.phone,
                           dedupe_key=f"probe:{channel}", status="sent", provider_id=provider_id)
        session.add(row)
        session.flush()
        return row.id


def status_of(runtime: Runtime, row_id: int) -> str:
    with runtime.sessions() as session:
        row = session.get(Notification, row_id)
        assert row is not None
        return row.status


def test_a_signed_sendgrid_event_with_an_old_or_future_timestamp_is_refused(live: LiveServer, world: Runtime) -> None:
    row_id = sent_notification(world, "email")
    url = f"{live.url}/webhooks/sendgrid/events"
    body = json.dumps([{"event": "bounce", "notification_id": str(row_id), "reason": "replayed"}])
    for timestamp in (YEAR_2010, int(time.time()) - 3600, int(time.time()) + 3600):
        response = httpx.post(url, content=body, headers=sendgrid_headers(body, timestamp))
        assert response.status_code == 403, timestamp
        assert status_of(world, row_id) == "sent"  # nothing changed
    # The same event signed now is taken: the signing above is SendGrid's, only the time was wrong.
    fresh = httpx.post(url, content=body, headers=sendgrid_headers(body, int(time.time())))
    assert fresh.status_code == 200
    assert status_of(world, row_id) == "bounced"


def test_a_sendgrid_timestamp_that_is_not_a_number_is_refused(live: LiveServer, world: Runtime) -> None:
    row_id = sent_notification(world, "email")
    body = json.dumps([{"event": "delivered", "notification_id": str(row_id)}])
    headers = sendgrid_headers(body, int(time.time()))
    signature = SENDGRID_KEY.sign(("1e9" + body).encode(), ec.ECDSA(hashes.SHA256()))
    headers.update({TIMESTAMP_HEADER: "1e9", SIGNATURE_HEADER: base64.b64encode(signature).decode()})
    assert httpx.post(f"{live.url}/webhooks/sendgrid/events", content=body, headers=headers).status_code == 403
    assert status_of(world, row_id) == "sent"


@pytest.mark.parametrize("timestamp", ["\u00b2", "1e9", "-1", "9" * 40, ""])
def test_a_timestamp_that_is_not_plain_unix_seconds_is_not_fresh(timestamp: str) -> None:
    assert not timestamp_is_fresh(timestamp, max_age_seconds=600)


def test_a_twilio_status_callback_with_blank_fields_is_checked_over_all_of_them(live: LiveServer, world: Runtime) -> None:
    """Twilio signs every field it sends, blank ones included: they must not be dropped before the check."""
    sid = "SM" + "1" * 32
    row_id = sent_notification(world, "sms", provider_id=sid)
    settings = live.app.state.runtime.settings
    url = f"{settings.twilio_status_callback_url}?n={row_id}"
    form = {"MessageSid": sid, "SmsSid": sid, "MessageStatus": "delivered", "ErrorCode": "", "ChannelPrefix": "",
            "To": "+4915120000001", "From": settings.sms_from, "ApiVersion": "2010-04-01"}
    signature = RequestValidator(settings.sms_auth_token).compute_signature(url, form)
    target = f"{live.url}/webhooks/twilio/status?n={row_id}"
    tampered = {**form, "ErrorCode": "30003"}
    assert httpx.post(target, data=tampered, headers={"X-Twilio-Signature": signature}).status_code == 403
    assert status_of(world, row_id) == "sent"
    assert httpx.post(target, data=form, headers={"X-Twilio-Signature": signature}).status_code == 204
    assert status_of(world, row_id) == "delivered"
