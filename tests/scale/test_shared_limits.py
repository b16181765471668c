"""Two web app instances with REDIS_URL set share the lookup and login limits through the machine's
Redis (issue 17): a client that spreads its attempts over both replicas gets no more than from one.
Without Redis answering, each instance still limits on its own, and nobody gets a server error."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import httpx
import pytest
from redis import Redis

from bot.core.runtime import Runtime
from bot.core.settings import Settings
from bot.desk.agents import create_agent
from tests import worlds
from tests.conftest import T0
from tests.test_web import LiveServer
from tests.workers.conftest import REDIS_URL

PASSWORD = "correct horse battery"


@pytest.fixture
def world(sqlite_runtime: Runtime) -> Runtime:
    worlds.load_world(sqlite_runtime, world_speed=30, built_at=T0)
    with sqlite_runtime.sessions() as session, session.begin():
        create_agent(session, email="sam@example.com", name="Sam", password=PASSWORD, role="agent")
    return sqlite_runtime


def limited_settings(world: Runtime, redis_url: str, prefix: str) -> Settings:
    return world.settings.model_copy(update={
        "redis_url": redis_url, "celery_queue_prefix": prefix, "lookup_attempts_per_hour": 4,
        "login_attempts_per_account": 3, "login_attempts_per_client": 100})


@pytest.fixture
def prefix() -> Iterator[str]:
    name = f"test-{uuid.uuid4().hex[:10]}"
    yield name
    client = Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{name}:*"):
        client.delete(key)
    client.close()


@pytest.fixture
def replicas(world: Runtime, prefix: str) -> Iterator[tuple[LiveServer, LiveServer]]:
    settings = limited_settings(world, REDIS_URL, prefix)
    with LiveServer(settings) as one, LiveServer(settings) as two:
        yield one, two


def lookup(server: LiveServer) -> int:
    return httpx.post(f"{server.url}/t/lookup", data={"tracking_number": "DS0000000000", "postcode": "00000"},
                      timeout=10).status_code


def log_in(server: LiveServer, email: str, password: str) -> int:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        form = client.get("/agent/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None, form.text[:300]
        return client.post("/agent/login", follow_redirects=False, data={
            "email": email, "password": password, "csrf_token": token.group(1), "next": "/agent"}).status_code


def test_two_replicas_share_the_lookup_limit(replicas: tuple[LiveServer, LiveServer], prefix: str) -> None:
    one, two = replicas
    answers = [lookup(server) for server in (one, two, one, two)]
    assert 429 not in answers and all(status < 500 for status in answers)
    assert [lookup(one), lookup(two)] == [429, 429], "four an hour from this client, over both replicas together"
    keys = list(Redis.from_url(REDIS_URL).scan_iter(f"{prefix}:ratelimit:lookup:*"))
    assert len(keys) == 1, "counted in Redis, one key for the one client"


def test_two_replicas_share_the_login_limit(replicas: tuple[LiveServer, LiveServer]) -> None:
    one, two = replicas
    assert [log_in(server, "sam@example.com", f"guess {n}") for n, server in enumerate((one, two, one))] == \
        [401, 401, 401]
    # The account's three tries are used up on both replicas, for the right password too.
    assert [log_in(two, "sam@example.com", PASSWORD), log_in(one, "sam@example.com", "guess 4")] == [429, 429]
    assert log_in(two, "kim@example.com", "guess") == 401, "other accounts are not affected"


def test_a_good_login_gives_its_attempt_back_on_every_replica(replicas: tuple[LiveServer, LiveServer]) -> None:
    one, two = replicas
    assert [log_in(one, "sam@example.com", "guess"), log_in(two, "sam@example.com", "guess")] == [401, 401]
    for server in (one, two, one, two):
        assert log_in(server, "sam@example.com", PASSWORD) == 303
    assert log_in(one, "sam@example.com", "guess") == 401, "good logins used none of the account's tries"
    assert log_in(two, "sam@example.com", "guess") == 429


def test_without_redis_each_replica_still_limits_and_nothing_fails(world: Runtime, prefix: str) -> None:
    settings = limited_settings(world, "redis://127.0.0.1:1/0", prefix)  # nothing listens there
    with LiveServer(settings) as one, LiveServer(settings) as two:
        answers = [lookup(server) for server in (one, two) * 5]
    assert all(status < 500 for status in answers)
    assert answers[:8].count(429) == 0 and answers[8:] == [429, 429], "four each, counted in each process"
