"""A carrier STOP (or START) sent while an agent has the conversation is binding (the attacker's
re-test of issue 12): recorded, confirmed once, and the bot otherwise stays out of the agent's way.
Against the running processes (rasa, actions, web on free ports), with SMS signed as Twilio signs them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bot.core.clock import sim_now
from bot.core.models import Consent, Customer, Handoff, Notification, OutboxMessage
from bot.core.runtime import Runtime
from bot.demo.outbox import new_sid
from bot.demo.sms_sim import signed_inbound
from bot.desk.agents import create_agent
from bot.notify.dispatch import Dispatcher, DispatchReport
from bot.notify.providers import email_sender, sms_sender
from bot.notify.rules import load_rules
from bot.processes.devstack import Stack
from tests.test_console import PASSWORD, _close_clients, login  # noqa: F401 - the autouse fixture closes clients

pytestmark = pytest.mark.e2e
OPTED_OUT = "OK, you won't get more texts from us. Reply START to undo."
BACK = "Welcome back: delivery texts are on again. Reply STOP to stop."
NOT_DELIVERED = "the customer opted out of SMS (STOP)"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with Stack(Path(tmp_path_factory.mktemp("stop-stack"))) as running:
        yield running


@pytest.fixture(scope="module")
def runtime(stack: Stack) -> Iterator[Runtime]:
    rt = Runtime.build(stack.settings)
    with rt.sessions() as session, session.begin():
        create_agent(session, email="sam@example.com", name="Sam", password=PASSWORD, role="agent")
    yield rt
    rt.engine.dispose()


def customer_with_a_parcel(runtime: Runtime, index: int) -> Customer:
    with runtime.sessions() as session:
        found = [c for c in session.scalars(select(Customer).order_by(Customer.id)) if c.phone and c.shipments]
        return found[index]


def wait_for(condition: Callable[[], Any], seconds: float = 90.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def tracker(runtime: Runtime, phone: str) -> dict[str, Any]:
    response = httpx.get(f"{runtime.settings.rasa_url}/conversations/{phone}/tracker",
                         params={"token": runtime.settings.rasa_token}, timeout=30)
    response.raise_for_status()
    return dict(response.json())


def text(runtime: Runtime, phone: str, body: str) -> list[dict[str, Any]]:
    """Send a signed SMS; once Rasa saved the turn (after sending its replies), the events it added."""
    before = len(tracker(runtime, phone).get("events") or [])
    sid = new_sid()
    form, signature = signed_inbound(runtime, phone, body, sid)
    sent = httpx.post(runtime.settings.sms_webhook_url, data=form, headers={"X-Twilio-Signature": signature},
                      timeout=30)
    assert sent.status_code == 204
    wait_for(lambda: any(e.get("message_id") == sid for e in tracker(runtime, phone).get("events") or []))
    return list(tracker(runtime, phone).get("events") or [])[before:]


def outbound_to(runtime: Runtime, phone: str) -> list[str]:
    with runtime.sessions() as session:
        return list(session.scalars(select(OutboxMessage.body).where(OutboxMessage.to_address == phone,
                                                                     OutboxMessage.direction == "outbound")
                                    .order_by(OutboxMessage.id)))


def sms_consent(runtime: Runtime, customer_id: int) -> list[tuple[bool, str]]:
    with runtime.sessions() as session:
        return [(c.opted_out, c.source) for c in session.scalars(
            select(Consent).where(Consent.customer_id == customer_id, Consent.channel == "sms"))]


def handed_over(runtime: Runtime, customer: Customer) -> int:
    """A handoff opened over SMS, as the customer opens one; its id."""
    events = text(runtime, customer.phone, "I want to talk to a person")
    assert any("A person will reply" in (e.get("text") or "") for e in events if e.get("event") == "bot")
    assert tracker(runtime, customer.phone)["paused"]
    with runtime.sessions() as session:
        handoff_id = session.scalar(select(Handoff.id).where(Handoff.sender_id == customer.phone,
                                                             Handoff.status != "closed"))
    assert handoff_id is not None
    return handoff_id


def agent_replies(stack: Stack, handoff_id: int, words: str) -> tuple[httpx.Response, str]:
    """Sam claims the handoff and replies; the redirect and the handoff page after it."""
    client, csrf = login(SimpleNamespace(url=stack.settings.web_internal_url))  # type: ignore[arg-type]
    assert client.post(f"/agent/handoffs/{handoff_id}/claim", data={"csrf_token": csrf}).status_code == 303
    sent = client.post(f"/agent/handoffs/{handoff_id}/reply", data={"csrf_token": csrf, "text": words})
    assert sent.status_code == 303
    return sent, client.get(f"/agent/handoffs/{handoff_id}").text


def dispatcher_decides(runtime: Runtime, customer: Customer) -> str:
    """An automated SMS for this customer, due now, through the dispatcher's decision: its status."""
    with runtime.sessions() as session, session.begin():
        now = sim_now(session)
        row = Notification(customer_id=customer.id, shipment_id=customer.shipments[0].id, trigger="delayed",
                           channel="sms", template="delayed", locale="en", to_address=customer.phone,
                           dedupe_key=f"test-stop-during-handoff:{customer.id}:sms", due_at=now)
        session.add(row)
        session.flush()
        row_id = row.id

    async def decide() -> int:
        sms, email = sms_sender(runtime.settings), email_sender(runtime.settings)
        dispatcher = Dispatcher(runtime.sessions, runtime.settings, load_rules(), sms=sms, email=email, worker="test")
        try:
            return len(dispatcher.decide([row_id], now, DispatchReport()))
        finally:
            await sms.close()
            await email.close()

    jobs = asyncio.run(decide())
    with runtime.sessions() as session:
        status = session.get(Notification, row_id).status  # type: ignore[union-attr]
    return f"{status} jobs={jobs}"


def test_stop_during_a_handoff_is_recorded_confirmed_once_and_the_agent_keeps_the_conversation(
        stack: Stack, runtime: Runtime) -> None:
    customer = customer_with_a_parcel(runtime, 0)
    handoff_id = handed_over(runtime, customer)
    assert sms_consent(runtime, customer.id) == []
    before = outbound_to(runtime, customer.phone)

    events = text(runtime, customer.phone, "STOP")
    assert sms_consent(runtime, customer.id) == [(True, "twilio: STOP")]
    assert outbound_to(runtime, customer.phone)[len(before):] == [OPTED_OUT]  # one confirmation, nothing else
    assert [e["text"] for e in events if e.get("event") == "bot"] == [OPTED_OUT]
    assert tracker(runtime, customer.phone)["paused"]  # the agent still has it

    later = text(runtime, customer.phone, "hello")
    assert [e for e in later if e.get("event") in ("bot", "action")] == []  # the bot stays quiet
    assert outbound_to(runtime, customer.phone)[len(before):] == [OPTED_OUT]

    sent, page = agent_replies(stack, handoff_id, "Hi, Sam here")
    assert sent.headers["location"].endswith("?msg=not-delivered")
    assert f"Sam: Hi, Sam here <span class=\"notice small\">(not delivered: {NOT_DELIVERED})" in page
    agent_lines = [e for e in tracker(runtime, customer.phone)["events"]
                   if e.get("event") == "bot" and (e.get("metadata") or {}).get("agent")]
    assert [(e["text"], e["metadata"].get("not_delivered")) for e in agent_lines] == \
        [("Sam: Hi, Sam here", NOT_DELIVERED)]
    assert outbound_to(runtime, customer.phone)[len(before):] == [OPTED_OUT]  # the agent's words were not sent

    assert dispatcher_decides(runtime, customer) == "blocked jobs=0"  # automated SMS are blocked too


def test_start_during_a_handoff_subscribes_again_and_the_agents_reply_goes_out(
        stack: Stack, runtime: Runtime) -> None:
    customer = customer_with_a_parcel(runtime, 1)
    handoff_id = handed_over(runtime, customer)
    before = outbound_to(runtime, customer.phone)
    text(runtime, customer.phone, "Stop")
    assert sms_consent(runtime, customer.id) == [(True, "twilio: Stop")]

    events = text(runtime, customer.phone, "START")
    assert sms_consent(runtime, customer.id) == [(False, "twilio: START")]
    assert [e["text"] for e in events if e.get("event") == "bot"] == [BACK]
    assert outbound_to(runtime, customer.phone)[len(before):] == [OPTED_OUT, BACK]
    assert tracker(runtime, customer.phone)["paused"]

    sent, _ = agent_replies(stack, handoff_id, "Hi, Sam here")
    assert not sent.headers["location"].endswith("?msg=not-delivered")
    assert outbound_to(runtime, customer.phone)[len(before):] == [OPTED_OUT, BACK, "Sam: Hi, Sam here"]
