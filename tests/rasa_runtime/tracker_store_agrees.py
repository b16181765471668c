"""Runs in the Rasa runtime (.venv-rasa): a tracker LocalTrackerStore rebuilds from its saved events is
the tracker Rasa rebuilds from the saved JSON (same state, same events as dicts), also after the
events were evicted from memory and after a restart. Prints one line per check; exit 1 on a mismatch."""

import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from rasa.core.tracker_store import InMemoryTrackerStore  # noqa: E402
from rasa.shared.core.domain import Domain  # noqa: E402
from rasa.shared.core.events import (  # noqa: E402
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity  # noqa: E402

import addons.tracker_store as local  # noqa: E402

domain = Domain.load(str(ROOT / "domain.yml"))
EVENTS = [
    SessionStarted(), ActionExecuted("action_listen"),
    UserUttered("can it come sat morning", {"name": "reschedule_delivery", "confidence": 0.93},
                [{"entity": "time", "value": "sat morning", "start": 12, "end": 23}], input_channel="twilio"),
    SlotSet("pending_request", "reschedule"), ActionExecuted("change_form"), ActiveLoop("change_form"),
    SlotSet("requested_slot", "window_choice"), BotUttered("When should parcel …1234 come?", {"buttons": None}),
    ActionExecuted("action_listen"), UserUttered("2", {"name": "inform", "confidence": 0.8}),
]
failures = 0


def state(tracker: DialogueStateTracker) -> dict:
    return tracker.current_state(EventVerbosity.ALL)


async def main() -> None:
    global failures
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/tracker.db"
        store = local.LocalTrackerStore(domain, host=url)
        tracker = DialogueStateTracker.from_events("+4915100000001", EVENTS, domain.slots)
        await store.save(tracker)
        from_events = await store.retrieve("+4915100000001")
        from_json = InMemoryTrackerStore.deserialise_tracker(store, "+4915100000001", store.store["+4915100000001"])
        for name, other in (("from the JSON", from_json), ("saved", tracker)):
            same = state(from_events) == state(other)
            failures += not same
            print(f"same={same} rebuilt from events vs {name}")
        active = from_events.active_loop_name == "change_form" and from_events.get_slot("requested_slot") == "window_choice"
        failures += not active
        print(f"same={active} the form and its question are back")
        store.flush()
        local.MAX_IN_MEMORY, saved = 0, local.MAX_IN_MEMORY  # evict everything on the next save
        await store.save(DialogueStateTracker.from_events("+4915100000002", EVENTS[:3], domain.slots))
        local.MAX_IN_MEMORY = saved
        evicted = "+4915100000001" not in store.saved_events
        again = await store.retrieve("+4915100000001")
        same = evicted and state(again) == state(from_json)
        failures += not same
        print(f"same={same} after eviction, read back from SQLite")
        store.flush()
        restarted = local.LocalTrackerStore(domain, host=url)
        after = await restarted.retrieve("+4915100000001")
        same = after is not None and state(after) == state(from_json)
        failures += not same
        print(f"same={same} after a restart")


asyncio.run(main())
sys.exit(1 if failures else 0)
