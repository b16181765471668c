"""Issue 12 items 6 and 11 against the running processes (rasa, actions, web on free ports): a
picture-only MMS signed as Twilio signs it, REST conversation ids, and console replies seen in Rasa."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from bot.conversation.handoffs import create_handoff
from bot.core.models import Consent, Customer, OutboxMessage
from bot.core.runtime import Runtime
from bot.demo.outbox import new_sid
from bot.demo.sms_sim import send_as_customer
from bot.desk.agents import create_agent
from bot.processes.devstack import Stack
from tests.test_console import PASSWORD, _close_clients, login  # noqa: F401 - the autouse fixture closes clients

pytestmark = pytest.mark.e2e
HOSTILE_SENDER = "probe-xss/<img src=x onerror=alert(1)> a"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with Stack(Path(tmp_path_factory.mktemp("security-stack"))) as running:
        yield running


@pytest.fixture(scope="module")
def runtime(stack: Stack) -> Iterator[Runtime]:
    rt = Runtime.build(stack.settings)
    with rt.sessions() as session, session.begin():
        create_agent(session, email="sam@example.com", name="Sam", password=PASSWORD, role="agent")
    yield rt
    rt.engine.dispose()


def customers(runtime: Runtime) -> list[Customer]:
    with runtime.sessions() as session:
        return list(session.scalars(select(Customer).order_by(Customer.id.desc())).all())


def wait_for(condition: Callable[[], Any], seconds: float = 60.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def mms_form(runtime: Runtime, phone: str) -> dict[str, str]:
    """A picture-only MMS as Twilio posts it: `Body` is there, and blank."""
    s, sid = runtime.settings, new_sid().replace("SM", "MM", 1)
    return {"MessageSid": sid, "SmsSid": sid, "SmsMessageSid": sid, "AccountSid": s.sms_account_sid, "From": phone,
            "To": s.sms_from, "Body": "", "NumMedia": "1", "NumSegments": "1", "SmsStatus": "received",
            "MediaUrl0": f"https://api.twilio.com/2010-04-01/Accounts/{s.sms_account_sid}/Messages/{sid}/Media/ME1",
            "MediaContentType0": "image/jpeg", "ApiVersion": "2010-04-01"}


def post_signed(runtime: Runtime, form: dict[str, str], signed_over: dict[str, str]) -> httpx.Response:
    s = runtime.settings
    signature = RequestValidator(s.sms_auth_token).compute_signature(s.sms_webhook_url, signed_over)
    return httpx.post(s.sms_webhook_url, data=form, headers={"X-Twilio-Signature": signature}, timeout=30)


def outbound_to(runtime: Runtime, phone: str) -> list[str]:
    with runtime.sessions() as session:
        return list(session.scalars(select(OutboxMessage.body).where(OutboxMessage.to_address == phone,
                                                                     OutboxMessage.direction == "outbound")))


def events_of(runtime: Runtime, conversation_path: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{runtime.settings.rasa_url}/conversations/{conversation_path}/tracker",
                         params={"token": runtime.settings.rasa_token}, timeout=30)
    response.raise_for_status()
    return list(response.json().get("events") or [])


def test_a_picture_only_mms_signed_over_every_field_is_accepted_and_answered(runtime: Runtime) -> None:
    phone = customers(runtime)[0].phone
    form = mms_form(runtime, phone)
    assert post_signed(runtime, form, form).status_code == 204
    reply = wait_for(lambda: [b for b in outbound_to(runtime, phone) if "I can only read text" in b])
    assert reply == ["I can only read text. Please type your message, or reply AGENT for a person."]


def test_a_picture_during_a_handoff_is_logged_for_the_agent_and_the_bot_stays_silent(runtime: Runtime) -> None:
    phone = customers(runtime)[3].phone
    asked = send_as_customer(runtime, phone, "this is useless, i want to talk to a real person")
    assert any("A person will reply" in reply for reply in asked.replies)
    before = outbound_to(runtime, phone)
    form = mms_form(runtime, phone)
    assert post_signed(runtime, form, form).status_code == 204
    wait_for(lambda: any(e.get("event") == "user" and e.get("text") == "(picture)" for e in events_of(runtime, phone)))
    time.sleep(2)
    assert outbound_to(runtime, phone) == before  # nothing said over the agent


def test_a_tampered_or_partly_signed_mms_still_gets_403(runtime: Runtime) -> None:
    phone = customers(runtime)[1].phone
    form = mms_form(runtime, phone)
    assert post_signed(runtime, {**form, "NumMedia": "2"}, form).status_code == 403  # changed after signing
    assert post_signed(runtime, {**form, "Body": "hi"}, form).status_code == 403
    without_body = {k: v for k, v in form.items() if k != "Body"}
    assert post_signed(runtime, form, without_body).status_code == 403  # blank fields are signed too
    time.sleep(2)  # give a wrongly accepted message the time to be answered
    assert outbound_to(runtime, phone) == []


def test_a_signed_mms_with_a_nonsense_media_count_is_no_server_error(runtime: Runtime) -> None:
    phone = customers(runtime)[4].phone
    for count in ("9" * 5000, "\u00b2", "-1"):
        form = {**mms_form(runtime, phone), "NumMedia": count}
        assert post_signed(runtime, form, form).status_code == 204, count


def test_a_rest_sender_rasa_could_not_address_is_refused(runtime: Runtime) -> None:
    url = f"{runtime.settings.rasa_url}/webhooks/rest/webhook"
    refused = httpx.post(url, json={"sender": HOSTILE_SENDER, "message": "hello"}, timeout=30)
    assert refused.status_code == 400
    for path in (f"rest:{HOSTILE_SENDER}".replace(" ", "%20"), quote(f"rest:{HOSTILE_SENDER}", safe=":")):
        assert [e for e in events_of(runtime, path) if e.get("event") in ("user", "bot")] == []
    accepted = httpx.post(url, json={"sender": "probe-ok.1", "message": "hello"}, timeout=60)
    assert accepted.status_code == 200 and accepted.json()


def test_an_agents_reply_after_stop_is_in_the_transcript_marked_not_delivered(stack: Stack, runtime: Runtime) -> None:
    customer = customers(runtime)[2]
    with runtime.sessions() as session, session.begin():
        session.add(Consent(customer_id=customer.id, channel="sms", opted_out=True, source="keyword STOP"))
        handoff_id = create_handoff(session, channel="twilio", sender_id=customer.phone, reason="request",
                                    summary="customer: a person please", customer_id=customer.id, shipment_id=None).id
    web = SimpleNamespace(url=stack.settings.web_internal_url)
    client, csrf = login(web)  # type: ignore[arg-type]
    assert client.post(f"/agent/handoffs/{handoff_id}/claim", data={"csrf_token": csrf}).status_code == 303
    sent = client.post(f"/agent/handoffs/{handoff_id}/reply", data={"csrf_token": csrf, "text": "Hi, Sam here"})
    assert sent.headers["location"].endswith("?msg=not-delivered")
    bot_events = [e for e in events_of(runtime, customer.phone) if e.get("event") == "bot"]
    assert [(e["text"], e["metadata"].get("not_delivered")) for e in bot_events] == \
        [("Sam: Hi, Sam here", "the customer opted out of SMS (STOP)")]
    page = client.get(f"/agent/handoffs/{handoff_id}").text
    assert "Sam: Hi, Sam here <span class=\"notice small\">(not delivered: the customer opted out of SMS (STOP))" in page
    time.sleep(2)
    assert "Sam: Hi, Sam here" not in outbound_to(runtime, customer.phone)


def test_a_handoff_with_an_id_rasa_cannot_address_writes_into_no_other_conversation(
        stack: Stack, runtime: Runtime) -> None:
    """The probe's handoff 9: replies went to the ghost conversation `rest:probe-xss%2F%3Cimg…`."""
    conversation = f"rest:{HOSTILE_SENDER}"
    with runtime.sessions() as session, session.begin():
        handoff_id = create_handoff(session, channel="rest", sender_id=conversation, reason="request",
                                    summary="customer: help", customer_id=None, shipment_id=None).id
    client, csrf = login(SimpleNamespace(url=stack.settings.web_internal_url))  # type: ignore[arg-type]
    assert client.post(f"/agent/handoffs/{handoff_id}/claim", data={"csrf_token": csrf}).status_code == 303
    sent = client.post(f"/agent/handoffs/{handoff_id}/reply", data={"csrf_token": csrf, "text": "ghost?"})
    assert sent.headers["location"].endswith("?msg=unaddressable")
    ghost = quote(conversation, safe="+:@")  # how the console used to address it
    assert [e for e in events_of(runtime, ghost) if e.get("event") == "bot"] == []
