"""While an agent has the conversation the bot stays silent, even when Rasa starts a new session."""

from __future__ import annotations

import time

import httpx

from bot.core.runtime import Runtime
from tests.e2e.helpers import new_sender, rest, tracker_events


def test_a_new_session_during_a_handoff_does_not_wake_the_bot(stack_runtime: Runtime) -> None:
    """Rasa's SessionStarted unpauses a tracker; after `session_expiration_time` (60 min) the next
    message would start a session and the bot would answer over the agent. Our session start pauses
    again while the handoff is open. The hour is skipped by logging a user message from 2 hours ago."""
    sender = new_sender()
    conversation = f"rest:{sender}"
    assert any("A person will reply" in r for r in rest(stack_runtime, sender, "let me talk to a human"))
    s = stack_runtime.settings
    old = {"event": "user", "text": "(earlier)", "timestamp": time.time() - 7200,
           "parse_data": {"intent": {"name": "greet", "confidence": 1.0}, "entities": []}}
    appended = httpx.post(f"{s.rasa_url}/conversations/{conversation}/tracker/events",
                          params={"token": s.rasa_token}, json=[old], timeout=10)
    assert appended.status_code == 200
    assert rest(stack_runtime, sender, "where is my parcel") == []
    events = tracker_events(stack_runtime, conversation)
    starts = [i for i, e in enumerate(events) if e.get("event") == "session_started"]
    assert len(starts) >= 2  # a new session did start …
    after = events[starts[-1]:]
    assert any(e.get("event") == "pause" for e in after)  # … and was paused again
    assert [e for e in after if e.get("event") == "bot"] == []
