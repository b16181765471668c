"""Every operation of the web app's own OpenAPI schema, fuzzed with schemathesis (issue 12): no
generated input gets a server error, without a session and with a supervisor's session (cookie and
CSRF token as the console expects them).

Bounded for CI: a fixed seed, derandomized Hypothesis, MAX_EXAMPLES per operation in the fuzzing
phase (plus schemathesis' deterministic coverage cases). The app runs in process on a temporary
SQLite database with the demo world; SMS and email go to the embedded outbox, and every internal
service URL points at a closed port, so nothing is sent anywhere. Webhooks refuse the unsigned
requests with 403, which is right.

    .venv/bin/python -m pytest tests/security/test_fuzz_openapi.py -q
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from sqlalchemy import select

from bot.carriers.sandbox.world import build_world
from bot.conversation.handoffs import create_handoff
from bot.core.models import Agent, Shipment
from bot.core.runtime import Runtime
from bot.core.schema import migrate
from bot.demo.outbox import record
from bot.desk.agents import create_agent, start_session
from bot.notify.planner import load_shipments, sync_plans
from bot.notify.rules import cached_rules
from bot.processes.devstack import free_port
from bot.web.app import create_app
from bot.web.auth import COOKIE, CSRF_HEADER, _signer, policy
from tests.conftest import T0, make_settings

MAX_EXAMPLES = 20
SEED = 20261201
CONFIG = {
    "seed": SEED,
    # A console stream never ends by itself: it is cut after its first event (the first snapshot).
    "max-stream-events": 1,
    # /healthz answers 503 by design while Rasa, the action server and the scheduler are down (as here).
    "operations": [{"include-path": "/healthz",
                    "checks": {"not_a_server_error": {"expected-statuses": ["1XX", "2XX", "3XX", "4XX", "503"]}}}],
}
REQUEST_TIMEOUT = 60.0
FUZZ = settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def fuzzed_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    """The web app on a fresh demo world with agents, handoffs, notifications and outbox mail to look at."""
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('fuzz')) / 'app.db'}"
    migrate(url)
    closed = {name: f"http://127.0.0.1:{free_port()}" for name in ("rasa", "web", "actions")}
    app_settings = make_settings(
        url, sms_provider="outbox", email_provider="outbox", carriers="",
        rasa_url=closed["rasa"], web_internal_url=closed["web"], action_server_url=f"{closed['actions']}/webhook",
    )
    runtime = Runtime.build(app_settings)
    with runtime.sessions() as session, session.begin():
        build_world(session, seed=7, speed=30, now=T0)
        create_agent(session, email="boss@example.com", name="Boss", password="correct horse battery",
                     role="supervisor")
        shipments = list(session.scalars(select(Shipment).order_by(Shipment.id)).all())
        for n, shipment in enumerate(shipments[:3]):
            create_handoff(session, channel="twilio", sender_id=shipment.customer.phone, reason="request",
                           summary="asked for a person", customer_id=shipment.customer_id, shipment_id=shipment.id)
            record(session, channel="email", to=shipment.customer.email, sender="updates@doorstep.example",
                   body=f"mail {n}", subject="Your parcel").html = f"<p>mail {n}</p>"
            record(session, channel="sms", to=shipment.customer.phone, sender="+4930901820", body=f"sms {n}")
        sync_plans(session, load_shipments(session, [s.id for s in shipments]), T0, cached_rules(""))
    runtime.engine.dispose()
    app = create_app(app_settings)
    yield app
    app.state.runtime.engine.dispose()


@pytest.fixture
def supervisor_session(fuzzed_app: FastAPI) -> Callable[[], tuple[dict[str, str], dict[str, str]]]:
    """A fresh console session per call (a fuzzed POST /agent/logout ends the one before): cookie and CSRF header."""
    runtime: Runtime = fuzzed_app.state.runtime

    def new_session() -> tuple[dict[str, str], dict[str, str]]:
        with runtime.sessions() as session, session.begin():
            agent = session.scalars(select(Agent).where(Agent.role == "supervisor")).one()
            row = start_session(session, agent, policy(runtime.settings))
            cookie = _signer(runtime.settings).sign(row.id).decode()
            return {COOKIE: cookie}, {CSRF_HEADER: row.csrf_token}

    return new_session


def _openapi() -> dict[str, Any]:
    """The app's own schema (the same for every instance; no database is opened for it)."""
    app = create_app(make_settings("sqlite://"))
    try:
        return app.openapi()
    finally:
        app.state.runtime.engine.dispose()


schema = schemathesis.openapi.from_dict(_openapi(), config=SchemathesisConfig.from_dict(CONFIG))


@schema.parametrize()
@FUZZ
def test_no_generated_request_gets_a_server_error_with_or_without_a_session(
    case: schemathesis.Case, fuzzed_app: FastAPI,
    supervisor_session: Callable[[], tuple[dict[str, str], dict[str, str]]],
) -> None:
    """Each generated request is sent twice: as a stranger, and as a logged-in supervisor."""
    case.call_and_validate(checks=[not_a_server_error], app=fuzzed_app, timeout=REQUEST_TIMEOUT)
    cookies, headers = supervisor_session()
    s = fuzzed_app.state.runtime.settings
    if case.path.startswith("/outbox/twilio/"):  # the outbox's own credentials, as the Twilio SDK sends them
        case.path_parameters = {**(case.path_parameters or {}), "account_sid": s.outbox_account_sid}
        basic = base64.b64encode(f"{s.outbox_account_sid}:{s.outbox_auth_token}".encode()).decode()
        headers["Authorization"] = f"Basic {basic}"
    elif case.path.startswith("/outbox/sendgrid/"):
        headers["Authorization"] = f"Bearer {s.outbox_auth_token}"
    case.call_and_validate(checks=[not_a_server_error], app=fuzzed_app, timeout=REQUEST_TIMEOUT, cookies=cookies,
                           headers=headers)
