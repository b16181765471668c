"""The generated HAProxy configuration, run by Debian's HAProxy in front of stand-in replicas: every
conversation goes to one Rasa replica whatever the channel, and a dead replica's conversations move
to a live one without an error."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from bot.processes.devstack import free_port
from bot.processes.scaled import Topology, haproxy_config


class Replica:
    """A stand-in Rasa/actions/web replica: answers every request with its name."""

    def __init__(self, name: str, port: int) -> None:
        self.name = name
        self.port = port
        self.requests = 0
        replica = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                if self.path not in ("/", "/health", "/api/openapi.json"):  # HAProxy's checks
                    replica.requests += 1
                body = json.dumps({"replica": replica.name}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer  # the names http.server calls

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def balanced(tmp_path: Path) -> Iterator[tuple[Topology, dict[str, Replica]]]:
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(haproxy).exists():
        pytest.fail("Debian's haproxy is not installed: `make test` (or .ci/run) installs it")
    topology = Topology(rasa_front=free_port(), actions_front=free_port(), web_front=free_port(), stats=free_port(),
                        rasa=(free_port(), free_port()), actions=(free_port(),), web=(free_port(),))
    replicas = {f"rasa{n + 1}": Replica(f"rasa{n + 1}", port) for n, port in enumerate(topology.rasa)}
    replicas["actions1"] = Replica("actions1", topology.actions[0])
    replicas["web1"] = Replica("web1", topology.web[0])
    config = tmp_path / "haproxy.cfg"
    config.write_text(haproxy_config(topology))
    log = (tmp_path / "haproxy.log").open("wb")
    process = subprocess.Popen([haproxy, "-db", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while not _all_up(topology):
            assert process.poll() is None, (tmp_path / "haproxy.log").read_text()
            assert time.monotonic() < deadline, "HAProxy's checks did not find every replica up"
            time.sleep(0.2)
        yield topology, replicas
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
        for replica in replicas.values():
            if replica.thread.is_alive():
                replica.stop()


def _all_up(topology: Topology) -> bool:
    try:
        csv = httpx.get(f"http://127.0.0.1:{topology.stats}/;csv", timeout=2).text
    except httpx.HTTPError:
        return False
    rows = [line.split(",") for line in csv.splitlines() if line and not line.startswith("#")]
    servers = [row for row in rows if row[1] not in ("FRONTEND", "BACKEND")]
    return bool(servers) and all(row[17] == "UP" for row in servers)


def _sms(topology: Topology, sender: str, text: str) -> str:
    response = httpx.post(f"http://127.0.0.1:{topology.rasa_front}/webhooks/twilio/webhook",
                          data={"Body": text, "From": sender, "To": "+4930901820", "MessageSid": "SM1"}, timeout=5)
    assert response.status_code == 200
    return str(response.json()["replica"])


def _rest(topology: Topology, sender: str, text: str) -> str:
    response = httpx.post(f"http://127.0.0.1:{topology.rasa_front}/webhooks/rest/webhook",
                          json={"message": text, "sender": sender}, timeout=5)
    assert response.status_code == 200
    return str(response.json()["replica"])


def _api(topology: Topology, conversation: str) -> str:
    response = httpx.get(f"http://127.0.0.1:{topology.rasa_front}/conversations/{conversation}/tracker",
                         params={"token": "x"}, timeout=5)
    assert response.status_code == 200
    return str(response.json()["replica"])


def test_every_conversation_stays_on_one_replica_on_every_channel(
        balanced: tuple[Topology, dict[str, Replica]]) -> None:
    topology, _ = balanced
    senders = [f"+49151{n:07d}" for n in range(24)]
    for route in (_sms, _rest):
        first = {sender: route(topology, sender, "hello") for sender in senders}
        assert set(first.values()) == {"rasa1", "rasa2"}, "conversations are spread over both replicas"
        for turn in ("yes", "agent"):
            assert {sender: route(topology, sender, turn) for sender in senders} == first
    ids = [f"rest:{n}" for n in range(24)]
    first = {conversation: _api(topology, conversation) for conversation in ids}
    assert set(first.values()) == {"rasa1", "rasa2"}
    assert {conversation: _api(topology, conversation) for conversation in ids} == first


def test_a_conversations_sms_rest_turns_and_api_calls_reach_the_same_replica(
        balanced: tuple[Topology, dict[str, Replica]]) -> None:
    topology, _ = balanced
    for n in range(16):
        phone, chat = f"+49153{n:07d}", f"chat-{n}"
        assert _sms(topology, phone, "hi") == _api(topology, phone)
        assert _rest(topology, chat, "hi") == _api(topology, f"rest:{chat}")


def test_a_dead_replicas_conversations_go_on_on_the_other_without_an_error(
        balanced: tuple[Topology, dict[str, Replica]]) -> None:
    topology, replicas = balanced
    senders = [f"+49152{n:07d}" for n in range(30)]
    before = {sender: _sms(topology, sender, "hello") for sender in senders}
    replicas["rasa1"].stop()
    # At once (before the checks notice): refused connections are retried on the other replica.
    assert {sender: _sms(topology, sender, "still there?") for sender in senders} == dict.fromkeys(senders, "rasa2")
    moved = [sender for sender, replica in before.items() if replica == "rasa1"]
    assert moved, "some conversations were on the replica that died"
    assert {sender: _rest(topology, sender, "hi") for sender in senders} == dict.fromkeys(senders, "rasa2")


def test_actions_and_web_go_through_their_fronts(balanced: tuple[Topology, dict[str, Replica]]) -> None:
    topology, replicas = balanced
    assert httpx.post(f"http://127.0.0.1:{topology.actions_front}/webhook", json={}, timeout=5).json() == \
        {"replica": "actions1"}
    assert httpx.get(f"http://127.0.0.1:{topology.web_front}/t/abc", timeout=5).json() == {"replica": "web1"}
    assert replicas["actions1"].requests == 1 and replicas["web1"].requests == 1
