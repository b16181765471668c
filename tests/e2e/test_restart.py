"""Nothing is lost when Rasa restarts: conversations, and a handoff's pause, survive."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.core.models import Handoff, Shipment
from bot.core.runtime import Runtime
from bot.processes.devstack import Stack
from tests.e2e.helpers import new_sender, rest


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, Runtime]]:
    stack = Stack(Path(tmp_path_factory.mktemp("restart")), processes=("rasa", "actions"))
    try:
        stack.start()
        runtime = Runtime.build(stack.settings)
        yield stack, runtime
        runtime.engine.dispose()
    finally:
        stack.stop()


def test_a_paused_conversation_stays_with_the_agent_after_a_restart(own_stack: tuple[Stack, Runtime]) -> None:
    stack, runtime = own_stack
    with runtime.sessions() as session:
        parcel = session.scalars(select(Shipment).where(Shipment.status == "in_transit")).first()
    sender = new_sender()
    rest(runtime, sender, "where is my parcel")
    rest(runtime, sender, parcel.tracking_number)
    assert f"Parcel {parcel.tracking_number[-4:]}" in " ".join(rest(runtime, sender, parcel.postcode))
    assert "person" in " ".join(rest(runtime, sender, "i want to talk to a human"))
    stack.restart("rasa")
    assert rest(runtime, sender, "hello? anyone?") == []  # still paused: the bot does not talk over the agent
    with runtime.sessions() as session:
        assert session.scalars(select(Handoff.status).where(Handoff.sender_id == f"rest:{sender}")).one() == "open"
