"""Shared pieces of the notification tests: the fake Twilio API served for real, a world to plan from."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import uvicorn

from bench.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio
from bot.core.runtime import Runtime
from bot.notify.dispatch import Dispatcher, DispatchReport
from bot.notify.planner import load_shipments, sync_plans
from bot.notify.providers import Sent, TwilioSms
from bot.notify.rules import Rules, load_rules
from bot.processes.devstack import free_port


@contextmanager
def served(app: Any) -> Iterator[str]:
    """An ASGI app served for real on a free local port, in a thread; its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        threading.Event().wait(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)


@contextmanager
def fake_twilio(**kwargs: Any) -> Iterator[tuple[FakeTwilio, str]]:
    fake = FakeTwilio(**kwargs)
    with served(fake) as base:
        yield fake, base


class MailRecorder:
    """An EmailSender that keeps what it was given (for tests where email is not the subject)."""

    name = "mail-recorder"

    def __init__(self) -> None:
        self.sent: Counter[tuple[str, str]] = Counter()

    async def send(self, to: str, subject: str, text: str, html: str, custom_args: dict[str, str],
                   attachments: tuple[object, ...] = ()) -> Sent:
        self.sent[(to, text)] += 1
        return Sent(self.name, f"mail-{sum(self.sent.values())}")

    async def close(self) -> None:
        return None


def twilio_sms(base: str, timeout: float = 2.0) -> TwilioSms:
    return TwilioSms(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, api_base=base, from_number="+4930901820",
                     timeout=timeout)


def plan(runtime: Runtime, now: datetime, rules: Rules | None = None) -> int:
    from sqlalchemy import select

    from bot.core.models import Shipment

    with runtime.sessions() as session:
        ids = list(session.scalars(select(Shipment.id)))
        created = sync_plans(session, load_shipments(session, ids), now, rules or load_rules())
        session.commit()
    return created


def dispatch(runtime: Runtime, now: datetime, twilio_base: str, email: MailRecorder, rules: Rules | None = None,
             worker: str = "test", timeout: float = 2.0) -> DispatchReport:
    async def go() -> DispatchReport:
        sms = twilio_sms(twilio_base, timeout)  # the SDK's aiohttp session belongs to this loop
        dispatcher = Dispatcher(runtime.sessions, runtime.settings, rules or load_rules(), sms=sms, email=email,
                                worker=worker)
        try:
            return await dispatcher.run_once(now)
        finally:
            await sms.close()

    return asyncio.run(go())
