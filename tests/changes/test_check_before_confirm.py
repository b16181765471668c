"""The change is checked before the customer is asked to confirm it, not after their "yes".

Before the change service: "Tell the driver for parcel …1838: "behind the green gate"? Reply YES or NO." →
"yes" → "Sorry, that didn't work: your parcel is on its way to a locker". Now the refusal comes instead of
the question.
"""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.change_form import AskConfirmChange, CommitChange
from bot.changes import Asker, Done, LockerRequest, Requester, make, options
from bot.core.models import Customer, Shipment
from bot.core.runtime import Runtime
from tests.actions.conftest import tracker
from tests.actions.conftest import world as world  # the action server's runtime on the demo world


def said(dispatcher: CollectingDispatcher) -> str:
    return "\n".join(str(m.get("text") or "") for m in dispatcher.messages)


def a_customer_with_a_parcel_on_its_way(world: Runtime) -> tuple[Customer, Shipment]:
    with world.sessions() as session:
        for shipment in session.scalars(select(Shipment).where(Shipment.status.in_(("at_depot", "in_transit")),
                                                               Shipment.carrier == "sandbox").order_by(Shipment.id)):
            session.expunge(shipment.customer)
            session.expunge(shipment)
            return shipment.customer, shipment
    raise LookupError("a parcel on its way")


def confirming(customer: Customer, shipment: Shipment) -> dict[str, Any]:
    return {"pending_request": "instructions", "requested_slot": "confirm_change", "shipment_id": str(shipment.id),
            "instructions_text": "behind the green gate"}


def test_a_parcel_sent_to_a_locker_meanwhile_is_refused_before_the_question(world: Runtime) -> None:
    customer, shipment = a_customer_with_a_parcel_on_its_way(world)
    # While the customer types their note, an agent sends the parcel to a locker.
    locker = options(world, Asker(shipment_id=shipment.id, by=Requester.AGENT)).lockers[0]
    assert isinstance(make(world, LockerRequest(shipment_id=shipment.id, by=Requester.AGENT, locker_code=locker.code)),
                      Done)

    dispatcher = CollectingDispatcher()
    events = asyncio.run(AskConfirmChange().run(
        dispatcher, tracker("tracker_sms", sender_id=customer.phone, slots=confirming(customer, shipment)), {}))
    assert said(dispatcher) == ("Your parcel is on its way to a locker, so I can't change that now. "
                                "Reply AGENT for a person.")
    assert "YES or NO" not in said(dispatcher)
    blocked = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    assert blocked == {"change_blocked": True, "requested_slot": None}

    # The form ends blocked: the commit says nothing more and changes nothing.
    after = CollectingDispatcher()
    asyncio.run(CommitChange().run(after, tracker("tracker_sms", sender_id=customer.phone, slots={
        **confirming(customer, shipment), **blocked, "confirm_change": True}), {}))
    assert after.messages == []
    with world.sessions() as session:
        assert session.get(Shipment, shipment.id).instructions == shipment.instructions  # type: ignore[union-attr]


def test_a_parcel_that_can_change_is_asked_about(world: Runtime) -> None:
    customer, shipment = a_customer_with_a_parcel_on_its_way(world)
    dispatcher = CollectingDispatcher()
    events = asyncio.run(AskConfirmChange().run(
        dispatcher, tracker("tracker_sms", sender_id=customer.phone, slots=confirming(customer, shipment)), {}))
    assert said(dispatcher) == (f"Tell the driver for parcel …{shipment.tracking_number[-4:]}: "
                                "\"behind the green gate\"? Reply YES or NO.")
    assert events == []


def test_in_german_too(world: Runtime) -> None:
    customer, shipment = a_customer_with_a_parcel_on_its_way(world)
    locker = options(world, Asker(shipment_id=shipment.id, by=Requester.AGENT)).lockers[0]
    make(world, LockerRequest(shipment_id=shipment.id, by=Requester.AGENT, locker_code=locker.code))
    dispatcher = CollectingDispatcher()
    asyncio.run(AskConfirmChange().run(dispatcher, tracker(
        "tracker_sms", sender_id=customer.phone, slots={**confirming(customer, shipment), "language": "de"}), {}))
    assert "Packstation" in said(dispatcher) and "JA" not in said(dispatcher)
