"""The agent console and dashboard over HTTP, without Rasa: login, sessions, CSRF, claiming, the queue."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from bot.carriers.sandbox.world import build_world
from bot.conversation.handoffs import create_handoff
from bot.core.clock import start_clock
from bot.core.models import Agent, AgentSession, AuditLog, Handoff, Shipment, utcnow
from bot.core.runtime import Runtime
from bot.core.settings import ROOT
from bot.desk.agents import AgentError, authenticate, create_agent
from bot.desk.handoff_desk import claim, queue
from bot.desk.ops_stats import dashboard
from tests import worlds
from tests.conftest import T0
from tests.test_web import LiveServer

PASSWORD = "correct horse battery"


@pytest.fixture
def world(sqlite_runtime: Runtime) -> Runtime:
    worlds.load_world(sqlite_runtime, world_speed=30, built_at=T0)
    with sqlite_runtime.sessions() as session, session.begin():
        create_agent(session, email="sam@example.com", name="Sam", password=PASSWORD, role="agent")
        create_agent(session, email="kim@example.com", name="Kim", password=PASSWORD, role="agent")
        create_agent(session, email="boss@example.com", name="Boss", password=PASSWORD, role="supervisor")
    return sqlite_runtime


@pytest.fixture
def live(world: Runtime) -> Iterator[LiveServer]:
    with LiveServer(world.settings) as server:
        yield server


def open_handoff(runtime: Runtime, sender: str = "+4915199990001") -> int:
    with runtime.sessions() as session, session.begin():
        shipment = session.scalars(select(Shipment).order_by(Shipment.id)).first()
        assert shipment is not None
        handoff = create_handoff(session, channel="twilio", sender_id=sender, reason="request",
                                 summary="Reason: asked for a person\ncustomer: i want a human  [talk_to_human]",
                                 customer_id=shipment.customer_id, shipment_id=shipment.id)
        return handoff.id


OPEN: list[httpx.Client] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while OPEN:
        OPEN.pop().close()


def client_for(server: LiveServer) -> httpx.Client:
    client = httpx.Client(base_url=server.url)
    OPEN.append(client)
    return client


def login(server: LiveServer, email: str = "sam@example.com", password: str = PASSWORD) -> tuple[httpx.Client, str]:
    """A logged-in client and its CSRF token (read from the queue page, as a browser would)."""
    client = client_for(server)
    form = client.get("/agent/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    response = client.post("/agent/login", data={"email": email, "password": password,
                                                  "csrf_token": token.group(1), "next": "/agent"})
    assert response.status_code == 303, response.text
    page = client.get("/agent")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert page.status_code == 200 and csrf is not None
    return client, csrf.group(1)


def console_routes(server: LiveServer) -> list[tuple[str, str]]:
    """Every (method, path) of the console and dashboard, with a real handoff id in the path."""
    routes = []
    for path, operations in server.app.openapi()["paths"].items():
        if not path.startswith(("/agent", "/ops")) or path == "/agent/login":
            continue
        for method in sorted(operations):
            routes.append((method.upper(), path.replace("{handoff_id}", "1").replace("{notification_id}", "1")
                           .replace("{claim_id}", "1")))
    return routes


def test_every_console_route_refuses_a_request_without_a_session(live: LiveServer, world: Runtime) -> None:
    open_handoff(world)
    routes = console_routes(live)
    assert len(routes) >= 12 and ("GET", "/agent/dashboard") in routes and ("GET", "/ops/notifications") in routes
    for method, path in routes:
        stream = path.endswith("stream")
        response = httpx.request(method, live.url + path, follow_redirects=False,
                                 headers={"Accept": "text/event-stream"} if stream else {})
        if method == "GET" and not stream and not path.endswith(".json"):  # a page: to the login form
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/agent/login"), path
        else:
            assert response.status_code == 401, (method, path)
    # A forged cookie is no session either.
    forged = httpx.get(f"{live.url}/agent", cookies={"doorstep_agent": "abc.def"}, follow_redirects=False)
    assert forged.status_code == 303
    with world.sessions() as session:
        assert session.get(Handoff, 1).status == "open"  # nothing changed


def test_every_state_changing_route_refuses_a_request_without_the_csrf_token(live: LiveServer, world: Runtime) -> None:
    handoff_id = open_handoff(world)
    client, csrf = login(live)
    posts = [path for method, path in console_routes(live) if method == "POST"]
    assert {"/agent/logout", "/agent/handoffs/1/claim", "/agent/handoffs/1/reply", "/agent/handoffs/1/close",
            "/agent/handoffs/1/change"} <= set(posts)
    for path in posts:
        assert client.post(path, data={"text": "hi", "note": "x"}).status_code == 403, path
        assert client.post(path, data={"text": "hi", "csrf_token": "wrong"}).status_code == 403, path
        assert client.post(path, headers={"X-CSRF-Token": csrf + "x"}).status_code == 403, path
    with world.sessions() as session:
        assert session.get(Handoff, handoff_id).status == "open"
    assert client.get("/agent").status_code == 200  # still logged in: logout without a token did nothing
    # With the token the same request works.
    assert client.post(f"/agent/handoffs/{handoff_id}/claim", data={"csrf_token": csrf}).status_code == 303
    with world.sessions() as session:
        assert session.get(Handoff, handoff_id).status == "assigned"


def test_login_sets_a_strict_httponly_cookie_and_logout_ends_the_session(live: LiveServer, world: Runtime) -> None:
    client = client_for(live)
    form = client.get("/agent/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    no_csrf = httpx.post(f"{live.url}/agent/login", data={"email": "sam@example.com", "password": PASSWORD})
    assert no_csrf.status_code == 403
    wrong = client.post("/agent/login", data={"email": "sam@example.com", "password": "nope", "csrf_token": token})
    unknown = client.post("/agent/login", data={"email": "who@example.com", "password": "nope", "csrf_token": token})
    assert wrong.status_code == unknown.status_code == 401 and "Wrong email or password" in unknown.text
    ok = client.post("/agent/login", data={"email": "SAM@example.com", "password": PASSWORD, "csrf_token": token,
                                           "next": "https://evil.example/"})
    assert ok.status_code == 303 and ok.headers["location"] == "/agent"  # no open redirect
    cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    stolen = dict(client.cookies)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/agent").text).group(1)  # type: ignore[union-attr]
    assert client.post("/agent/logout", data={"csrf_token": csrf}).status_code == 303
    replay = httpx.get(f"{live.url}/agent", cookies=stolen, follow_redirects=False)
    assert replay.status_code == 303  # the old cookie is worth nothing after logout
    with world.sessions() as session:
        actions = session.scalars(select(AuditLog.action).where(AuditLog.actor.like("agent:%"))).all()
        assert {"agent.login", "agent.logout"} <= set(actions)


def test_a_session_expires(live: LiveServer, world: Runtime) -> None:
    client, _ = login(live)
    with world.sessions() as session, session.begin():
        for row in session.scalars(select(AgentSession)):
            row.last_seen_at = utcnow() - timedelta(minutes=world.settings.agent_idle_minutes + 1)
    assert client.get("/agent", follow_redirects=False).status_code == 303
    client, _ = login(live)
    with world.sessions() as session, session.begin():
        for row in session.scalars(select(AgentSession)):
            row.expires_at = utcnow() - timedelta(seconds=1)
    assert client.get("/agent", follow_redirects=False).status_code == 303


def test_only_supervisors_and_the_claiming_agent_may_work_on_a_conversation(live: LiveServer, world: Runtime) -> None:
    handoff_id = open_handoff(world)
    sam, sam_csrf = login(live)
    kim, kim_csrf = login(live, "kim@example.com")
    assert sam.post(f"/agent/handoffs/{handoff_id}/claim", data={"csrf_token": sam_csrf}).status_code == 303
    taken = kim.post(f"/agent/handoffs/{handoff_id}/claim", data={"csrf_token": kim_csrf})
    assert taken.status_code == 303 and taken.headers["location"] == "/agent?msg=taken"
    assert kim.post(f"/agent/handoffs/{handoff_id}/close", data={"csrf_token": kim_csrf}).status_code == 409
    assert kim.post(f"/agent/handoffs/{handoff_id}/reply", data={"csrf_token": kim_csrf, "text": "hi"}).status_code == 409
    with world.sessions() as session:
        handoff = session.get(Handoff, handoff_id)
        assert handoff.status == "assigned" and handoff.agent_id == session.scalar(
            select(Agent.id).where(Agent.email == "sam@example.com"))


def test_two_agents_claiming_at_once_get_one_winner(runtime: Runtime) -> None:
    """On SQLite and PostgreSQL: the conditional UPDATE lets exactly one of them have it."""
    with runtime.sessions() as session, session.begin():
        build_world(session, seed=7, speed=30, now=T0)
        agents = [create_agent(session, email=f"a{i}@example.com", name=f"A{i}", password=PASSWORD, role="agent").id
                  for i in range(6)]
    handoff_id = open_handoff(runtime)
    wins: list[int] = []
    barrier = threading.Barrier(len(agents))

    def attempt(agent_id: int) -> None:
        with runtime.sessions() as session:
            agent = session.get(Agent, agent_id)
            barrier.wait()
            if claim(session, handoff_id=handoff_id, agent=agent):
                wins.append(agent_id)
            session.commit()

    threads = [threading.Thread(target=attempt, args=(a,)) for a in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(wins) == 1
    with runtime.sessions() as session:
        assert session.get(Handoff, handoff_id).agent_id == wins[0]
        claims = session.scalars(select(AuditLog).where(AuditLog.action == "handoff.claim")).all()
        assert [c.actor for c in claims] == [f"agent:{wins[0]}"]


def test_the_queue_puts_upset_customers_first_then_the_longest_waiting(sqlite_runtime: Runtime) -> None:
    worlds.load_world(sqlite_runtime, world_speed=30, built_at=T0)
    with sqlite_runtime.sessions() as session, session.begin():
        first = create_handoff(session, channel="twilio", sender_id="+4915100000001", reason="request",
                               summary="customer: hello", customer_id=None, shipment_id=None)
        first.opened_at = utcnow() - timedelta(minutes=10)
        later = create_handoff(session, channel="socketio", sender_id="web:abcdefgh", reason="request",
                               summary="customer: hi", customer_id=None, shipment_id=None)
        later.opened_at = utcnow() - timedelta(minutes=2)
        angry = create_handoff(session, channel="twilio", sender_id="+4915100000002", reason="angry",
                               summary="customer: this is useless  [talk_to_human]", customer_id=None, shipment_id=None)
    with sqlite_runtime.sessions() as session:
        items = queue(session)
    assert [i["id"] for i in items] == [angry.id, first.id, later.id]
    assert items[0]["asked"] == "this is useless" and items[2]["channel"] == "web chat"


def test_agents_are_created_from_the_command_line(world: Runtime) -> None:
    env = {"DATABASE_URL": world.settings.database_url, "DOORSTEP_AGENT_PASSWORD": "a long enough password",
           "PATH": "/usr/bin:/bin"}
    made = subprocess.run([sys.executable, "-m", "bot", "agent", "create", "--email", "new@example.com",
                           "--role", "supervisor"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    again = subprocess.run([sys.executable, "-m", "bot", "agent", "create", "--email", "new@example.com"],
                           cwd=ROOT, env=env, capture_output=True, text=True)
    assert again.returncode == 2 and "exists already" in again.stderr
    short = subprocess.run([sys.executable, "-m", "bot", "agent", "create", "--email", "x@example.com"], cwd=ROOT,
                           env={**env, "DOORSTEP_AGENT_PASSWORD": "short"}, capture_output=True, text=True)
    assert short.returncode == 2 and "at least" in short.stderr
    with world.sessions() as session:
        agent = authenticate(session, email="new@example.com", password="a long enough password")
        assert agent is not None and agent.role == "supervisor" and agent.password_hash.startswith("$argon2")
        with pytest.raises(AgentError):
            create_agent(session, email="y@example.com", name="", password=PASSWORD, role="admin")


def test_the_dashboard_shows_todays_figures(live: LiveServer, world: Runtime) -> None:
    open_handoff(world)
    client, _ = login(live)
    page = client.get("/agent/dashboard")
    assert page.status_code == 200 and "<svg" in page.text and "Today&#39;s deliveries by state" in page.text
    data = client.get("/agent/dashboard.json").json()
    assert {"deliveries", "messages", "opt_outs", "changes", "conversations", "agents", "eta"} <= set(data)
    assert data["conversations"]["handed_off"] == 1 and data["agents"]["waiting"] == 1
    assert data["agents"]["median_seconds"] is None  # nobody has answered yet


def test_dashboard_figures_count_the_business_day(sqlite_runtime: Runtime) -> None:
    """Deliveries inside/outside their promised window, changes by customers and agents, first replies."""
    worlds.load_world(sqlite_runtime, world_speed=30, built_at=T0)
    with sqlite_runtime.sessions() as session, session.begin():
        start_clock(session, sim_start=T0 + timedelta(hours=8), speed=1.0, at=utcnow())  # 10:00 in Berlin, day 1
        shipments = session.scalars(select(Shipment).where(Shipment.promised_start.is_not(None))
                                    .order_by(Shipment.id)).all()[:3]
        inside, late, _ = shipments
        inside.promised_start, inside.promised_end = T0 + timedelta(hours=1), T0 + timedelta(hours=2)
        late.promised_start, late.promised_end = T0, T0 + timedelta(hours=1)
        for shipment in (inside, late):
            shipment.status, shipment.delivered_at = "delivered", T0 + timedelta(hours=1, minutes=30)
        session.add_all([AuditLog(actor="carrier:sandbox", action="reschedule", entity="shipment", entity_id="1"),
                         AuditLog(actor="carrier:sandbox", action="reschedule", entity="shipment", entity_id="2"),
                         AuditLog(actor="carrier:sandbox", action="redirect_to_locker", entity="shipment", entity_id="3"),
                         AuditLog(actor="agent:1", action="handoff.reschedule", entity="handoff", entity_id="9")])
        handoff = create_handoff(session, channel="twilio", sender_id="+4915100000009", reason="request",
                                 summary="", customer_id=None, shipment_id=None)
        handoff.opened_at = utcnow() - timedelta(seconds=90)
        session.flush()
        session.add(AuditLog(actor="agent:1", action="handoff.reply", entity="handoff", entity_id=str(handoff.id),
                             at=utcnow() - timedelta(seconds=30)))
    with sqlite_runtime.sessions() as session:
        data = dashboard(session, sqlite_runtime.clock)
    assert data["eta"]["delivered"] == 2 and data["eta"]["inside"] == 1 and data["eta"]["share"] == 0.5
    assert data["eta"]["by_hour"] == {8: {"inside": 1, "outside": 1}}  # 07:30 UTC is 08:30 in Berlin
    assert data["changes"] == {"customers": {"locker": 1, "reschedule": 1}, "agents": {"reschedule": 1}}
    assert 55 <= data["agents"]["median_seconds"] <= 65 and data["agents"]["answered"] == 1
    assert sum(data["deliveries"].values()) >= 2 and data["deliveries"]["delivered"] >= 2
