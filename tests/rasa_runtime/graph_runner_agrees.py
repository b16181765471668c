"""Runs in the Rasa runtime (.venv-rasa) with the trained model: with our speed-ups (addons.speedups:
graph runner, past-states memo, slot copies, the classifier's feature matrix) the NLU parses and the
next-action predictions are the same as with Rasa's own code. Prints one line per case; exit 1 on a
mismatch."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from rasa.core.agent import Agent  # noqa: E402
from rasa.core.channels.channel import UserMessage  # noqa: E402
from rasa.engine.runner.dask import DaskGraphRunner  # noqa: E402
from rasa.shared.core.events import ActionExecuted, ActiveLoop, SlotSet, UserUttered  # noqa: E402
from rasa.shared.core.trackers import DialogueStateTracker  # noqa: E402

from addons import speedups  # noqa: E402

MESSAGES = ["hi", "where is my parcel", "DS1234567890", "10245", "can it come tmrw after 5 pls",
            "2", "yes", "no, sunday", "the locker one", "STOP", "asdfgh qwerty", "talk to a human 😡"]
CONTEXTS = {
    "new": [],
    "verified": [SlotSet("verified", True)],
    "in the change form": [SlotSet("verified", True), SlotSet("pending_request", "reschedule"),
                           ActionExecuted("change_form"), ActiveLoop("change_form"),
                           SlotSet("requested_slot", "window_choice")],
}

agent = Agent.load(sys.argv[1])
processor = agent.processor
mismatches = 0


def turn(text: str, context: list) -> tuple:
    parsed = processor._parse_message_with_graph(UserMessage(text, sender_id="probe"), DialogueStateTracker("probe", []))
    tracker = DialogueStateTracker.from_events(
        "probe", [ActionExecuted("action_listen"), *context, ActionExecuted("action_listen"),
                  UserUttered(parsed["text"], parsed["intent"], parsed["entities"], parsed)],
        slots=agent.domain.slots)
    first = processor._predict_next_with_tracker(tracker)
    tracker.update(ActionExecuted(processor.domain.action_names_or_texts[first.max_confidence_index]))
    second = processor._predict_next_with_tracker(tracker)  # the same tracker again, one event later
    return (parsed["intent"]["name"], round(parsed["intent"]["confidence"], 6), parsed["entities"],
            [(p.policy_name, [round(x, 6) for x in p.probabilities]) for p in (first, second)])


for text in MESSAGES:
    for name, context in CONTEXTS.items():
        speedups.restore()
        assert DaskGraphRunner.run is not speedups.run_graph
        theirs = turn(text, context)
        speedups.install()
        assert DaskGraphRunner.run is speedups.run_graph
        ours = turn(text, context)
        same = theirs == ours
        mismatches += not same
        print(f"same={same} {text!r} {name} intent={ours[0]} policies={[p for p, _ in ours[3]]}")
sys.exit(1 if mismatches else 0)
