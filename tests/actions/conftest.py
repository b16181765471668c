"""Actions against a demo world in a temporary database, with trackers built from JSON files."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker

from actions import runtime as action_runtime
from bot.core.clock import start_clock
from bot.core.runtime import Runtime
from bot.core.settings import get_settings
from tests import worlds
from tests.conftest import T0

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    """The action server's runtime, pointed at a fresh demo world (07:30 in Berlin on T0's day)."""
    url = worlds.fresh_sqlite(tmp_path / "actions.db", world_speed=1, built_at=T0)
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    action_runtime.runtime.cache_clear()
    rt = action_runtime.runtime()
    with rt.sessions() as session, session.begin():
        start_clock(session, sim_start=T0 + timedelta(minutes=90), speed=1)  # 08:30 in Berlin, held still
    yield rt
    rt.engine.dispose()
    action_runtime.runtime.cache_clear()
    get_settings.cache_clear()


def tracker(name: str, **changes: Any) -> Tracker:
    """A fresh tracker from tests/data/<name>.json; `slots`, `latest_message` and `sender_id` override."""
    state = json.loads((DATA / f"{name}.json").read_text())
    state = copy.deepcopy(state)
    state["slots"].update(changes.pop("slots", {}))
    if "latest_message" in changes:
        state["latest_message"].update(changes.pop("latest_message"))
        state["events"][-1]["text"] = state["latest_message"]["text"]
    state.update(changes)
    return Tracker.from_dict(state)
