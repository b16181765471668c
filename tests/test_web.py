"""The web app without Rasa: the outbox through the real Twilio SDK, webhooks, tracking page, health."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
import uvicorn
from sqlalchemy import select
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from bot.conversation.identity import make_link_token
from bot.core.db import transaction
from bot.core.models import Consent, Customer, OutboxMessage, Shipment, ShipmentEvent
from bot.core.runtime import Runtime
from bot.core.settings import Settings
from bot.processes.devstack import free_port
from bot.web.app import create_app
from bot.web.webhooks import sign
from tests import worlds
from tests.conftest import T0, make_settings


class LiveServer:
    def __init__(self, settings: Settings, rasa_url: str | None = None) -> None:
        """`rasa_url`: a stand-in for Rasa's HTTP API; by default a port nothing listens on."""
        self.port = free_port()
        self.app = create_app(settings.model_copy(update={"web_internal_url": f"http://127.0.0.1:{self.port}",
                                                                  "rasa_url": rasa_url or f"http://127.0.0.1:{free_port()}"}))
        self.server = uvicorn.Server(uvicorn.Config(self.app, port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "web app did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.app.state.runtime.engine.dispose()


@pytest.fixture
def world(sqlite_runtime: Runtime) -> Runtime:
    worlds.load_world(sqlite_runtime, world_speed=30, built_at=T0)
    return sqlite_runtime


@pytest.fixture
def live(world: Runtime) -> Iterator[LiveServer]:
    with LiveServer(world.settings) as server:
        yield server


def twilio_client(server: LiveServer, token: str | None = None) -> Client:
    s = server.app.state.runtime.settings
    client = Client(s.outbox_account_sid, token or s.outbox_auth_token)
    client.api.base_url = f"{server.url}/outbox/twilio"
    return client


def test_the_outbox_answers_the_twilio_sdk_like_twilio(live: LiveServer, world: Runtime) -> None:
    with world.sessions() as session:
        phone = session.scalars(select(Customer.phone)).first()
    message = twilio_client(live).messages.create(to=phone, from_="+4930901820", body="Your parcel is on its way.")
    assert message.sid.startswith("SM") and message.status == "queued"
    with world.sessions() as session:
        stored = session.scalars(select(OutboxMessage).where(OutboxMessage.sid == message.sid)).one()
        assert (stored.to_address, stored.body) == (phone, "Your parcel is on its way.")


def test_the_outbox_refuses_what_twilio_refuses(live: LiveServer, world: Runtime) -> None:
    with transaction(world.sessions) as session:
        customer = session.scalars(select(Customer)).first()
        session.add(Consent(customer_id=customer.id, channel="sms", opted_out=True, source="test"))
        phone = customer.phone
    cases = [
        (lambda: twilio_client(live, token="wrong").messages.create(to=phone, from_="+4930901820", body="x"), 20003),
        (lambda: twilio_client(live).messages.create(to="12345", from_="+4930901820", body="x"), 21211),
        (lambda: twilio_client(live).messages.create(to=phone, from_="+4930901820", body="x"), 21610),
    ]
    for send, code in cases:
        with pytest.raises(TwilioRestException) as caught:
            send()
        assert caught.value.code == code
    with world.sessions() as session:
        assert session.scalars(select(OutboxMessage)).all() == []


def test_demo_routes_exist_only_with_the_outbox(world: Runtime) -> None:
    twilio = make_settings(world.settings.database_url, sms_provider="twilio", twilio_account_sid="AC" + "1" * 32,
                           twilio_auth_token="real-secret", twilio_from_number="+4930111111",
                           twilio_webhook_url="https://bot.example.com/webhooks/twilio/webhook")
    with LiveServer(twilio) as server:
        for method, path in [("get", "/demo/phone"), ("get", "/demo/phone/+4915120000001"), ("get", "/api/outbox"),
                             ("get", "/api/demo"), ("post", "/demo/phone/+4915120000001"),
                             ("post", "/outbox/twilio/2010-04-01/Accounts/AC1/Messages.json")]:
            assert httpx.request(method, server.url + path).status_code == 404, path
    with LiveServer(world.settings) as server:
        page = httpx.get(f"{server.url}/demo/phone")
        assert page.status_code == 200 and "+4915120000001" in page.text


def _signed_post(live: LiveServer, body: dict[str, object], secret: str | None = None) -> httpx.Response:
    raw = json.dumps(body).encode()
    signature = sign(secret or live.app.state.runtime.settings.carrier_webhook_secret, raw)
    return httpx.post(f"{live.url}/webhooks/carriers/sandbox", content=raw,
                      headers={"X-Doorstep-Signature": signature, "Content-Type": "application/json"})


def test_carrier_webhook_checks_its_signature_and_is_idempotent(live: LiveServer, world: Runtime) -> None:
    with world.sessions() as session:
        shipment = session.scalars(select(Shipment).where(Shipment.status == "in_transit")).first()
    event = {"event_id": "hook-1", "tracking_number": shipment.tracking_number, "status": "at_depot",
             "occurred_at": (T0 + timedelta(hours=1)).isoformat()}
    assert _signed_post(live, event, secret="forged").status_code == 403
    assert httpx.post(f"{live.url}/webhooks/carriers/sandbox", json=event).status_code == 403
    assert _signed_post(live, {**event, "status": "teleported"}).status_code == 422
    assert _signed_post(live, {**event, "tracking_number": "DS0000000000"}).status_code == 404
    first, again = _signed_post(live, event), _signed_post(live, event)
    assert (first.status_code, first.json()["outcome"]) == (200, "applied")
    assert (again.status_code, again.json()["outcome"]) == (200, "duplicate")
    with world.sessions() as session:
        assert session.get(Shipment, shipment.id).status == "at_depot"
        assert len(session.scalars(select(ShipmentEvent).where(ShipmentEvent.event_id == "hook-1")).all()) == 1


def test_tracking_page_needs_a_valid_signed_link(live: LiveServer, world: Runtime) -> None:
    with world.sessions() as session:
        shipment = session.scalars(select(Shipment)).first()
    token = make_link_token(world.settings.link_secret, shipment.id)
    page = httpx.get(f"{live.url}/t/{token}")
    assert page.status_code == 200 and shipment.tracking_number in page.text
    assert shipment.address_line not in page.text
    assert httpx.get(f"{live.url}/t/{token[:-2]}xx").status_code == 404
    forged = make_link_token("another-secret", shipment.id)
    assert httpx.get(f"{live.url}/t/{forged}").status_code == 404


def test_healthz_names_each_component_and_fails_when_one_is_down(live: LiveServer) -> None:
    response = httpx.get(f"{live.url}/healthz")
    body = response.json()
    assert response.status_code == 503 and body["status"] == "degraded"
    assert body["components"]["database"]["up"] is True
    assert body["components"]["rasa"]["up"] is False  # nothing listens on its port here
    assert set(body["components"]) == {"web", "database", "rasa", "actions", "scheduler"}
