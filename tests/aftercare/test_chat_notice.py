"""A claim opened in the web chat is answered in the chat, through Rasa's HTTP API (a real local HTTP
server standing in for Rasa), once; with Rasa down the customer's SMS goes out instead, at once."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from bot.aftercare.chat_notice import tell_in_chat
from bot.aftercare.claims import open_or_add, resolve
from bot.conversation.rasa_api import RasaAPI
from bot.core.clock import sim_now
from bot.core.models import Agent, Claim, ClaimKind, ClaimResolution, Customer, Notification
from bot.core.runtime import Runtime
from tests.aftercare.conftest import delivered
from tests.notify.helpers import MailRecorder, dispatch, fake_twilio

SENDER = "web:0123456789abcdef0123456789abcdef"


@pytest.fixture
def fake_rasa() -> Iterator[tuple[list[dict[str, Any]], str]]:
    """Rasa's tracker events endpoint: records what is posted, answers like Rasa."""
    posted: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            posted.append({"path": self.path, "events": body})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield posted, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def rasa_at(runtime: Runtime, url: str) -> RasaAPI:
    return RasaAPI(runtime.settings.model_copy(update={"rasa_url": url}), timeout=3)


def web_claim(world: Runtime) -> tuple[int, int]:
    shipment = delivered(world)
    with world.sessions() as session, session.begin():
        agent_id = session.scalars(select(Agent.id)).one()
        customer = session.get(Customer, shipment.customer_id)
        assert customer is not None
        customer.locale = "de"  # told in the customer's language
    ticket = open_or_add(world, shipment_id=shipment.id, customer_id=shipment.customer_id, kind=ClaimKind.MISSING,
                         channel="web", sender_id=SENDER, words="nie angekommen")
    resolve(world, claim_id=ticket.claim_id, resolution=ClaimResolution.REDELIVER, note="", agent_id=agent_id)
    return ticket.claim_id, shipment.id


def plans(world: Runtime, shipment_id: int) -> list[Notification]:
    with world.sessions() as session:
        return list(session.scalars(select(Notification).where(Notification.shipment_id == shipment_id,
                                                               Notification.trigger == "claim_resolved")))


def test_the_chat_gets_the_answer_once_and_no_sms_goes(world: Runtime, fake_rasa: tuple[list[dict[str, Any]], str]) -> None:
    posted, url = fake_rasa
    claim_id, shipment_id = web_claim(world)
    [planned] = plans(world, shipment_id)
    assert planned.status == "planned"  # on the customer's channel, held back while the chat is tried
    with world.sessions() as session:
        now = sim_now(session)
    assert planned.due_at >= now + timedelta(minutes=29)

    assert asyncio.run(tell_in_chat(world, claim_id, rasa_at(world, url))) is True
    assert asyncio.run(tell_in_chat(world, claim_id, rasa_at(world, url))) is False  # told already
    assert len(posted) == 1
    assert posted[0]["path"].startswith(f"/conversations/{SENDER}/tracker/events?")
    assert "output_channel=socketio" in posted[0]["path"] and "execute_side_effects=true" in posted[0]["path"]
    [event] = posted[0]["events"]
    with world.sessions() as session:
        claim = session.get(Claim, claim_id)
        assert claim is not None and claim.customer_told_at is not None
        reference = claim.reference
    assert event["event"] == "bot" and reference in event["text"] and "erneut zu" in event["text"]  # German
    assert not event["text"].startswith("Doorstep") and "/t/" not in event["text"]
    [cancelled] = plans(world, shipment_id)
    assert (cancelled.status, cancelled.error) == ("cancelled", "told in the web chat")
    mail = MailRecorder()
    with fake_twilio() as (twilio, base):
        dispatch(world, now + timedelta(hours=3), base, mail)
        assert not [m for m in twilio.messages if reference in str(m)]
    assert not [text for (_, text) in mail.sent if reference in text]


def test_with_rasa_down_the_sms_goes_at_once(world: Runtime) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    claim_id, shipment_id = web_claim(world)
    assert asyncio.run(tell_in_chat(world, claim_id, rasa_at(world, f"http://127.0.0.1:{port}"))) is False
    with world.sessions() as session:
        now = sim_now(session)
        claim = session.get(Claim, claim_id)
        assert claim is not None and claim.customer_told_at is None
        reference = claim.reference
    [planned] = plans(world, shipment_id)
    assert planned.status == "planned" and planned.due_at <= now
    noon = now.replace(hour=11, minute=0) + timedelta(days=0 if now.hour < 11 else 1)
    mail = MailRecorder()
    with fake_twilio() as (twilio, base):
        dispatch(world, max(noon, now), base, mail)
        bodies = [str(m) for m in twilio.messages if reference in str(m)]
    bodies += [text for (_, text), count in mail.sent.items() for _ in range(count) if reference in text]
    assert len(bodies) == 1 and "erneut zu" in bodies[0]
    with world.sessions() as session:
        assert session.get(Claim, claim_id).customer_told_at is not None
