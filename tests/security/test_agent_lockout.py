"""Nobody can keep an agent locked out of the console (issue 12, attacker's re-test).

The per-account login limit is counted before the password check, so anyone who knows an agent's email
could use it up from many addresses and lock the agent out. A browser the agent logged in from keeps a
signed device cookie; the agent's logins from it skip the per-account count (still counted per client,
and on the device's own allowance). Against the real web process behind a trusted proxy, so each
X-Forwarded-For is another client.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from itsdangerous import URLSafeTimedSerializer
from itsdangerous.encoding import base64_decode, base64_encode

from bot.core.runtime import Runtime
from bot.desk.agents import create_agent
from bot.processes.devstack import Stack
from bot.web.auth import COOKIE, DEVICE_COOKIE

PASSWORD = "correct horse battery"
AGENTS = ("sam", "kim", "ann", "bob", "cat")
LIMITS = {"LOGIN_ATTEMPTS_PER_ACCOUNT": "3", "LOGIN_ATTEMPTS_PER_CLIENT": "5", "LOGIN_ATTEMPTS_PER_DEVICE": "3",
          "TRUSTED_PROXIES": "127.0.0.1"}
addresses = (f"10.{n // 250}.{n % 250}.9" for n in itertools.count(1))
agent_ids: dict[str, int] = {}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The web process alone, on its own database, with a few agents."""
    stack = Stack(Path(tmp_path_factory.mktemp("lockout")), processes=("web",), extra_env=LIMITS)
    stack.setup()
    runtime = Runtime.build(stack.settings)
    try:
        with runtime.sessions() as session, session.begin():
            for name in AGENTS:
                agent = create_agent(session, email=f"{name}@example.com", name=name, password=PASSWORD, role="agent")
                session.flush()
                agent_ids[name] = agent.id
    finally:
        runtime.engine.dispose()
    with stack as running:
        yield running


def browser(stack: Stack) -> httpx.Client:
    return httpx.Client(base_url=stack.settings.web_internal_url, timeout=60)


def log_in(client: httpx.Client, email: str, password: str, address: str | None = None) -> httpx.Response:
    """One login through the form, from `address` (a fresh one unless given); the session is not kept."""
    headers = {"X-Forwarded-For": address or next(addresses)}
    form = client.get("/agent/login", headers=headers)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None, form.text[:300]
    answer = client.post("/agent/login", headers=headers, follow_redirects=False,
                         data={"email": email, "password": password, "csrf_token": token.group(1), "next": "/agent"})
    client.cookies.delete(COOKIE)  # logged in or not, the next attempt starts at the form again
    return answer


def lock(client: httpx.Client, email: str) -> None:
    """The attack: wrong passwords for `email` from many addresses until the account is locked."""
    answers = [log_in(client, email, f"guess {n}").status_code for n in range(4)]
    assert answers == [401, 401, 401, 429]


def test_a_locked_agent_still_logs_in_from_a_browser_they_used_before(stack: Stack) -> None:
    with browser(stack) as agents_browser, browser(stack) as attacker, browser(stack) as new_browser:
        first = log_in(agents_browser, "sam@example.com", PASSWORD)
        assert first.status_code == 303
        device_cookie = next(c for c in first.headers.get_list("set-cookie") if c.startswith(f"{DEVICE_COOKIE}="))
        assert "httponly" in device_cookie.lower() and "samesite=strict" in device_cookie.lower()
        assert f"max-age={90 * 24 * 3600}" in device_cookie.lower()

        lock(attacker, "sam@example.com")
        # A browser the agent never logged in from waits, as before ...
        assert log_in(new_browser, "sam@example.com", PASSWORD).status_code == 429
        # ... but the agent's own browser gets in with the right password, from any address.
        assert log_in(agents_browser, "sam@example.com", PASSWORD).status_code == 303
        assert log_in(agents_browser, "sam@example.com", PASSWORD).status_code == 303
        # The account stays locked for everyone else.
        assert log_in(attacker, "sam@example.com", PASSWORD).status_code == 429


def test_another_agents_or_a_forged_device_cookie_does_not_bypass_the_lock(stack: Stack) -> None:
    with browser(stack) as kims_browser, browser(stack) as attacker:
        assert log_in(kims_browser, "kim@example.com", PASSWORD).status_code == 303
        lock(attacker, "ann@example.com")
        # Kim's valid device cookie is for Kim, not for Ann.
        assert log_in(kims_browser, "ann@example.com", PASSWORD).status_code == 429
        kims_device = kims_browser.cookies.get(DEVICE_COOKIE)
        assert kims_device is not None

    payload, timestamp, signature = kims_device.split(".")
    claim = json.loads(base64_decode(payload))
    anns_claim = base64_encode(json.dumps({**claim, "agent": agent_ids["ann"]}, separators=(",", ":"))).decode()
    forged = [
        f"{anns_claim}.{timestamp}.{signature}",  # Kim's signature on a claim for Ann
        URLSafeTimedSerializer("guessed-secret", salt="agent-login-device").dumps(
            {"agent": agent_ids["ann"], "device": "x"}),
        "not a cookie",
    ]
    for value in forged:
        with browser(stack) as attacker:
            attacker.cookies.set(DEVICE_COOKIE, value)
            assert log_in(attacker, "ann@example.com", PASSWORD).status_code == 429
    # Kim's own browser still works for Kim.
    with browser(stack) as kims_browser:
        kims_browser.cookies.set(DEVICE_COOKIE, kims_device)
        assert log_in(kims_browser, "kim@example.com", PASSWORD).status_code == 303


def test_a_device_cookie_that_fails_too_often_stops_bypassing_the_lock(stack: Stack) -> None:
    with browser(stack) as bobs_browser, browser(stack) as attacker:
        assert log_in(bobs_browser, "bob@example.com", PASSWORD).status_code == 303
        lock(attacker, "bob@example.com")
        # Someone at Bob's browser (or with a stolen copy of its cookie) gets the device's three tries ...
        answers = [log_in(bobs_browser, "bob@example.com", f"guess {n}").status_code for n in range(3)]
        assert answers == [401, 401, 401]
        # ... and then the device is just another client of a locked account.
        assert log_in(bobs_browser, "bob@example.com", PASSWORD).status_code == 429
