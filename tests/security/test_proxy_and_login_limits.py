"""Rate limits behind X-Forwarded-For, and the console login limits (issue 12, item 8).

Against the real web process, started as `bot.processes.launch` starts it: X-Forwarded-For is believed only
from the proxies named in TRUSTED_PROXIES (none by default), so rotating it bypasses neither the
tracking lookup limit nor the login limit. Failed logins are limited per account and per client:
spraying one password at many accounts from one client runs out, and so does guessing one
account's password from many clients.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.core.runtime import Runtime
from bot.core.settings import ROOT, ConfigError, load_settings
from bot.desk.agents import create_agent
from bot.processes.devstack import Stack
from bot.processes.launch import command
from tests.conftest import make_settings

PASSWORD = "correct horse battery"
LIMITS = {"LOOKUP_ATTEMPTS_PER_HOUR": "3", "LOGIN_ATTEMPTS_PER_ACCOUNT": "3", "LOGIN_ATTEMPTS_PER_CLIENT": "5"}
addresses = (f"10.{n // 250}.{n % 250}.{7}" for n in itertools.count(1))


def start_web(workdir: Path, **env: str) -> Stack:
    """The web process alone, on its own database with the demo world and two agents."""
    stack = Stack(workdir, processes=("web",), extra_env={**LIMITS, **env})
    stack.setup()
    runtime = Runtime.build(stack.settings)
    try:
        with runtime.sessions() as session, session.begin():
            for email in ("sam@example.com", "kim@example.com"):
                create_agent(session, email=email, name=email.split("@")[0], password=PASSWORD, role="agent")
    finally:
        runtime.engine.dispose()
    stack.start()
    return stack


@pytest.fixture(scope="module")
def direct(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Clients talk to the web process directly (TRUSTED_PROXIES left empty, the default)."""
    stack = start_web(tmp_path_factory.mktemp("direct"))
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Behind a proxy on 127.0.0.1 that is configured as trusted: its X-Forwarded-For names the client."""
    stack = start_web(tmp_path_factory.mktemp("proxied"), TRUSTED_PROXIES="127.0.0.1")
    yield stack
    stack.stop()


def web(stack: Stack) -> httpx.Client:
    return httpx.Client(base_url=stack.settings.web_internal_url, timeout=60)


def try_login(client: httpx.Client, email: str, password: str, forwarded_for: str | None = None) -> int:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    form = client.get("/agent/login", headers=headers)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None, form.text[:300]
    answer = client.post("/agent/login", headers=headers, follow_redirects=False,
                         data={"email": email, "password": password, "csrf_token": token.group(1), "next": "/agent"})
    return answer.status_code


def test_the_web_process_believes_forwarded_headers_only_from_trusted_proxies() -> None:
    argv, _ = command("web", make_settings("sqlite://"))
    assert "--no-proxy-headers" in argv and "--forwarded-allow-ips" not in argv
    argv, _ = command("web", make_settings("sqlite://", trusted_proxies="10.0.0.5, 192.168.0.0/24"))
    assert "--proxy-headers" in argv and argv[argv.index("--forwarded-allow-ips") + 1] == "10.0.0.5,192.168.0.0/24"


@pytest.mark.parametrize("value", ["*", "proxy.internal", "10.0.0.300", "10.0.0.0/33"])
def test_trusted_proxies_must_be_addresses_or_networks(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.chdir(ROOT / "tests")  # no .env here
    monkeypatch.setenv("TRUSTED_PROXIES", value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "TRUSTED_PROXIES" in str(caught.value)


def test_rotating_x_forwarded_for_does_not_bypass_the_lookup_limit(direct: Stack) -> None:
    with web(direct) as client:
        answers = [client.post("/t/lookup", headers={"X-Forwarded-For": next(addresses)},
                               data={"tracking_number": "DS0000000000", "postcode": "10115"}).status_code
                   for _ in range(5)]
    assert answers[:3] == [200, 200, 200]  # "no match", three times
    assert answers[3:] == [429, 429]


def test_rotating_x_forwarded_for_does_not_bypass_the_login_limit(direct: Stack) -> None:
    with web(direct) as client:
        answers = [try_login(client, "sam@example.com", f"guess {n}", forwarded_for=next(addresses)) for n in range(4)]
        assert answers == [401, 401, 401, 429]
        # Locked: even the right password waits, whatever the header says.
        assert try_login(client, "sam@example.com", PASSWORD, forwarded_for=next(addresses)) == 429


def test_spraying_one_password_at_many_accounts_from_one_client_is_limited(proxied: Stack) -> None:
    sprayer = next(addresses)
    with web(proxied) as client:
        answers = [try_login(client, f"agent{n}@example.com", "Winter2026!", forwarded_for=sprayer) for n in range(6)]
        assert answers == [401] * 5 + [429]
        # The limit is the sprayer's: the same account from another client still logs in.
        assert try_login(client, "kim@example.com", PASSWORD, forwarded_for=next(addresses)) == 303


def test_guessing_one_account_from_many_clients_is_limited(proxied: Stack) -> None:
    with web(proxied) as client:
        answers = [try_login(client, "sam@example.com", f"guess {n}", forwarded_for=next(addresses)) for n in range(4)]
        assert answers == [401, 401, 401, 429]
        assert try_login(client, "sam@example.com", PASSWORD, forwarded_for=next(addresses)) == 429
        # Another account is not affected.
        assert try_login(client, "kim@example.com", PASSWORD, forwarded_for=next(addresses)) == 303


def test_an_unknown_email_and_a_wrong_password_get_the_same_answer(proxied: Stack) -> None:
    with web(proxied) as client:
        headers = {"X-Forwarded-For": next(addresses)}
        answers = []
        for email in ("nobody@example.com", "kim@example.com"):
            form = client.get("/agent/login", headers=headers)
            token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
            assert token is not None
            answers.append(client.post("/agent/login", headers=headers, data={
                "email": email, "password": "not it", "csrf_token": token.group(1), "next": "/agent"}))
    unknown, wrong = answers
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.text == wrong.text
