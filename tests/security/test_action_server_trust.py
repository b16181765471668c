"""Issue 12, item 1: the action server trusted anyone.

The attacker posted trackers straight to `:5055/webhook` and got another customer's parcel and
signed tracking link, and changed another shipment's instructions. These tests send the same
requests to a really running action server (`python -m bot launch actions`, its own database):
without the secret nothing runs; with it, a forged tracker still gets nothing the database does
not grant to that conversation.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bot.core.models import AuditLog, Customer, Handoff, Shipment
from bot.core.runtime import Runtime
from bot.core.settings import LOCAL_SECRETS, Settings, local_action_server_secret
from bot.processes.devstack import Stack
from bot.processes.launch import command
from tests.security.listening_ports import listening_hosts


@pytest.fixture(scope="module")
def actions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(Path(tmp_path_factory.mktemp("actions")), processes=("actions",))
    try:
        stack.start()
    except Exception:
        stack.stop()
        raise
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def world(actions: Stack) -> Iterator[Runtime]:
    runtime = Runtime.build(actions.settings)
    yield runtime
    runtime.engine.dispose()


def attacker_call(action: str, sender_id: str, slots: dict[str, Any], *, channel: str = "twilio",
                  text: str = "where is it", events: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The probe's request body: a made-up tracker that names its own sender, channel and slots."""
    user = {"event": "user", "input_channel": channel, "text": text}
    return {"next_action": action, "sender_id": sender_id,
            "tracker": {"sender_id": sender_id, "latest_input_channel": channel, "events": [*(events or []), user],
                        "slots": slots, "latest_message": {"text": text}},
            "domain": {}}


def post(stack: Stack, body: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(stack.settings.action_server_url, json=body, headers=headers or {}, timeout=30)


def with_secret(stack: Stack) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.settings.action_server_secret}"}


def said(response: httpx.Response) -> str:
    return " ".join(str(r.get("text") or "") for r in (response.json() or {}).get("responses", []))


def two_customers(world: Runtime) -> tuple[Customer, Shipment, Customer, Shipment]:
    """A phone customer with one parcel on its way, and another customer's parcel on its way."""
    with world.sessions() as session:
        found: list[tuple[Customer, Shipment]] = []
        for customer in session.scalars(select(Customer).order_by(Customer.id)):
            waiting = [s for s in customer.shipments if s.status in ("label_created", "in_transit", "at_depot")]
            if len(waiting) == 1 and customer.phone:
                found.append((customer, waiting[0]))
            if len(found) == 2:
                (a, a_parcel), (b, b_parcel) = found
                return a, a_parcel, b, b_parcel
    raise LookupError("the demo world has no two such customers")


def instructions_of(world: Runtime, shipment_id: int) -> str | None:
    with world.sessions() as session:
        shipment = session.get(Shipment, shipment_id)
        assert shipment is not None
        return shipment.instructions


def commit_instructions(shipment_id: int) -> dict[str, Any]:
    return {"pending_request": "instructions", "confirm_change": True, "shipment_id": str(shipment_id),
            "instructions_text": "PROBE leave it outside", "verified": True}


# -- without the secret: nothing runs -------------------------------------------------------------


def test_the_probes_track_request_without_the_secret_gets_401_and_no_parcel(actions: Stack, world: Runtime) -> None:
    _, _, victim, parcel = two_customers(world)
    body = attacker_call("action_track", victim.phone, {"verified": True, "shipment_id": str(parcel.id)})
    response = post(actions, body)
    assert response.status_code == 401
    assert parcel.tracking_number[-4:] not in response.text and "/t/" not in response.text


def test_the_probes_commit_without_the_secret_gets_401_and_changes_nothing(actions: Stack, world: Runtime) -> None:
    _, _, victim, parcel = two_customers(world)
    before = instructions_of(world, parcel.id)
    response = post(actions, attacker_call("action_commit_change", victim.phone, commit_instructions(parcel.id),
                                           text="yes"))
    assert response.status_code == 401
    assert instructions_of(world, parcel.id) == before


def test_a_wrong_secret_gets_403_and_changes_nothing(actions: Stack, world: Runtime) -> None:
    _, _, victim, parcel = two_customers(world)
    before = instructions_of(world, parcel.id)
    wrong = {"Authorization": "Bearer " + "x" * len(actions.settings.action_server_secret)}
    for action, slots in (("action_track", {"verified": True, "shipment_id": str(parcel.id)}),
                          ("action_commit_change", commit_instructions(parcel.id))):
        response = post(actions, attacker_call(action, victim.phone, slots, text="yes"), wrong)
        assert response.status_code == 403
        assert "/t/" not in response.text
    assert instructions_of(world, parcel.id) == before


def test_the_action_list_needs_the_secret_and_health_says_nothing(actions: Stack) -> None:
    base = actions.settings.action_server_url.rsplit("/webhook", 1)[0]
    assert httpx.get(f"{base}/actions", timeout=10).status_code == 401
    assert httpx.get(f"{base}/actions", headers=with_secret(actions), timeout=10).status_code == 200
    health = httpx.get(f"{base}/health", timeout=10)
    assert health.status_code == 200 and health.json() == {"status": "ok"}


# -- with the secret (a caller that is Rasa, or has its secret): the database decides -------------


def test_a_forged_sms_sender_id_outside_our_namespaces_gets_no_parcel(actions: Stack, world: Runtime) -> None:
    """'0151…' names the victim's phone in national form: it is no conversation id our SMS channel
    makes (E.164), so naming channel 'twilio' for it verifies nothing."""
    _, _, victim, parcel = two_customers(world)
    national = "0" + victim.phone.removeprefix("+49")
    response = post(actions, attacker_call("action_track", national, {"verified": True, "shipment_id": str(parcel.id)}),
                    with_secret(actions))
    assert response.status_code == 200
    assert "/t/" not in said(response) and parcel.tracking_number[-4:] not in said(response)


def test_a_forged_commit_for_an_unverified_conversation_changes_nothing(actions: Stack, world: Runtime) -> None:
    _, _, _, parcel = two_customers(world)
    before = instructions_of(world, parcel.id)
    for sender in ("rest:probe-commit", "web:probe-commit", "probe-commit"):
        response = post(actions, attacker_call("action_commit_change", sender, commit_instructions(parcel.id),
                                               text="yes"), with_secret(actions))
        assert response.status_code == 200
        assert "Done" not in said(response)
    assert instructions_of(world, parcel.id) == before


def test_a_verified_customer_naming_another_customers_parcel_cannot_change_it(actions: Stack, world: Runtime) -> None:
    customer, _, _, other = two_customers(world)
    before = instructions_of(world, other.id)
    response = post(actions, attacker_call("action_commit_change", customer.phone, commit_instructions(other.id),
                                           text="yes"), with_secret(actions))
    assert response.status_code == 200
    assert instructions_of(world, other.id) == before
    assert other.tracking_number[-4:] not in said(response)


def test_a_handoff_does_not_attach_a_parcel_the_conversation_may_not_see(actions: Stack, world: Runtime) -> None:
    """The agent console shows the handoff's parcel and lets the agent change it."""
    _, _, _, parcel = two_customers(world)
    sender = "rest:probe-handoff"
    response = post(actions, attacker_call("action_handoff", sender, {"verified": True, "shipment_id": str(parcel.id)},
                                           channel="rest", text="agent"), with_secret(actions))
    assert response.status_code == 200
    with world.sessions() as session:
        handoff = session.scalars(select(Handoff).where(Handoff.sender_id == sender)).one()
        assert handoff.shipment_id is None and handoff.customer_id is None


def test_a_rating_of_another_customers_delivery_is_not_kept(actions: Stack, world: Runtime) -> None:
    """A 'delivered, rate us' message in the posted events naming someone else's parcel: not a rating."""
    customer, _, _, parcel = two_customers(world)
    notified = {"event": "bot", "text": "Delivered. How did we do? Reply 1 to 5.",
                "metadata": {"notification": "delivered", "notification_shipment_id": parcel.id}}
    response = post(actions, attacker_call("action_track", customer.phone, {}, text="1", events=[notified]),
                    with_secret(actions))
    assert response.status_code == 200
    with world.sessions() as session:
        assert session.scalars(select(AuditLog).where(AuditLog.action == "delivery_rating",
                                                      AuditLog.entity_id == str(parcel.id))).first() is None
        assert session.scalars(select(Handoff).where(Handoff.shipment_id == parcel.id)).first() is None


def test_the_own_conversation_still_gets_its_own_parcel(actions: Stack, world: Runtime) -> None:
    """The same request from Rasa for the customer's own SMS conversation is answered."""
    customer, own, _, _ = two_customers(world)
    response = post(actions, attacker_call("action_track", customer.phone, {}), with_secret(actions))
    assert response.status_code == 200
    assert own.tracking_number[-4:] in said(response) and "/t/" in said(response)


# -- where the internal servers listen ------------------------------------------------------------


def test_the_action_server_listens_on_loopback_by_default(actions: Stack) -> None:
    assert listening_hosts(actions.settings.actions_port) == {"127.0.0.1"}


def test_rasa_is_started_on_loopback_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(Path(__file__).parent)  # no .env
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.rasa_host, settings.actions_host) == ("127.0.0.1", "127.0.0.1")
    monkeypatch.setattr("bot.processes.launch.model_path", lambda: Path(__file__))  # any existing file: no model needed
    argv, env = command("rasa", settings)
    assert argv[argv.index("--interface") + 1] == "127.0.0.1"
    assert env["ACTION_SERVER_SECRET"] == settings.action_server_secret


def test_production_refuses_to_start_without_its_own_action_server_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(Path(__file__).parent)  # no .env
    production = {"environment": "production", "database_url": "postgresql+psycopg://u:p@db/doorstep",
                  "rasa_token": "r" * 32, "link_secret": "l" * 32, "carrier_webhook_secret": "c" * 32,
                  "outbox_auth_token": "o" * 32, "session_secret": "s" * 32,
                  # production refuses the outbox providers, so real ones (with their settings)
                  "sms_provider": "twilio", "twilio_account_sid": "AC" + "1" * 32, "twilio_auth_token": "t" * 32,
                  "twilio_from_number": "+4930111111",
                  "twilio_webhook_url": "https://bot.example.com/webhooks/twilio/webhook",
                  "email_provider": "sendgrid", "sendgrid_api_key": "SG.real", "sendgrid_webhook_public_key": "MFkw"}
    with pytest.raises(ValueError, match="ACTION_SERVER_SECRET"):
        Settings(_env_file=None, **production)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="at least 16"):
        Settings(_env_file=None, action_server_secret="short", **production)  # type: ignore[call-arg]
    assert Settings(_env_file=None, action_server_secret="a" * 32, **production).action_server_secret == "a" * 32  # type: ignore[call-arg]


def test_the_local_secret_is_made_once_and_shared_by_processes_starting_together(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Locally, with no ACTION_SERVER_SECRET, rasa and actions start at once and must agree."""
    monkeypatch.setattr("bot.core.settings.VAR_DIR", tmp_path)
    with ThreadPoolExecutor(max_workers=8) as pool:
        made = set(pool.map(lambda _: local_action_server_secret(), range(32)))
    (secret,) = made
    assert len(secret) >= 32 and secret not in LOCAL_SECRETS.values()
    stored = tmp_path / "action-server.secret"
    assert stored.read_text() == secret and stored.stat().st_mode & 0o077 == 0
    assert [p.name for p in tmp_path.iterdir()] == ["action-server.secret"]  # no drafts left behind
