"""Runs in the Rasa runtime (.venv-rasa) with the trained model: our graph runner (addons.speedups.run_graph)
gives the same NLU parses and the same next-action predictions as Rasa's dask runner.
Prints one line per case; exit 1 on a mismatch."""

import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from rasa.core.agent import Agent  # noqa: E402
from rasa.core.channels.channel import UserMessage  # noqa: E402
from rasa.engine.runner.dask import DaskGraphRunner  # noqa: E402
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered  # noqa: E402
from rasa.shared.core.trackers import DialogueStateTracker  # noqa: E402

from addons.speedups import run_graph  # noqa: E402

MESSAGES = ["hi", "where is my parcel", "DS1234567890", "10245", "can it come tmrw after 5 pls",
            "2", "yes", "no, sunday", "the locker one", "STOP", "asdfgh qwerty", "talk to a human 😡"]

dask_run = DaskGraphRunner.run
agent = Agent.load(sys.argv[1])
processor = agent.processor
mismatches = 0


def parse(text: str) -> dict:
    return processor._parse_message_with_graph(UserMessage(text, sender_id="probe"), DialogueStateTracker("probe", []))


def predict(parse_data: dict, slots: list) -> tuple:
    tracker = DialogueStateTracker.from_events("probe", [ActionExecuted("action_listen"), *slots,
                                                         UserUttered(parse_data["text"], parse_data["intent"],
                                                                     parse_data["entities"], parse_data)],
                                               slots=agent.domain.slots)
    prediction = processor._predict_next_with_tracker(tracker)
    return prediction.policy_name, [round(p, 6) for p in prediction.probabilities]


for text in MESSAGES:
    for slots in ([], [SlotSet("verified", True)]):
        results = []
        for run in (dask_run, run_graph):
            DaskGraphRunner.run = run
            parsed = parse(text)
            results.append((parsed["intent"], parsed["entities"], predict(parsed, slots)))
        same = results[0] == results[1]
        mismatches += not same
        print(f"same={same} {text!r} verified={bool(slots)} intent={results[1][0]['name']} policy={results[1][2][0]}")
DaskGraphRunner.run = dask_run
asyncio.run(asyncio.sleep(0))
sys.exit(1 if mismatches else 0)
