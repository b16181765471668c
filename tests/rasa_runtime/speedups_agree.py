"""Runs in the Rasa runtime (.venv-rasa): our fast action-reply check agrees with Rasa's own
jsonschema validation on valid and invalid replies. Prints one line per case; exit 1 on a mismatch."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from jsonschema import ValidationError, validate
from rasa.core.actions.action import RemoteAction

from addons.speedups import check

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
sys.exit(1 if mismatches else 0)
