"""An agent's reply in a WhatsApp conversation, over HTTP through the console, with the real twilio library
against the app's own outbox (which refuses free text outside WhatsApp's 24-hour window with 63016, as
Twilio does) and a stand-in for Rasa's HTTP API that records what the console asked of it."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import yaml
from sqlalchemy import select

from bot.carriers.sandbox.world import build_world
from bot.conversation.consent import set_opt_out
from bot.conversation.handoffs import create_handoff
from bot.core.clock import start_clock
from bot.core.models import AuditLog, Customer, Handoff, Notification, OutboxMessage, Shipment, utcnow
from bot.core.runtime import Runtime
from bot.core.settings import ROOT
from bot.demo.outbox import record
from bot.desk.agents import create_agent
from bot.notify.agent_reply import MAX_TEMPLATE_TEXT, plan_reply
from bot.notify.service import run_pass
from bot.notify.whatsapp_templates import load_templates
from bot.text import t
from tests.conftest import T0
from tests.test_console import PASSWORD, _close_clients, login  # noqa: F401 - the autouse fixture closes clients
from tests.test_web import LiveServer

WORDS = "Your parcel is at the depot.\nI've asked the driver to call you before he comes."
ONE_LINE = "Your parcel is at the depot. I've asked the driver to call you before he comes."


class FakeRasa:
    """Rasa's HTTP API as the console uses it: an empty tracker, and every events POST recorded."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, list[str]], list[dict[str, Any]]]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._answer({"events": []})

            def do_POST(self) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                fake.posts.append((url.path, parse_qs(url.query), json.loads(self.rfile.read(length) or b"[]")))
                self._answer({})

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeRasa:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def world(sqlite_runtime: Runtime) -> Runtime:
    with sqlite_runtime.sessions() as session, session.begin():
        build_world(session, seed=7, speed=30, now=T0)
        start_clock(session, sim_start=T0 + timedelta(hours=8), speed=1.0, at=utcnow())  # 15:00 in Berlin
        create_agent(session, email="sam@example.com", name="Sam", password=PASSWORD, role="agent")
    return sqlite_runtime


@pytest.fixture
def rasa() -> Iterator[FakeRasa]:
    with FakeRasa() as fake:
        yield fake


@pytest.fixture
def no_reply_template(tmp_path: Path) -> str:
    """A copy of the templates file without the agent's reply (as an operator who has not had it approved)."""
    data = yaml.safe_load((ROOT / "config" / "whatsapp_templates.yml").read_text())
    del data["templates"]["agent_reply"]
    path = tmp_path / "whatsapp_templates.yml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def live(world: Runtime, rasa: FakeRasa, **settings: Any) -> LiveServer:
    return LiveServer(world.settings.model_copy(update=settings), rasa_url=rasa.url)


def whatsapp_handoff(runtime: Runtime, *, opted_in: bool = True, wrote_hours_ago: float | None = None) -> tuple[int, str]:
    """A claimed-to-be WhatsApp handoff of the first customer with a parcel; its sender `whatsapp:+…`."""
    settings = runtime.settings
    with runtime.sessions() as session, session.begin():
        shipment = session.scalars(select(Shipment).order_by(Shipment.id)).first()
        assert shipment is not None and shipment.customer.phone
        customer = shipment.customer
        customer.locale = "en"
        sender = f"whatsapp:{customer.phone}"
        if opted_in:
            assert set_opt_out(session, customer_id=customer.id, channel="whatsapp", opted_out=False,
                               source="whatsapp: START")
        if wrote_hours_ago is not None:  # Twilio's log (the outbox's) has the customer's message, in real time
            message = record(session, channel="whatsapp", to=settings.outbox_whatsapp_from, sender=sender,
                             body="can someone call me", direction="inbound")
            message.created_at = utcnow() - timedelta(hours=wrote_hours_ago)
        handoff = create_handoff(session, channel="twilio", sender_id=sender, reason="request",
                                 summary="Reason: asked for a person\ncustomer: can someone call me  [talk_to_human]",
                                 customer_id=customer.id, shipment_id=shipment.id)
        return handoff.id, sender


def claim_and_reply(server: LiveServer, handoff_id: int, text: str) -> tuple[httpx.Client, httpx.Response]:
    """Sam claims the conversation and replies; the client (to read the page it is sent to) and the answer."""
    client, csrf = login(server)
    client.timeout = httpx.Timeout(60.0)  # a busy machine: the reply waits for the dispatcher's send
    assert client.post(f"/agent/handoffs/{handoff_id}/claim", data={"csrf_token": csrf}).status_code == 303
    return client, client.post(f"/agent/handoffs/{handoff_id}/reply", data={"csrf_token": csrf, "text": text})


def outbound(runtime: Runtime) -> list[OutboxMessage]:
    with runtime.sessions() as session:
        return list(session.scalars(select(OutboxMessage).where(OutboxMessage.direction == "outbound")
                                    .order_by(OutboxMessage.id)))


def replies(runtime: Runtime) -> list[Notification]:
    with runtime.sessions() as session:
        return list(session.scalars(select(Notification).where(Notification.trigger == "agent_reply")
                                    .order_by(Notification.id)))


def test_inside_the_window_the_reply_goes_as_free_text_through_rasa(world: Runtime, rasa: FakeRasa) -> None:
    handoff_id, sender = whatsapp_handoff(world, wrote_hours_ago=2)
    with live(world, rasa) as server:
        _client, response = claim_and_reply(server, handoff_id, WORDS)
    assert response.status_code == 303 and "msg=" not in response.headers["location"]
    [(path, params, events)] = rasa.posts
    assert path == f"/conversations/{sender}/tracker/events"
    assert params["output_channel"] == ["twilio"] and params["execute_side_effects"] == ["true"]
    assert events == [{"event": "bot", "text": f"Sam: {WORDS}", "metadata": {"agent": "Sam"}}]
    assert replies(world) == [] and outbound(world) == []  # Rasa's channel sends it; no template was planned


def test_outside_the_window_the_reply_goes_once_as_the_approved_template_with_the_agents_words(
        world: Runtime, rasa: FakeRasa) -> None:
    handoff_id, sender = whatsapp_handoff(world, wrote_hours_ago=25)
    template = load_templates().for_trigger("agent_reply", "en")
    assert template is not None
    with live(world, rasa) as server:
        client, response = claim_and_reply(server, handoff_id, WORDS)
        assert response.headers["location"].endswith("?msg=window-template")
        shown = client.get(response.headers["location"]).text
    [sent] = outbound(world)
    assert sent.channel == "whatsapp" and sent.to_address == sender and sent.meta.get("content_sid") == template.content_sid
    assert sent.body == t("en", template.text, agent_name="Sam", agent_text=ONE_LINE)
    [row] = replies(world)
    assert (row.channel, row.status, row.to_address, row.provider_id) == ("whatsapp", "sent", sender, sent.sid)
    assert "WhatsApp&#39;s 24-hour window had closed: sent as the approved template." in shown
    # The transcript has the agent's line, marked, and nothing was sent through Rasa's channel.
    [(path, params, events)] = rasa.posts
    assert path == f"/conversations/{sender}/tracker/events" and params["execute_side_effects"] == ["false"]
    assert "output_channel" not in params
    assert events[0]["text"] == f"Sam: {WORDS}"
    assert events[0]["metadata"] == {"agent": "Sam",
                                     "sent_as": "WhatsApp's 24-hour window had closed: sent as the approved template"}
    # The scheduler's next pass finds nothing left to send: the template went exactly once.
    asyncio.run(run_pass(world))
    assert len(outbound(world)) == 1 and len(replies(world)) == 1


def test_the_same_reply_planned_twice_is_one_message(world: Runtime) -> None:
    handoff_id, _sender = whatsapp_handoff(world)
    at = datetime(2026, 12, 2, 13, 0, 20, tzinfo=UTC)
    with world.sessions() as session, session.begin():
        handoff = session.get(Handoff, handoff_id)
        assert handoff is not None and handoff.shipment_id is not None
        shipment = session.get(Shipment, handoff.shipment_id)
        assert shipment is not None
        facts = {plan_reply(session, handoff=handoff, shipment=shipment, agent_id=1, agent_name="Sam", text=WORDS,
                            locale="en", now=T0, at=at + timedelta(seconds=s)) for s in (0, 30)}
    assert len(facts) == 1 and len(replies(world)) == 1


@pytest.mark.parametrize("why", ["no approved template", "opted out of WhatsApp"])
def test_when_the_template_cannot_go_the_reply_goes_by_sms_to_the_same_number(
        world: Runtime, rasa: FakeRasa, no_reply_template: str, why: str) -> None:
    if why == "no approved template":
        handoff_id, sender = whatsapp_handoff(world, wrote_hours_ago=30)
        server = live(world, rasa, whatsapp_templates=no_reply_template)
        reason = "no approved template for agent_reply/en"
    else:
        handoff_id, sender = whatsapp_handoff(world, opted_in=False)
        server = live(world, rasa)
        reason = "customer opted out of whatsapp"
    with server:
        client, response = claim_and_reply(server, handoff_id, WORDS)
        assert response.headers["location"].endswith("?msg=window-sms")
        shown = client.get(response.headers["location"]).text
    phone = sender.removeprefix("whatsapp:")
    [sms] = outbound(world)
    assert sms.channel == "sms" and sms.to_address == phone and "content_sid" not in sms.meta
    assert sms.body.startswith(f"Doorstep: Sam from our support team: {ONE_LINE} Reply AGENT for a person. ")
    whatsapp, by_sms = replies(world)
    assert whatsapp.channel == "whatsapp" and whatsapp.status in ("failed", "blocked") and reason in (whatsapp.error or "")
    assert (by_sms.channel, by_sms.status, by_sms.to_address) == ("sms", "sent", phone)
    assert "sent by SMS" in shown and reason in shown
    [(_path, _params, events)] = rasa.posts
    assert events[0]["metadata"]["sent_as"].startswith("WhatsApp's 24-hour window had closed: sent by SMS (")


@pytest.mark.parametrize("text, status", [("   ", 400), ("x" * 1601, 422)])
def test_an_empty_or_oversize_reply_gets_4xx_and_sends_nothing(world: Runtime, rasa: FakeRasa, text: str,
                                                                status: int) -> None:
    handoff_id, _sender = whatsapp_handoff(world, wrote_hours_ago=30)
    with live(world, rasa) as server:
        assert claim_and_reply(server, handoff_id, text)[1].status_code == status
    assert rasa.posts == [] and replies(world) == [] and outbound(world) == []


def test_outside_the_window_a_reply_longer_than_the_template_carries_is_refused_and_nothing_goes(
        world: Runtime, rasa: FakeRasa) -> None:
    handoff_id, _sender = whatsapp_handoff(world, wrote_hours_ago=30)
    with live(world, rasa) as server:
        client, response = claim_and_reply(server, handoff_id, "x" * (MAX_TEMPLATE_TEXT + 1))
        assert response.headers["location"].endswith("?msg=window-too-long")
        assert f"at most {MAX_TEMPLATE_TEXT} characters: nothing was sent" in client.get(response.headers["location"]).text
    assert rasa.posts == [] and replies(world) == [] and outbound(world) == []
    with world.sessions() as session:
        assert session.scalars(select(Customer)).first() is not None
        assert not session.scalars(select(AuditLog).where(AuditLog.action == "handoff.reply_after_window")).all()


def test_in_the_customers_quiet_hours_the_template_waits_for_their_morning_and_the_agent_is_told(
        world: Runtime, rasa: FakeRasa) -> None:
    handoff_id, _sender = whatsapp_handoff(world, wrote_hours_ago=30)
    with world.sessions() as session, session.begin():
        handoff = session.get(Handoff, handoff_id)
        assert handoff is not None and handoff.customer_id is not None
        customer = session.get(Customer, handoff.customer_id)
        assert customer is not None
        customer.quiet_hours_start, customer.quiet_hours_end = 0, 23  # 15:00 in Berlin is quiet for them
    with live(world, rasa) as server:
        client, response = claim_and_reply(server, handoff_id, WORDS)
        assert response.headers["location"].endswith("?msg=window-queued")
        shown = client.get(response.headers["location"]).text
    assert "WhatsApp&#39;s 24-hour window had closed: queued (whatsapp: quiet hours until " in shown
    [row] = replies(world)
    assert row.status == "planned" and row.channel == "whatsapp" and outbound(world) == []
