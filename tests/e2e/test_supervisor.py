"""In production supervisord (deploy/supervisord.conf) keeps the stack up: a process killed as by a
crash comes back by itself, and a conversation goes on with its context."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.core.models import AuditLog, Heartbeat, Shipment, utcnow
from bot.core.runtime import Runtime
from bot.processes.devstack import SupervisedStack
from bot.processes.model_files import model_path
from tests.e2e.helpers import new_sender, rest

pytestmark = pytest.mark.e2e
COME_BACK = 240.0  # seconds; Rasa loads its model again, on a busy machine


@pytest.fixture(scope="module")
def supervised(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SupervisedStack, Runtime]]:
    if not model_path().exists():
        pytest.fail(f"no trained model at {model_path()}: `make test` trains it first")
    # The sandbox clock at real speed: the parcel stays changeable while the test runs.
    stack = SupervisedStack(Path(tmp_path_factory.mktemp("supervised")), extra_env={"SANDBOX_SPEED": "1"})
    try:
        stack.start(timeout=COME_BACK)
        runtime = Runtime.build(stack.settings)
        yield stack, runtime
        runtime.engine.dispose()
    finally:
        stack.stop()


def said(runtime: Runtime, sender: str, text: str) -> str:
    return " ".join(rest(runtime, sender, text))


def test_killed_processes_come_back_and_the_conversation_goes_on(supervised: tuple[SupervisedStack, Runtime]) -> None:
    stack, runtime = supervised
    with runtime.sessions() as session:
        parcel = session.scalars(select(Shipment).where(Shipment.status == "in_transit",
                                                        Shipment.eta_start.is_not(None))).first()
    assert parcel is not None
    sender = new_sender()
    assert "tracking number" in said(runtime, sender, "can you deliver it another day")

    killed = stack.kill("actions")
    stack.wait_ready(COME_BACK, ["actions"], not_pid=killed)
    assert "postcode" in said(runtime, sender, parcel.tracking_number)
    assert "When should parcel" in said(runtime, sender, parcel.postcode)
    assert "Move parcel" in said(runtime, sender, "2")

    killed = stack.kill("rasa")
    stack.wait_ready(COME_BACK, ["rasa"], not_pid=killed)
    # The reschedule offered before the crash is confirmed after it: the conversation kept its context.
    assert "Done" in said(runtime, sender, "yes")
    with runtime.sessions() as session:
        moves = session.scalars(select(AuditLog).where(AuditLog.entity == "shipment", AuditLog.action == "reschedule",
                                                       AuditLog.entity_id == str(parcel.id))).all()
    assert len(moves) == 1, "moved once"

    killed_at = utcnow()
    killed = stack.kill("scheduler")
    stack.wait_ready(COME_BACK, ["scheduler"], not_pid=killed)
    deadline = time.monotonic() + COME_BACK
    beat = None
    while time.monotonic() < deadline:
        with runtime.sessions() as session:
            beat = session.get(Heartbeat, "scheduler")
            if beat is not None and beat.beat_at > killed_at:
                break
        time.sleep(0.5)
    assert beat is not None and beat.beat_at > killed_at, "the restarted scheduler works"
