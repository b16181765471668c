"""The same actions as with the sandbox, on each adapter: track, and reschedule where the carrier can."""

from __future__ import annotations

import asyncio
from pathlib import Path

import yaml
from rasa_sdk.executor import CollectingDispatcher

from actions import texts
from actions.change_form import AskConfirmChange, CommitChange, ValidateChangeForm
from actions.reschedule import AskWindowChoice
from actions.returns import AskReturnMethod
from actions.track import ActionTrack
from bot.carriers import Capability
from bot.core.models import Shipment
from bot.core.runtime import Runtime
from tests.actions.conftest import tracker
from tests.actions.test_actions import first_customer_with
from tests.carriers.conftest import switch
from tests.carriers.fakes import Fake
from tests.carriers.test_karrio import UPS_NUMBER, ups_package
from tests.carriers.test_karrio_returns import returnable, returns_of
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


# -- capabilities checked before the first question; karrio returns by label ---------------------
DOMAIN = yaml.safe_load((Path(__file__).parents[2] / "domain.yml").read_text())


def validate(world: Runtime, phone: str, slots: dict, answers: dict | None = None) -> tuple[dict, list[str]]:
    """Run the change form's validation as Rasa does before asking: `answers` are this turn's slot candidates."""
    base = tracker("tracker_sms", sender_id=phone)
    events = [*base.events, *[{"event": "slot", "name": k, "value": v} for k, v in (answers or {}).items()]]
    state = tracker("tracker_sms", sender_id=phone, slots={**slots, **(answers or {})}, events=events)
    d = CollectingDispatcher()
    result = asyncio.run(ValidateChangeForm().run(d, state, DOMAIN))
    return {e["name"]: e["value"] for e in result if e.get("event") == "slot"}, [m["text"] for m in d.messages]


def test_a_carrier_without_notes_says_so_before_any_question(world: Runtime) -> None:
    customer, parcel = first_customer_with(world, "in_transit")
    start = {"pending_request": "instructions", "shipment_id": str(parcel.id), "requested_slot": None}
    switch(world, parcel.id, "ups")
    slots, said = validate(world, customer.phone, start)
    # Their other parcel on its way can take a note: say why this one can't, and offer that one.
    assert said[0].startswith(f"Parcel …{parcel.tracking_number[-4:]}'s carrier doesn't take delivery notes. "
                              "Which parcel then?")
    assert slots["requested_slot"] == "parcel" and slots["shipment_id"] is None and not slots.get("change_blocked")
    with world.sessions() as session, session.begin():  # the others are with the driver: nothing else to offer
        for other in session.get(Shipment, parcel.id).customer.shipments:
            if other.id != parcel.id and other.status != "delivered":
                other.status = "out_for_delivery"
    slots, said = validate(world, customer.phone, start)
    assert said == ["This carrier doesn't take delivery notes. Reply AGENT for a person."]
    assert slots["change_blocked"] is True and slots["requested_slot"] is None
    switch(world, parcel.id, "rest")  # a carrier that can do other things: the bot says which
    world.carrier("rest").capabilities = frozenset(  # type: ignore[misc]
        {Capability.TRACK, Capability.WINDOWS, Capability.RESCHEDULE, Capability.CHANGE_ADDRESS})
    slots, said = validate(world, customer.phone, start)
    assert said == ["This carrier doesn't take delivery notes. I can move the delivery or leave it with a neighbour "
                    "instead, or reply AGENT for a person."]
    assert slots["change_blocked"] is True
    d = CollectingDispatcher()  # the form then ends quietly: nothing asked, nothing "left as it was"
    asyncio.run(CommitChange().run(d, tracker("tracker_sms", sender_id=customer.phone, slots={**start, **slots}), {}))
    assert d.messages == []
    switch(world, parcel.id, "onfleet")  # Onfleet takes notes: the form goes on to ask for them, in the same call
    slots, said = validate(world, customer.phone, start)
    assert said == [texts.ASK_INSTRUCTIONS]
    assert slots.get("requested_slot") == "instructions_text" and not slots.get("change_blocked")


def test_a_carrier_without_returns_says_so_before_any_question(world: Runtime) -> None:
    parcel = returnable(world)
    switch(world, parcel.id, "onfleet")
    with world.sessions() as session:
        phone = session.get(Shipment, parcel.id).customer.phone
    start = {"pending_request": "return", "shipment_id": str(parcel.id), "requested_slot": None}
    slots, said = validate(world, phone, start)
    assert said == ["This carrier doesn't let me book returns here. Reply AGENT for a person."]
    assert slots["change_blocked"] is True and "return_reason" not in slots and "return_items" not in slots


def test_a_karrio_customer_books_a_return_by_label(world: Runtime, fake: Fake) -> None:
    parcel = returnable(world)
    switch(world, parcel.id, "ups")
    with world.sessions() as session:
        phone = session.get(Shipment, parcel.id).customer.phone
    sku = next(i["sku"] for i in parcel.items if i.get("returnable"))
    slots = {"pending_request": "return", "shipment_id": str(parcel.id), "return_items": sku}
    d = CollectingDispatcher()  # asked anyway, UPS offers the one method it has
    asyncio.run(AskReturnMethod().run(d, tracker("tracker_sms", sender_id=phone, slots=slots), {}))
    assert d.messages[0]["text"].splitlines()[1:] == ["1. Label by email, drop at any shop"]
    validated, said = validate(world, phone, {**slots, "requested_slot": "return_reason"}, {"return_reason": "too small"})
    assert validated["return_method"] == "label" and validated["requested_slot"] == "confirm_change"
    assert len(said) == 1 and said[0].endswith("by an email label? Reply YES or NO.")  # asked in the same call
    slots = {**slots, "return_reason": "too small", "return_method": "label"}
    d = CollectingDispatcher()
    asyncio.run(AskConfirmChange().run(d, tracker("tracker_sms", sender_id=phone, slots=slots), {}))
    assert d.messages[0]["text"].endswith("by an email label? Reply YES or NO.")
    d = CollectingDispatcher()
    asyncio.run(CommitChange().run(d, tracker("tracker_sms", sender_id=phone, slots={**slots, "confirm_change": True}),
                                   {}))
    (ups_call,) = fake.shipments
    (row,) = returns_of(world, parcel.id)
    assert ups_call[0] == "ups" and row.method == "label" and row.label_code.startswith("1Z")
    assert d.messages[0]["text"] == (f"Return {row.rma} booked. The label ({row.label_code}) is on its way to your email.")
