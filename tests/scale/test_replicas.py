"""Two Rasa replicas behind HAProxy, for real (issue 17): the tracker store on the machine's
PostgreSQL, the lock store on its Redis, the trained model. The scaled set is started once for the
module (two Rasa processes load the model side by side: about a minute on two cores).

- A replica SIGKILLed in the middle of conversations: each goes on on the other replica with its
  whole context, every turn recorded once and in order, every parcel moved once.
- A burst of turns for one conversation through HAProxy: handled one at a time, in the order sent.
- The same burst sent alternately to both replicas, each directly (past HAProxy, as while a hash
  moves during a failover): every turn once, one at a time, each replica's in the order it got them.
- An agent's words sent through one replica's API reach a web chat whose socket is on the other.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bot.core.models import AuditLog, Shipment
from bot.core.runtime import Runtime
from bot.processes.devstack import ScaledStack
from bot.processes.model_files import model_path
from tests.conftest import _postgres_schema_url
from tests.e2e.test_web_chat import WebChat
from tests.workers.conftest import REDIS_URL

pytestmark = pytest.mark.e2e
START = 300.0  # seconds: two Rasa replicas load the model at once on a busy two-core machine


@pytest.fixture(scope="module")
def scaled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ScaledStack, Runtime]]:
    if not model_path().exists():
        pytest.fail(f"no trained model at {model_path()}: `make test` trains it first")
    for database_url in _postgres_schema_url():
        stack = ScaledStack(Path(tmp_path_factory.mktemp("scaled")), database_url=database_url,
                            redis_url=REDIS_URL, rasa=2, actions=1, web=1,
                            extra_env={"SANDBOX_SPEED": "1", "CELERY_QUEUE_PREFIX": f"t{uuid.uuid4().hex[:10]}"})
        try:
            stack.start(timeout=START)
            runtime = Runtime.build(stack.settings)
            yield stack, runtime
            runtime.engine.dispose()
        finally:
            stack.stop()


def say(url: str, sender: str, text: str) -> str:
    response = httpx.post(f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=120)
    response.raise_for_status()
    return " ".join(m.get("text", "") for m in response.json())


def events(stack: ScaledStack, conversation: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{stack.settings.rasa_url}/conversations/{conversation}/tracker",
                         params={"token": stack.settings.rasa_token, "include_events": "ALL"}, timeout=30)
    response.raise_for_status()
    return list(response.json()["events"])


def user_texts(stack: ScaledStack, conversation: str) -> list[str]:
    return [e["text"] for e in events(stack, conversation) if e["event"] == "user"]


def parcels(runtime: Runtime, count: int) -> list[Shipment]:
    with runtime.sessions() as session:
        found = list(session.scalars(select(Shipment).where(Shipment.status == "in_transit",
                                                            Shipment.eta_start.is_not(None))
                                     .order_by(Shipment.id).limit(count)))
        session.expunge_all()
    assert len(found) == count
    return found


def test_a_killed_replicas_conversations_go_on_on_the_other_in_order(
        scaled: tuple[ScaledStack, Runtime]) -> None:
    stack, runtime = scaled
    front = stack.settings.rasa_url
    # Conversations until both replicas hold some: HAProxy's counters say which replica took each.
    on: dict[str, list[str]] = {"rasa1": [], "rasa2": []}
    while len(on["rasa1"]) < 2 or len(on["rasa2"]) < 1:
        sender = f"kill-{uuid.uuid4().hex[:8]}"
        before = stack.served("rasa_rest")
        assert "tracking number" in say(front, sender, "can you deliver it another day")
        after = stack.served("rasa_rest")
        replica = next(name for name in after if after[name] > before.get(name, 0))
        on[replica].append(sender)
        assert sum(map(len, on.values())) < 20, f"HAProxy sends every conversation to one replica: {on}"
    senders = on["rasa1"] + on["rasa2"]
    moved = dict(zip(senders, parcels(runtime, len(senders)), strict=True))
    for sender, parcel in moved.items():
        assert "postcode" in say(front, sender, parcel.tracking_number)
        assert "When should parcel" in say(front, sender, parcel.postcode)

    stack.kill("rasa1")  # between turns, with customers waiting for their next question

    for sender, parcel in moved.items():
        assert "Move parcel" in say(front, sender, "2"), f"{sender} lost its place on the way to rasa2"
        assert "Done" in say(front, sender, "yes")
        assert user_texts(stack, f"rest:{sender}") == [
            "can you deliver it another day", parcel.tracking_number, parcel.postcode, "2", "yes"]
    with runtime.sessions() as session:
        for parcel in moved.values():
            moves = session.scalars(select(AuditLog).where(
                AuditLog.entity == "shipment", AuditLog.action == "reschedule",
                AuditLog.entity_id == str(parcel.id))).all()
            assert len(moves) == 1, f"parcel {parcel.tracking_number} moved once"
    stack.restart("rasa1", timeout=START)


# Ten different ways to say hello or thanks: each answered, none a fallback (two hand over to a person).
GREETINGS = ["hi", "hello", "hey", "good morning", "hi there", "thanks", "hello again", "thank you", "hey there",
             "good evening"]


def send_without_waiting(port: int, sender: str, text: str) -> socket.socket:
    """One REST turn written whole to the socket; its answer is read later (`answer`)."""
    body = json.dumps({"sender": sender, "message": text}).encode()
    head = (f"POST /webhooks/rest/webhook HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    connection = socket.create_connection(("127.0.0.1", port), timeout=180)
    connection.sendall(head + body)
    return connection


def answer(connection: socket.socket) -> str:
    with connection:
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    return received.split(b"\r\n", 1)[0].decode()


def burst(ports: list[int], sender: str) -> list[str]:
    """GREETINGS as one burst, turn n to ports[n % len(ports)], each written 20 ms after the one before
    without waiting for any answer; the status lines."""
    connections = []
    for n, text in enumerate(GREETINGS):
        connections.append(send_without_waiting(ports[n % len(ports)], sender, text))
        time.sleep(0.02)
    return [answer(connection) for connection in connections]


def one_turn_at_a_time(recorded: list[dict[str, Any]]) -> str:
    """U for each user message, L for each `action_listen` after the first message: "ULUL…" when each
    turn ended (the bot listened again) before the next began."""
    kinds = [e["event"] if e["event"] != "action" else e["name"] for e in recorded]
    after_first = kinds[kinds.index("user"):]
    return "".join("U" if k == "user" else "L" if k == "action_listen" else "" for k in after_first)


def test_a_burst_of_turns_through_haproxy_is_handled_in_the_order_sent(scaled: tuple[ScaledStack, Runtime]) -> None:
    stack, _ = scaled
    sender = f"burst-{uuid.uuid4().hex[:8]}"
    assert burst([stack.topology.rasa_front], sender) == ["HTTP/1.1 200 OK"] * len(GREETINGS)
    recorded = events(stack, f"rest:{sender}")
    assert [e["text"] for e in recorded if e["event"] == "user"] == GREETINGS, "every turn once, in the order sent"
    assert one_turn_at_a_time(recorded) == "UL" * len(GREETINGS)


def test_a_burst_of_turns_sent_to_both_replicas_is_handled_once_each_one_at_a_time(
        scaled: tuple[ScaledStack, Runtime]) -> None:
    """Past HAProxy, alternately to each replica (as while a hash moves during a failover): the shared
    lock store takes the turns one at a time, none lost and none twice, each replica's in the order it
    got them. Between replicas the order is the order their turns reach Redis (see README)."""
    stack, _ = scaled
    sender = f"burst-{uuid.uuid4().hex[:8]}"
    assert burst([stack.port("rasa1"), stack.port("rasa2")], sender) == ["HTTP/1.1 200 OK"] * len(GREETINGS)
    recorded = events(stack, f"rest:{sender}")
    said = [e["text"] for e in recorded if e["event"] == "user"]
    assert sorted(said) == sorted(GREETINGS), "every turn once"
    for replica in (0, 1):
        sent_there = GREETINGS[replica::2]
        assert [text for text in said if text in sent_there] == sent_there, "each replica's turns in order"
    assert one_turn_at_a_time(recorded) == "UL" * len(GREETINGS), "never two turns of one conversation at once"


def test_an_agents_words_sent_through_one_replica_reach_a_web_chat_held_by_the_other(
        scaled: tuple[ScaledStack, Runtime]) -> None:
    """The browser's socket lives on rasa1; the console's message goes through rasa2's HTTP API (the
    API is hashed by conversation, the socket by client address): Redis carries it across."""
    stack, runtime = scaled
    rasa2 = f"http://127.0.0.1:{stack.port('rasa2')}"

    async def chat() -> list[str]:
        tab = WebChat(runtime)
        tab.url = f"http://127.0.0.1:{stack.port('rasa1')}"
        async with tab:
            assert await tab.say("hi")
            conversation = "web:" + tab.session_id.split(".", 1)[0]
            async with httpx.AsyncClient(timeout=30) as client:
                response = await client.post(
                    f"{rasa2}/conversations/{conversation}/tracker/events",
                    params={"token": stack.settings.rasa_token, "execute_side_effects": "true",
                            "output_channel": "socketio", "include_events": "NONE"},
                    json=[{"event": "bot", "text": "Hello, this is Kim from the delivery team."}])
                response.raise_for_status()
            received = await asyncio.wait_for(tab.inbox.get(), 15)
            return [str(received.get("text"))]

    assert asyncio.run(chat()) == ["Hello, this is Kim from the delivery team."]
