"""Agents see a customer's hold with the conversation: its days, how it is held, and each parcel's outcome."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.changes import Requester
from bot.changes.hold import HoldDone, HoldPlan, HoldRequest, cancel, make, plan
from bot.core.clock import sim_now
from bot.core.models import Customer, Handoff, Shipment
from bot.core.runtime import Runtime
from tests import factories
from tests.test_console import live, login, open_handoff, world  # noqa: F401  (fixtures)
from tests.test_web import LiveServer


def hold_for_handoff_customer(rt: Runtime, handoff_id: int) -> HoldDone:
    with rt.sessions() as session:
        handoff = session.get(Handoff, handoff_id)
        assert handoff is not None and handoff.customer_id is not None
        now = sim_now(session)
        today = now.astimezone(ZoneInfo("Europe/Berlin")).date()
    with rt.sessions() as session, session.begin():  # a parcel due tomorrow, whatever the world's clock says
        owner = session.get(Customer, handoff.customer_id)
        due = now + timedelta(days=1)
        factories.shipment(session, owner, at=now, promised_start=due, promised_end=due + timedelta(hours=2),
                           eta_start=due, eta_end=due + timedelta(hours=2))
        request = HoldRequest(customer_id=handoff.customer_id, by=Requester.CUSTOMER, starts_on=today,
                              ends_on=today + timedelta(days=1))
    found = plan(rt, request)
    assert isinstance(found, HoldPlan)
    done = make(rt, request, found.parcels)
    assert isinstance(done, HoldDone)
    return done


def test_the_conversation_page_shows_the_customers_hold_and_each_parcels_outcome(live: LiveServer,  # noqa: F811
                                                                                  world: Runtime) -> None:  # noqa: F811
    handoff_id = open_handoff(world)
    done = hold_for_handoff_customer(world, handoff_id)
    client, _ = login(live)
    page = client.get(f"/agent/handoffs/{handoff_id}")
    assert page.status_code == 200
    assert done.outcomes and "Away from home" in page.text and "first window after" in page.text
    with world.sessions() as session:
        for planned, _outcome in done.outcomes:
            shipment = session.get(Shipment, planned.shipment_id)
            assert shipment is not None and shipment.tracking_number in page.text


def test_an_ended_hold_is_no_longer_shown(live: LiveServer, world: Runtime) -> None:  # noqa: F811
    handoff_id = open_handoff(world)
    hold_for_handoff_customer(world, handoff_id)
    with world.sessions() as session:
        customer_id = session.scalar(select(Handoff.customer_id).where(Handoff.id == handoff_id))
    assert customer_id is not None
    cancel(world, customer_id=customer_id, by=Requester.CUSTOMER)
    client, _ = login(live)
    assert "Away from home" not in client.get(f"/agent/handoffs/{handoff_id}").text
