"""Issue 12 item 11: agent console edge cases, over HTTP against the real web app (no Rasa here; the
same cases against a running Rasa are in test_rasa_channel_edges.py)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from bot.conversation.handoffs import create_handoff
from bot.conversation.rasa_api import RasaAPI, UnaddressableConversation
from bot.core.models import AuditLog, Consent, Customer, OutboxMessage
from bot.core.runtime import Runtime
from tests.test_console import PASSWORD, _close_clients, login  # noqa: F401 - the autouse fixture closes clients
from tests.test_web import LiveServer

HOSTILE_ID = "rest:probe-xss/<img src=x onerror=alert(1)> a"


def opted_out_sms_handoff(runtime: Runtime) -> tuple[int, str]:
    """A customer who texted STOP, then asked for a person on SMS."""
    with runtime.sessions() as session, session.begin():
        customer = session.scalars(select(Customer).order_by(Customer.id)).first()
        assert customer is not None
        session.add(Consent(customer_id=customer.id, channel="sms", opted_out=True, source="keyword STOP"))
        handoff = create_handoff(session, channel="twilio", sender_id=customer.phone, reason="request",
                                 summary="customer: a person please", customer_id=customer.id, shipment_id=None)
        return handoff.id, customer.phone


def rest_handoff(runtime: Runtime, sender_id: str) -> int:
    with runtime.sessions() as session, session.begin():
        return create_handoff(session, channel="rest", sender_id=sender_id, reason="request",
                              summary="customer: help", customer_id=None, shipment_id=None).id


def audit_actions(runtime: Runtime, handoff_id: int) -> list[str]:
    with runtime.sessions() as session:
        return list(session.scalars(select(AuditLog.action).where(AuditLog.entity_id == str(handoff_id))
                                    .order_by(AuditLog.id)))


def test_json_routes_without_a_login_answer_401_and_pages_still_go_to_the_login(live: LiveServer) -> None:
    for path in ("/agent/queue.json", "/agent/dashboard.json"):
        response = httpx.get(live.url + path, follow_redirects=False)
        assert response.status_code == 401, path
        assert response.json() == {"detail": "login required"}
    api_client = httpx.get(f"{live.url}/agent", headers={"Accept": "application/json"}, follow_redirects=False)
    assert api_client.status_code == 401
    browser = httpx.get(f"{live.url}/agent/dashboard", follow_redirects=False,
                        headers={"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"})
    assert browser.status_code == 303 and browser.headers["location"] == "/agent/login?next=/agent/dashboard"


def test_a_reply_to_a_customer_who_sent_stop_is_shown_as_not_delivered(live: LiveServer, world: Runtime) -> None:
    handoff_id, phone = opted_out_sms_handoff(world)
    client, csrf = login(live)
    queue = client.get("/agent/queue.json").json()
    assert [i["not_delivered"] for i in queue if i["id"] == handoff_id] == ["the customer opted out of SMS (STOP)"]
    assert client.post(f"/agent/handoffs/{handoff_id}/claim", data={"csrf_token": csrf}).status_code == 303
    page = client.get(f"/agent/handoffs/{handoff_id}")
    assert "Your replies are not delivered: the customer opted out of SMS (STOP)" in page.text  # before typing

    sent = client.post(f"/agent/handoffs/{handoff_id}/reply", data={"csrf_token": csrf, "text": "Hi, Sam here"})
    assert sent.status_code == 303
    assert sent.headers["location"] == f"/agent/handoffs/{handoff_id}?msg=not-delivered"
    after = client.get(sent.headers["location"])
    assert "Not delivered: the customer opted out of SMS (STOP). Nothing was sent." in after.text
    assert audit_actions(world, handoff_id)[-1] == "handoff.reply_not_delivered"
    with world.sessions() as session:
        assert session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == phone)).all() == []


def test_a_conversation_id_rasa_cannot_address_is_refused_not_sent_elsewhere(live: LiveServer, world: Runtime) -> None:
    handoff_id = rest_handoff(world, HOSTILE_ID)
    client, csrf = login(live)
    assert client.post(f"/agent/handoffs/{handoff_id}/claim", data={"csrf_token": csrf}).status_code == 303
    page = client.get(f"/agent/handoffs/{handoff_id}")
    assert "Transcript unavailable: the conversation id has characters Rasa&#39;s API cannot address" in page.text
    assert "<img src=x" not in page.text
    sent = client.post(f"/agent/handoffs/{handoff_id}/reply", data={"csrf_token": csrf, "text": "hello"})
    assert sent.headers["location"] == f"/agent/handoffs/{handoff_id}?msg=unaddressable"
    assert "this conversation&#39;s id has characters Rasa&#39;s API cannot address" in client.get(sent.headers["location"]).text
    assert audit_actions(world, handoff_id)[-1] == "handoff.reply_failed"


@pytest.mark.parametrize("conversation_id", [HOSTILE_ID, "rest:a/b", "rest:a b", "rest:a%2Fb", "web:<x>", ""])
def test_ids_that_would_change_in_a_url_never_reach_rasa(conversation_id: str, world: Runtime) -> None:
    """Rasa does not unquote ids in paths: an escaped id would be another conversation, so none is sent."""
    rasa = RasaAPI(world.settings)
    with pytest.raises(UnaddressableConversation):
        rasa._url(conversation_id, "tracker")


@pytest.mark.parametrize("conversation_id", ["+4915120000001", "web:0f3c9a2b7d", "rest:probe-1_a.b@x"])
def test_ids_our_channels_make_are_sent_as_they_are(conversation_id: str, world: Runtime) -> None:
    url = RasaAPI(world.settings)._url(conversation_id, "tracker")
    assert url == f"{world.settings.rasa_url}/conversations/{conversation_id}/tracker"
