"""The same actions as with the sandbox, on each adapter: track, and reschedule where the carrier can."""

from __future__ import annotations

import asyncio

from rasa_sdk.executor import CollectingDispatcher

from actions.change_questions import AskWindowChoice
from actions.changes import CommitChange
from actions.track import ActionTrack
from bot.models import Shipment
from bot.runtime import Runtime
from tests.actions.conftest import tracker
from tests.actions.test_actions import first_customer_with
from tests.carriers.conftest import switch
from tests.carriers.fakes import Fake
from tests.carriers.test_karrio import UPS_NUMBER, ups_package
from tests.carriers.test_onfleet import TASK_ID, onfleet_task


def converse(world: Runtime, customer_phone: str, parcel_id: int) -> list[str]:
    said = []
    d = CollectingDispatcher()
    asyncio.run(ActionTrack().run(d, tracker("tracker_sms", sender_id=customer_phone), {}))
    said += [m["text"] for m in d.messages]
    d = CollectingDispatcher()
    events = asyncio.run(AskWindowChoice().run(d, tracker("tracker_sms", sender_id=customer_phone, slots={
        "pending_request": "reschedule", "shipment_id": str(parcel_id)}), {}))
    said += [m["text"] for m in d.messages]
    offered = next((e["value"] for e in events if e.get("name") == "offered"), None)
    if offered:
        d = CollectingDispatcher()
        asyncio.run(CommitChange().run(d, tracker("tracker_sms", sender_id=customer_phone, slots={
            "pending_request": "reschedule", "window_choice": offered[0], "shipment_id": str(parcel_id),
            "confirm_change": True}), {}))
        said += [m["text"] for m in d.messages]
    return said


def test_track_and_reschedule_on_every_adapter(world: Runtime, fake: Fake) -> None:
    customer, parcel = first_customer_with(world, "in_transit")
    for carrier in ("rest", "onfleet", "ups"):
        switch(world, parcel.id, carrier, UPS_NUMBER if carrier == "ups" else None)
        fake.tasks[TASK_ID] = onfleet_task(parcel.tracking_number)
        fake.ups[UPS_NUMBER] = ups_package(("I", "AR", "Arrived at Facility", "20261123", "220000"))
        if carrier == "rest":
            fake.rest.clear()
            with world.sessions() as session:
                row = session.get(Shipment, parcel.id)
            from tests.carriers.test_rest import windows
            fake.rest[parcel.tracking_number] = {
                "tracking": {"tracking_number": parcel.tracking_number, "status": "at_depot", "eta": windows(1)[0]},
                "windows": windows(), "lockers": []}
            assert row is not None
        said = converse(world, customer.phone, parcel.id)
        assert f"Parcel {parcel.tracking_number[-4:]} is" in said[0], (carrier, said)
        if carrier == "ups":
            assert said[1] == "This carrier doesn't let me move deliveries. Reply AGENT for a person."
        else:
            assert said[-1].startswith("Done: parcel"), (carrier, said)
