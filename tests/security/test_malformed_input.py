"""Malformed outside input (issue 12, item 9): ids too big for the database, page sizes that are not
numbers, impossible times and JSON nested past the parser's stack get a clear 4xx and change nothing,
never a 500."""

from __future__ import annotations

import json
import logging
import time
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from bot.core.db import transaction
from bot.core.models import Customer, Handoff, Notification, OutboxMessage, ShipmentEvent
from bot.core.runtime import Runtime
from bot.demo.outbox import record
from bot.notify.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, outbox_sign
from bot.web.webhooks import sign
from tests.conftest import T0
from tests.test_console import login, open_handoff
from tests.test_web import LiveServer

TOO_BIG = "99999999999999999999999"
TOO_NEGATIVE = "-182010431149758377942721757184"  # what schemathesis found in the attack probe
OUT_OF_RANGE = [TOO_BIG, TOO_NEGATIVE, str(2**63)]


def assert_client_error(response: httpx.Response) -> None:
    assert 400 <= response.status_code < 500, (response.request.method, response.request.url, response.status_code,
                                               response.text[:300])
    assert "Internal Server Error" not in response.text


def test_outbox_and_mailbox_ids_out_of_range_get_a_4xx(live: LiveServer) -> None:
    for value in OUT_OF_RANGE:
        assert_client_error(httpx.get(f"{live.url}/api/outbox", params={"after": value}))
        assert_client_error(httpx.get(f"{live.url}/api/outbox", params={"after": value, "to": "+4915120000001"}))
        assert_client_error(httpx.get(f"{live.url}/demo/mailbox/{value}"))
    assert_client_error(httpx.get(f"{live.url}/api/outbox", params={"after": "-1"}))
    assert httpx.get(f"{live.url}/api/outbox", params={"after": "0"}).status_code == 200


def test_console_and_ops_ids_out_of_range_get_a_4xx_and_claim_nothing(live: LiveServer, world: Runtime) -> None:
    handoff_id = open_handoff(world)
    client, csrf = login(live)
    for value in [*OUT_OF_RANGE, "-1", "0"]:
        assert_client_error(client.get(f"/ops/notifications/{value}"))
        assert_client_error(client.get("/ops/notifications", params={"before": value}))
        assert_client_error(client.get(f"/agent/handoffs/{value}"))
        assert_client_error(client.post(f"/agent/handoffs/{value}/claim", data={"csrf_token": csrf}))
        for action, form in [("reply", {"text": "hello"}), ("close", {}), ("change", {"kind": "instructions"})]:
            assert_client_error(client.post(f"/agent/handoffs/{value}/{action}", data={"csrf_token": csrf, **form}))
    with world.sessions() as session:
        assert session.get(Handoff, handoff_id).status == "open"  # nothing was claimed


def _outbox_messages(live: LiveServer, **params: str) -> httpx.Response:
    s = live.app.state.runtime.settings
    return httpx.get(f"{live.url}/outbox/twilio/2010-04-01/Accounts/{s.outbox_account_sid}/Messages.json",
                     params=params, auth=(s.outbox_account_sid, s.outbox_auth_token))


def test_the_outbox_message_list_takes_a_page_size_of_1_to_1000_only(live: LiveServer, world: Runtime) -> None:
    with transaction(world.sessions) as session:
        phone = session.scalars(select(Customer.phone)).first()
        for n in range(3):
            record(session, channel="sms", to=phone, sender="+4930901820", body=f"message {n}")
    for page_size in ("abc", "-5", "0", "1001", TOO_BIG, "1.5"):
        answer = _outbox_messages(live, PageSize=page_size)
        assert_client_error(answer)
        assert "PageSize" in answer.text  # the message names what is wrong
    one = _outbox_messages(live, PageSize="1")
    assert one.status_code == 200 and [m["body"] for m in one.json()["messages"]] == ["message 2"]
    default = _outbox_messages(live)
    assert default.status_code == 200 and len(default.json()["messages"]) == 3


def _signed_carrier_post(live: LiveServer, raw: bytes) -> httpx.Response:
    signature = sign(live.app.state.runtime.settings.carrier_webhook_secret, raw)
    return httpx.post(f"{live.url}/webhooks/carriers/sandbox", content=raw,
                      headers={"X-Doorstep-Signature": signature, "Content-Type": "application/json"}, timeout=30)


def _event_count(world: Runtime) -> int:
    with world.sessions() as session:
        return session.scalar(select(func.count()).select_from(ShipmentEvent)) or 0


@pytest.mark.parametrize("field", ["occurred_at", "eta_start"])
@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "9999-12-31T23:00:00+00:00"])
def test_signed_carrier_events_at_impossible_times_get_a_4xx(live: LiveServer, world: Runtime, field: str,
                                                            moment: str) -> None:
    with world.sessions() as session:
        number = session.scalars(select(Customer)).first().shipments[0].tracking_number
    before = _event_count(world)
    event = {"event_id": f"odd-{field}-{moment}", "tracking_number": number, "status": "at_depot",
             "occurred_at": (T0 + timedelta(hours=1)).isoformat(),
             "eta_start": (T0 + timedelta(hours=2)).isoformat(), "eta_end": (T0 + timedelta(hours=3)).isoformat()}
    answer = _signed_carrier_post(live, json.dumps({**event, field: moment}).encode())
    assert_client_error(answer)
    assert field in answer.text
    assert _event_count(world) == before
    # The same event at a real time is taken: the refusal was about the time alone.
    assert _signed_carrier_post(live, json.dumps(event).encode()).json()["outcome"] == "applied"


def test_a_signed_body_nested_past_the_parser_stack_gets_a_4xx(live: LiveServer, world: Runtime) -> None:
    before = _event_count(world)
    for raw in (b"[" * 20_000 + b"]" * 20_000, b'{"a":' * 10_000 + b"1" + b"}" * 10_000):
        assert_client_error(_signed_carrier_post(live, raw))
    s = live.app.state.runtime.settings
    body = "[" * 20_000 + "]" * 20_000
    stamp = str(int(time.time()))
    assert_client_error(httpx.post(f"{live.url}/webhooks/sendgrid/events", content=body, headers={
        SIGNATURE_HEADER: outbox_sign(s.outbox_auth_token, stamp, body), TIMESTAMP_HEADER: stamp}))
    assert_client_error(httpx.post(f"{live.url}/outbox/sendgrid/v3/mail/send", content=body,
                                   headers={"Authorization": f"Bearer {s.outbox_auth_token}"}))
    assert _event_count(world) == before


def test_signed_delivery_reports_for_ids_out_of_range_get_a_4xx(live: LiveServer, world: Runtime) -> None:
    s = live.app.state.runtime.settings
    url = f"{s.twilio_status_callback_url}?n={TOO_BIG}"
    form = {"MessageSid": "SM" + "1" * 32, "MessageStatus": "delivered", "AccountSid": s.outbox_account_sid}
    signature = RequestValidator(s.sms_auth_token).compute_signature(url, form)
    assert_client_error(httpx.post(f"{live.url}/webhooks/twilio/status?n={TOO_BIG}", data=form,
                                   headers={"X-Twilio-Signature": signature}))
    body = json.dumps([{"event": "delivered", "notification_id": TOO_BIG, "sg_message_id": "x.outbox"}])
    stamp = str(int(time.time()))
    answer = httpx.post(f"{live.url}/webhooks/sendgrid/events", content=body, headers={
        SIGNATURE_HEADER: outbox_sign(s.outbox_auth_token, stamp, body), TIMESTAMP_HEADER: stamp})
    assert answer.status_code < 500, answer.text  # an event for mail we never sent is skipped, as SendGrid expects
    with world.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Notification)) == 0


def test_an_unexpected_error_is_logged_and_answered_without_details(world: Runtime,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    server = LiveServer(world.settings)

    @server.app.get("/__boom", include_in_schema=False)
    def boom() -> None:
        raise RuntimeError("secret internals: token=abc123")

    server_log = logging.getLogger("uvicorn.error")  # where the web process logs a failed request
    server_log.addHandler(caplog.handler)
    try:
        with server:
            answer = httpx.get(f"{server.url}/__boom")
            assert answer.status_code == 500
            assert "secret" not in answer.text and "abc123" not in answer.text and "Traceback" not in answer.text
            deadline = time.monotonic() + 10
            while "secret internals: token=abc123" not in caplog.text:  # the traceback, in the log only
                assert time.monotonic() < deadline, "the exception was not logged"
                time.sleep(0.05)
    finally:
        server_log.removeHandler(caplog.handler)
    with world.sessions() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_the_demo_phone_says_the_bot_is_unreachable_instead_of_failing(live: LiveServer, world: Runtime) -> None:
    with world.sessions() as session:
        phone = session.scalars(select(Customer.phone)).first()
    answer = httpx.post(f"{live.url}/demo/phone/{phone}", data={"text": "where is my parcel"})  # no Rasa here
    assert answer.status_code == 503 and "bot" in answer.json()["detail"]


def test_a_rest_carrier_timestamp_in_other_digits_gets_a_4xx(world: Runtime) -> None:
    rest = world.settings.model_copy(update={"carriers": "rest", "rest_carrier_base_url": "http://127.0.0.1:9",
                                             "rest_carrier_api_key": "key", "rest_carrier_webhook_secret": "secret"})
    with LiveServer(rest) as server:
        for stamp in ("²", "1²³"):  # str.isdigit() says yes, int() says no (headers arrive as Latin-1)
            answer = httpx.post(f"{server.url}/webhooks/rest-carrier", content=b"{}", headers={
                "X-Doorstep-Timestamp": stamp.encode("latin-1"), "X-Doorstep-Signature": "sha256=00"})
            assert_client_error(answer)
