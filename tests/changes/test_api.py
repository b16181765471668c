"""The change service over HTTP: the tracking-page token authorises one parcel; the database after each answer."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import httpx
import pytest
from sqlalchemy import select

from bot.conversation.identity import make_link_token
from bot.core.models import AuditLog, Return, Shipment, ShipmentStatus
from bot.core.runtime import Runtime
from bot.core.settings import Settings
from bot.desk.agents import create_agent
from bot.web.ratelimit import RateLimiter
from tests.changes.conftest import audit, parcel
from tests.test_console import PASSWORD, login
from tests.test_web import LiveServer

BASE = "/api/v1/shipments"


@contextmanager
def served(settings: Settings) -> Iterator[tuple[LiveServer, httpx.Client]]:
    with LiveServer(settings) as server, httpx.Client(base_url=server.url) as http:
        yield server, http


@pytest.fixture
def live(world: Runtime) -> Iterator[tuple[LiveServer, httpx.Client]]:
    with served(world.settings) as both:
        yield both


@pytest.fixture
def client(live: tuple[LiveServer, httpx.Client]) -> httpx.Client:
    return live[1]


def token_for(world: Runtime, shipment: Shipment) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_link_token(world.settings.link_secret, shipment.id)}"}


def test_lists_what_can_change_with_the_options(client: httpx.Client, world: Runtime) -> None:
    shipment = parcel(world, ShipmentStatus.AT_DEPOT)
    answer = client.get(f"{BASE}/{shipment.tracking_number}/changes", headers=token_for(world, shipment))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    possible = {c["kind"]: c for c in body["changes"]}
    assert possible["reschedule"]["possible"] and possible["locker"]["possible"]
    assert possible["return"] == {"kind": "return", "possible": False, "reason": "not_yet_delivered",
                                  "message": "A return can be booked once the parcel has been delivered."}
    assert body["windows"] and body["windows"][0]["label"] and body["lockers"][0]["code"]
    assert answer.headers["cache-control"] == "no-store"


def test_reschedule_over_http(client: httpx.Client, world: Runtime) -> None:
    shipment = parcel(world, ShipmentStatus.AT_DEPOT)
    headers = token_for(world, shipment)
    window = client.get(f"{BASE}/{shipment.tracking_number}/changes", headers=headers).json()["windows"][2]
    answer = client.post(f"{BASE}/{shipment.tracking_number}/changes/reschedule", headers=headers,
                         json={"start": window["start"], "end": window["end"]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["kind"] == "reschedule" and answer.json()["message"].startswith("Done: parcel …")
    with world.sessions() as session:
        moved = session.get(Shipment, shipment.id)
        assert moved is not None and moved.promised_start is not None
        assert moved.promised_start == datetime.fromisoformat(window["start"])
    assert audit(world, shipment.id)[-2:] == ["reschedule", "replan"]


def test_a_label_return_over_http_emails_the_label(client: httpx.Client, world: Runtime) -> None:
    shipment = parcel(world, ShipmentStatus.DELIVERED, returnable=True)
    answer = client.post(f"{BASE}/{shipment.tracking_number}/changes/return?lang=de", headers=token_for(world, shipment),
                         json={"reason": "zu klein", "method": "label"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["message"].startswith(f"Rücksendung {answer.json()['detail']['rma']} gebucht")
    with world.sessions() as session:
        assert session.scalars(select(Return).where(Return.shipment_id == shipment.id)).one().reason == "zu klein"


def test_a_refused_change_is_409_with_the_code_and_changes_nothing(client: httpx.Client, world: Runtime) -> None:
    shipment = parcel(world, ShipmentStatus.AT_DEPOT)
    with world.sessions() as session, session.begin():
        session.get(Shipment, shipment.id).status = ShipmentStatus.OUT_FOR_DELIVERY  # type: ignore[union-attr]
    answer = client.post(f"{BASE}/{shipment.tracking_number}/changes/instructions", headers=token_for(world, shipment),
                         json={"note": "behind the green gate"})
    assert answer.status_code == 409
    assert answer.json() == {"code": "out_for_delivery", "message": "Your parcel is already out with the driver, "
                                                                    "so I can't change that now."}
    with world.sessions() as session:
        assert session.get(Shipment, shipment.id).instructions is None  # type: ignore[union-attr]
    assert audit(world, shipment.id) == []


def test_tokens_forged_expired_missing_or_for_another_parcel(client: httpx.Client, world: Runtime) -> None:
    shipment = parcel(world, ShipmentStatus.AT_DEPOT)
    url = f"{BASE}/{shipment.tracking_number}/changes/instructions"
    note = {"note": "behind the green gate"}
    assert client.post(url, json=note).status_code == 401
    forged = token_for(world, shipment)["Authorization"][:-3] + "abc"
    assert client.post(url, json=note, headers={"Authorization": forged}).json()["code"] == "bad_token"
    other = make_link_token("another secret entirely, not ours", shipment.id)
    assert client.post(url, json=note, headers={"Authorization": f"Bearer {other}"}).status_code == 401
    with world.sessions() as session:
        neighbour = session.scalars(select(Shipment).where(Shipment.id != shipment.id,
                                                           Shipment.customer_id != shipment.customer_id)).first()
        assert neighbour is not None
        session.expunge(neighbour)
    theirs = client.post(url, json=note, headers=token_for(world, neighbour))
    assert theirs.status_code == 403 and theirs.json()["code"] == "not_your_parcel"
    with world.sessions() as session:
        assert session.get(Shipment, shipment.id).instructions is None  # type: ignore[union-attr]


def test_an_expired_token_is_refused(world: Runtime) -> None:
    shipment = parcel(world, ShipmentStatus.AT_DEPOT)
    headers = token_for(world, shipment)
    time.sleep(1.1)
    with served(world.settings.model_copy(update={"link_max_age_days": 0})) as (_, client):
        answer = client.get(f"{BASE}/{shipment.tracking_number}/changes", headers=headers)
    assert answer.status_code == 401 and answer.json()["code"] == "bad_token"


@pytest.mark.parametrize("kind, body", [
    ("reschedule", {"start": "2026-11-25T08:00:00", "end": "2026-11-25T10:00:00"}),  # no time zone
    ("reschedule", {"start": "2026-11-25T10:00:00+00:00", "end": "2026-11-25T08:00:00+00:00"}),  # backwards
    ("instructions", {"note": "x" * 301}),
    ("address", {"address_line": "Gärtnerstraße 3", "postcode": "1024"}),
    ("return", {"reason": "too small", "method": "pigeon"}),
    ("locker", {}),
])
def test_bad_input_is_422_and_changes_nothing(client: httpx.Client, world: Runtime, kind: str,
                                              body: dict[str, object]) -> None:
    shipment = parcel(world, ShipmentStatus.AT_DEPOT)
    answer = client.post(f"{BASE}/{shipment.tracking_number}/changes/{kind}", headers=token_for(world, shipment),
                         json=body)
    assert answer.status_code == 422
    assert audit(world, shipment.id) == []


def test_an_unknown_kind_is_404(client: httpx.Client, world: Runtime) -> None:
    shipment = parcel(world, ShipmentStatus.AT_DEPOT)
    answer = client.post(f"{BASE}/{shipment.tracking_number}/changes/teleport", headers=token_for(world, shipment),
                         json={})
    assert answer.status_code in (404, 405)


def test_a_carrier_that_does_not_answer_is_503(world: Runtime) -> None:
    shipment = parcel(world, ShipmentStatus.AT_DEPOT)
    with served(world.settings.model_copy(update={"sandbox_faults": shipment.tracking_number})) as (_, client):
        answer = client.post(f"{BASE}/{shipment.tracking_number}/changes/instructions", headers=token_for(world, shipment),
                             json={"note": "behind the green gate"})
    assert answer.status_code == 503 and answer.json()["code"] == "carrier_down"
    with world.sessions() as session:
        assert session.get(Shipment, shipment.id).instructions is None  # type: ignore[union-attr]


def test_too_many_requests_from_one_client_are_429(live: tuple[LiveServer, httpx.Client], world: Runtime) -> None:
    server, client = live
    shipment = parcel(world, ShipmentStatus.AT_DEPOT)
    server.app.state.changes_api_limiter = RateLimiter(2, 3600)
    url = f"{BASE}/{shipment.tracking_number}/changes"
    answers = [client.get(url, headers=token_for(world, shipment)) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429] and answers[2].headers["retry-after"] == "60"


def test_the_api_is_in_the_openapi_schema(client: httpx.Client) -> None:
    schema = client.get("/api/openapi.json").json()
    assert f"{BASE}/{{tracking_number}}/changes" in schema["paths"]
    post = schema["paths"][f"{BASE}/{{tracking_number}}/changes/reschedule"]["post"]
    assert {"200", "401", "403", "409", "422", "503"} <= set(post["responses"])
    assert "RescheduleBody" in schema["components"]["schemas"]


def test_an_agent_session_with_its_csrf_token_may_change_any_parcel(live: tuple[LiveServer, httpx.Client],
                                                                      world: Runtime) -> None:
    server, _ = live
    with world.sessions() as session, session.begin():
        create_agent(session, email="sam@example.com", name="Sam", password=PASSWORD, role="agent")
    agent, csrf = login(server)
    try:
        shipment = parcel(world, ShipmentStatus.AT_DEPOT)
        url = f"{BASE}/{shipment.tracking_number}/changes/instructions"
        assert agent.get(f"{BASE}/{shipment.tracking_number}/changes").status_code == 200
        refused = agent.post(url, json={"note": "ring twice"})
        assert refused.status_code == 403 and refused.json()["code"] == "bad_csrf_token"
        done = agent.post(url, json={"note": "ring twice"}, headers={"X-CSRF-Token": csrf})
        assert done.status_code == 200, done.text
        with world.sessions() as session:
            assert session.get(Shipment, shipment.id).instructions == "ring twice"  # type: ignore[union-attr]
            actors = session.scalars(select(AuditLog.actor).where(AuditLog.action == "api.instructions")).all()
        assert len(actors) == 1 and actors[0].startswith("agent:")
    finally:
        agent.close()
