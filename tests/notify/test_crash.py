"""Kill the dispatcher with SIGKILL in the middle of a wave and start it again: every planned message
is sent exactly once (the scheduler process for real, the fake Twilio API counting)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from bench.notify_wave import build_wave
from bot.core.models import Notification, utcnow
from bot.core.runtime import Runtime
from bot.core.schema import migrate
from bot.core.settings import ROOT
from bot.notify.planner import load_shipments, sync_plans
from bot.notify.rules import load_rules
from tests.conftest import make_settings
from tests.notify.helpers import fake_twilio

WAVE = 1500


def count(runtime: Runtime, status: str) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).where(Notification.status == status)) or 0


def start_scheduler(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "bot", "scheduler"], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)


def test_sigkill_mid_wave_then_restart_sends_every_message_exactly_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    migrate(url)
    settings = make_settings(url)
    runtime = Runtime.build(settings)
    now = utcnow()
    with runtime.sessions() as session:
        ids = build_wave(session, WAVE, now)
        sync_plans(session, load_shipments(session, ids), now, load_rules())
        session.commit()
    assert count(runtime, "planned") == WAVE
    log = tmp_path / "scheduler.log"
    # The fake answers where the outbox would, with the outbox's credentials: the scheduler runs
    # with its defaults.
    with fake_twilio(delay_seconds=0.02, prefix="/outbox/twilio", account_sid=settings.outbox_account_sid,
                     auth_token=settings.outbox_auth_token) as (fake, base):
        env = {**os.environ, "DATABASE_URL": url, "WEB_INTERNAL_URL": base, "PUBLIC_BASE_URL": base,
               "RASA_URL": "http://127.0.0.1:9", "NOTIFY_CONCURRENCY": "4", "NOTIFY_BATCH": "100",
               "NOTIFY_CLAIM_LEASE_SECONDS": "2", "NOTIFY_TICK_SECONDS": "0.5", "SANDBOX_TICK_SECONDS": "60"}
        first = start_scheduler(env, log)
        try:
            deadline = time.monotonic() + 60
            # Kill while a batch is with the provider: claimed, partly sent, not yet recorded.
            while not (len(fake.received) >= 200 and count(runtime, "sending") > 0) and time.monotonic() < deadline:
                time.sleep(0.01)
            assert len(fake.received) >= 200, log.read_text()[-2000:]
        finally:
            os.kill(first.pid, signal.SIGKILL)
            first.wait()
        time.sleep(0.3)
        in_flight = count(runtime, "sending")
        assert in_flight > 0, "the kill landed between claim and record"
        assert len(fake.received) < WAVE, "the kill landed mid-wave"
        second = start_scheduler(env, log)
        try:
            deadline = time.monotonic() + 120
            while count(runtime, "sent") < WAVE and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            second.terminate()
            second.wait(timeout=10)
    assert count(runtime, "sent") == WAVE, log.read_text()[-2000:]
    assert fake.duplicates == 0
    assert len(fake.received) == WAVE
    runtime.engine.dispose()
