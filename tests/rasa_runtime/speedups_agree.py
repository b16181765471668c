"""Runs in the Rasa runtime (.venv-rasa): our fast action-reply check agrees with Rasa's own
jsonschema validation on valid and invalid replies. Prints one line per case; exit 1 on a mismatch."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from jsonschema import ValidationError, validate
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import Event

from addons import speedups
from addons.speedups import check, resolve_by_type

SPEC = RemoteAction.action_response_format_spec()
CASES = [
    {"events": [{"event": "slot", "name": "x", "value": 1}, {"event": "action", "name": "a"}, {"event": "pause"}],
     "responses": [{"text": "hi"}]},
    {"events": [{"event": "slot", "name": 3}], "responses": []},
    {"events": [{"event": "nonsense"}], "responses": []},
    {"events": [{"event": "user", "text": 5}]},
    {"events": "no"},
    {"events": [{"event": "bot", "text": "hi", "data": {}}], "responses": "x"},
    {"events": [{"event": "active_loop", "name": None}, {"event": "followup", "name": "x"},
                {"event": "session_started"}]},
    {"events": [{"nokey": 1}]},
    {"events": [{"event": "reminder", "intent": "x", "date_time": "2026-01-01T00:00:00"}]},
]


def accepted(validator, reply) -> bool:
    try:
        validator(reply)
        return True
    except ValidationError:
        return False


mismatches = 0
for reply in CASES:
    rasa, ours = accepted(lambda r: validate(r, SPEC), reply), accepted(check, reply)
    mismatches += rasa != ours
    print(f"rasa={rasa} ours={ours} {str(reply)[:70]}")
# Event classes looked up by name: the same class as Rasa's own walk, the same error for an unknown name.
speedups.restore()
original = Event.resolve_by_type  # Rasa's own walk over the subclasses
speedups.install()
assert original is not Event.resolve_by_type
names = ["user", "bot", "slot", "action", "session_started", "pause", "resume", "active_loop", "followup",
         "restart", "rewind", "reminder", "cancel_reminder", "action_execution_rejected", "loop_interrupted",
         "entities", "user_featurization", "export", "undo", "action_reverted", "agent", "form", "stories"]
for name in names:
    try:
        theirs = original(name)
    except ValueError:
        theirs = ValueError
    try:
        ours = resolve_by_type(name)
    except ValueError:
        ours = ValueError
    mismatches += theirs is not ours
    print(f"resolve {name}: rasa={getattr(theirs, '__name__', theirs)} ours={getattr(ours, '__name__', ours)}")
for name in ("nonsense", "topic"):
    results = []
    for resolver in (original, resolve_by_type):
        try:
            results.append(resolver(name))
        except ValueError:
            results.append(ValueError)
    mismatches += results[0] is not results[1]
    print(f"resolve {name}: rasa={results[0]} ours={results[1]}")
# Admission: at most RASA_MAX_CONCURRENT_TURNS turns at once, begun in the order they arrived.
import asyncio  # noqa: E402
import os  # noqa: E402

os.environ["RASA_MAX_CONCURRENT_TURNS"] = "3"
begun, running, peak = [], [0], [0]


async def a_turn(agent: object, message: int) -> int:
    begun.append(message)
    running[0] += 1
    peak[0] = max(peak[0], running[0])
    await asyncio.sleep(0.01)
    running[0] -= 1
    return message


async def twelve_at_once() -> list:
    speedups._handle_message = a_turn
    return await asyncio.gather(*(speedups.handle_message(None, n) for n in range(12)))


answers = asyncio.run(twelve_at_once())
admitted = peak[0] == 3 and begun == list(range(12)) and answers == list(range(12))
mismatches += not admitted
print(f"admission peak={peak[0]} in_order={begun == list(range(12))} ok={admitted}")
sys.exit(1 if mismatches else 0)
