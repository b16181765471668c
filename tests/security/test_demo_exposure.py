"""Issue 12 item 5: the demo pages show every customer's messages without a login, so they exist only
when the whole deployment is the demo; production refuses the outbox providers at start."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from bot.core.db import transaction
from bot.core.models import Customer, OutboxMessage
from bot.core.runtime import Runtime
from bot.core.settings import ConfigError, Settings, load_settings
from bot.demo.outbox import record
from bot.demo.sms_sim import SimulatorDisabled, send_as_customer
from tests import worlds
from tests.conftest import T0, make_settings
from tests.test_web import LiveServer

REAL_TWILIO = {"sms_provider": "twilio", "twilio_account_sid": "AC" + "1" * 32, "twilio_auth_token": "real-secret",
               "twilio_from_number": "+4930111111", "twilio_webhook_url": "https://bot.example.com/webhooks/twilio/webhook"}
REAL_SENDGRID = {"email_provider": "sendgrid", "sendgrid_api_key": "SG.real", "sendgrid_webhook_public_key": "MFkw"}
REAL_REST_CARRIER = {"carriers": "rest", "rest_carrier_base_url": "https://carrier.example.com",
                     "rest_carrier_api_key": "key", "rest_carrier_webhook_secret": "w" * 32}
PRODUCTION = {"ENVIRONMENT": "production", "RASA_TOKEN": "r" * 32, "LINK_SECRET": "l" * 32,
              "CARRIER_WEBHOOK_SECRET": "c" * 32, "OUTBOX_AUTH_TOKEN": "o" * 32, "SESSION_SECRET": "s" * 32,
              "ACTION_SERVER_SECRET": "a" * 32,
              "DATABASE_URL": "postgresql+psycopg://doorstep@db.example.com/doorstep"}
DEMO_PAGES = ["/demo/mailbox", "/demo/mailbox/1", "/demo/phone", "/demo/phone/+4915120000001",
              "/demo/whatsapp/+4915120000001", "/api/outbox",
              "/api/demo"]


@pytest.fixture
def world(sqlite_runtime: Runtime) -> Runtime:
    worlds.load_world(sqlite_runtime, world_speed=30, built_at=T0)
    with sqlite_runtime.sessions() as session, session.begin():
        customer = session.scalars(select(Customer).order_by(Customer.id)).first()
        assert customer is not None
        mail = record(session, channel="email", to=customer.email, sender="updates@doorstep.example",
                      subject="Your parcel", body="Track: http://localhost:8000/t/secret-link-token")
        mail.html = "<p>Track: http://localhost:8000/t/secret-link-token</p>"
    return sqlite_runtime


def serve(world: Runtime, **overrides: object) -> LiveServer:
    return LiveServer(make_settings(world.settings.database_url, **overrides))


def production_env(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    for key, value in {**PRODUCTION, **env}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "1" * 32)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "real-secret")
    monkeypatch.setenv("TWILIO_FROM_NUMBER", "+4930111111")
    monkeypatch.setenv("TWILIO_WEBHOOK_URL", "https://bot.example.com/webhooks/twilio/webhook")
    monkeypatch.setenv("SENDGRID_API_KEY", "SG.real")
    monkeypatch.setenv("SENDGRID_WEBHOOK_PUBLIC_KEY", "MFkw")


@pytest.mark.parametrize(("providers", "named"), [
    ({"SMS_PROVIDER": "outbox", "EMAIL_PROVIDER": "sendgrid"}, "SMS_PROVIDER=outbox"),
    ({"SMS_PROVIDER": "twilio", "EMAIL_PROVIDER": "outbox"}, "EMAIL_PROVIDER=outbox"),
])
def test_production_refuses_an_outbox_provider_in_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: object,
                                                           providers: dict[str, str], named: str) -> None:
    monkeypatch.chdir(str(tmp_path))  # no .env
    production_env(monkeypatch, **providers)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert named in str(caught.value) and "ENVIRONMENT=production" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_production_with_real_providers_starts(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.chdir(str(tmp_path))
    production_env(monkeypatch, SMS_PROVIDER="twilio", EMAIL_PROVIDER="sendgrid")
    settings = load_settings()
    assert not settings.demo_enabled and not settings.outbox_enabled


@pytest.mark.parametrize(("overrides", "demo"), [
    ({}, True),
    (REAL_TWILIO, False),
    (REAL_SENDGRID, False),
    (REAL_REST_CARRIER, False),
    ({**REAL_TWILIO, **REAL_SENDGRID}, False),
])
def test_the_demo_is_all_outbox_and_sandbox(overrides: dict[str, object], demo: bool) -> None:
    settings = Settings(_env_file=None, **overrides)  # type: ignore[call-arg]
    assert settings.demo_enabled is demo


def test_the_mailbox_is_gone_when_sms_is_real_twilio_and_email_is_left_on_the_outbox(world: Runtime) -> None:
    """The probe's configuration: every customer's email (with tracking links) was listed without a login."""
    with serve(world, **REAL_TWILIO) as server:
        for path in DEMO_PAGES:
            response = httpx.get(server.url + path)
            assert response.status_code == 404, path
            assert "secret-link-token" not in response.text
        # The email outbox itself still works for the dispatcher, behind its token.
        mail = {"personalizations": [{"to": [{"email": "a@example.com"}]}], "from": {"email": "u@example.com"},
                "subject": "s", "content": [{"type": "text/plain", "value": "x"}]}
        send = f"{server.url}/outbox/sendgrid/v3/mail/send"
        assert httpx.post(send, json=mail).status_code == 401
        token = server.app.state.runtime.settings.outbox_auth_token
        assert httpx.post(send, json=mail, headers={"Authorization": f"Bearer {token}"}).status_code == 202


@pytest.mark.parametrize("overrides", [REAL_SENDGRID, REAL_REST_CARRIER], ids=["real-sendgrid", "real-carrier"])
def test_the_demo_phone_and_outbox_json_are_gone_outside_the_full_demo(world: Runtime,
                                                                       overrides: dict[str, object]) -> None:
    with serve(world, **overrides) as server:
        for path in DEMO_PAGES:
            assert httpx.get(server.url + path).status_code == 404, path
        assert httpx.post(f"{server.url}/demo/phone/+4915120000001", data={"text": "hi"}).status_code == 404
        # The SMS outbox still answers the dispatcher (Twilio's API, behind the outbox credentials).
        settings = server.app.state.runtime.settings
        listing = f"{server.url}/outbox/twilio/2010-04-01/Accounts/{settings.outbox_account_sid}/Messages.json"
        assert httpx.get(listing).status_code == 401
        assert httpx.get(listing, auth=(settings.outbox_account_sid, settings.outbox_auth_token)).status_code == 200
    runtime = Runtime.build(make_settings(world.settings.database_url, **overrides))
    with pytest.raises(SimulatorDisabled):
        send_as_customer(runtime, "+4915120000001", "hi")
    runtime.engine.dispose()
    with world.sessions() as session:
        assert session.scalars(select(OutboxMessage).where(OutboxMessage.direction == "inbound")).all() == []


def test_the_full_demo_keeps_its_pages(world: Runtime) -> None:
    with serve(world) as server:
        for path in DEMO_PAGES:
            assert httpx.get(server.url + path).status_code == 200, path
        assert "secret-link-token" in httpx.get(f"{server.url}/demo/mailbox").text
        assert 'href="/demo/phone"' in httpx.get(server.url + "/").text
    with transaction(world.sessions) as session:
        assert session.scalars(select(OutboxMessage)).first() is not None
