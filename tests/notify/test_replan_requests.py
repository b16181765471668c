"""Event-driven planning (issue 17): a change asks for its shipment's plans in its own transaction, a
planning worker plans exactly the shipments that asked, and a request due later fires once, then."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.carriers.sandbox.world import build_world
from bot.conversation.consent import set_opt_out
from bot.core.models import Notification, PlanningRequest, Shipment, ShipmentStatus, Stop
from bot.core.runtime import Runtime
from bot.notify.planning import plan_requested
from bot.notify.replan import replan_after_change, request_replan
from bot.notify.rules import load_rules
from bot.notify.service import run_pass
from tests import worlds
from tests.conftest import T0
from tests.test_sandbox import berlin, run_until, set_sim_time


def requested(runtime: Runtime) -> Counter[int]:
    """Shipment id -> open planning requests."""
    with runtime.sessions() as session:
        return Counter(session.scalars(select(PlanningRequest.shipment_id)))


def planned_for(runtime: Runtime) -> Counter[int]:
    with runtime.sessions() as session:
        return Counter(session.scalars(select(Notification.shipment_id).where(Notification.status == "planned")))


def world_planned(runtime: Runtime) -> None:
    """The demo world at 08:30 (the carrier's events ingested), every shipment planned (requests consumed)."""
    with runtime.sessions() as session, session.begin():
        build_world(session, seed=7, speed=30, now=T0)
    assert requested(runtime), "building the world asks for every new shipment's plans"
    set_sim_time(runtime, berlin(7, 30))
    plan_requested(runtime.sessions, berlin(7, 30), load_rules())
    assert not requested(runtime)
    run_until(runtime, berlin(8, 30))
    assert requested(runtime), "the carrier's events ask for their shipments' plans"
    plan_requested(runtime.sessions, berlin(8, 30), load_rules())
    assert not requested(runtime)


def out_for_delivery(session: Session) -> Shipment:
    """A parcel with the driver whose customer takes SMS."""
    return next(s for s in session.scalars(select(Shipment).where(Shipment.status == ShipmentStatus.OUT_FOR_DELIVERY)
                                           .order_by(Shipment.id)) if "sms" in s.customer.preferred_channels)


def test_a_moved_window_replans_exactly_its_shipment(runtime: Runtime) -> None:
    world_planned(runtime)
    now = berlin(9, 0)
    with runtime.sessions() as session:
        shipment = next(s for s in session.scalars(select(Shipment).where(
            Shipment.status == ShipmentStatus.OUT_FOR_DELIVERY, Shipment.promised_end.is_not(None))
            .order_by(Shipment.id)) if s.customer.preferred_channels)
        assert shipment.promised_end is not None
        shipment_id = shipment.id
        before = {n.dedupe_key for n in session.scalars(select(Notification))}
        # the ETA engine moves the window an hour past the promise
        shipment.eta_start = shipment.promised_end + timedelta(minutes=30)
        shipment.eta_end = shipment.promised_end + timedelta(hours=1, minutes=30)
        session.commit()
    assert requested(runtime) == Counter({shipment_id: 1})
    plan_requested(runtime.sessions, now, load_rules())
    assert not requested(runtime), "each request is consumed once"
    with runtime.sessions() as session:
        new = session.scalars(select(Notification).where(Notification.dedupe_key.notin_(before))).all()
    assert new and {n.shipment_id for n in new} == {shipment_id}
    assert {n.trigger for n in new} == {"delayed"}


def test_a_change_rolled_back_asks_for_nothing(runtime: Runtime) -> None:
    world_planned(runtime)
    with runtime.sessions() as session:
        shipment = out_for_delivery(session)
        shipment.eta_end = berlin(18, 0)
        session.flush()
        assert requested_in(session) == {shipment.id}, "the request is in the change's transaction"
        session.rollback()
    assert not requested(runtime)


def requested_in(session: Session) -> set[int]:
    return set(session.scalars(select(PlanningRequest.shipment_id)))


def test_an_opt_out_replans_that_customers_parcels_only(runtime: Runtime) -> None:
    world_planned(runtime)
    with runtime.sessions() as session:
        shipment = out_for_delivery(session)
        customer_id = shipment.customer_id
        theirs = set(session.scalars(select(Shipment.id).where(
            Shipment.customer_id == customer_id, Shipment.status.notin_(("delivered", "returned")))))
        assert set_opt_out(session, customer_id=customer_id, channel="sms", opted_out=True, source="test")
        session.commit()
    assert set(requested(runtime)) == theirs


def test_a_stop_done_replans_the_rest_of_its_route(runtime: Runtime) -> None:
    world_planned(runtime)
    with runtime.sessions() as session:
        stop = session.scalars(select(Stop).join(Shipment).where(
            Shipment.status == ShipmentStatus.OUT_FOR_DELIVERY, Stop.completed_at.is_(None))
            .order_by(Stop.route_id, Stop.sequence)).first()
        assert stop is not None
        route_id = stop.route_id
        stop.completed_at = berlin(9, 0)
        session.flush()
        still_to_come = set(session.scalars(select(Stop.shipment_id).where(
            Stop.route_id == route_id, Stop.completed_at.is_(None))))
        session.commit()
    assert still_to_come and set(requested(runtime)) == still_to_come | {stop.shipment_id}


def test_a_customer_change_cancels_window_messages_and_asks_for_new_plans(runtime: Runtime) -> None:
    world_planned(runtime)
    with runtime.sessions() as session:
        shipment_id = out_for_delivery(session).id
        replan_after_change(session, shipment_id=shipment_id, change="reschedule")
        session.commit()
    assert requested(runtime) == Counter({shipment_id: 1})


def test_a_request_due_later_fires_once_when_due(runtime: Runtime) -> None:
    world_planned(runtime)
    with runtime.sessions() as session:
        shipment = out_for_delivery(session)
        shipment_id, promised_end = shipment.id, shipment.promised_end
        assert promised_end is not None
        # a bulk UPDATE (unseen by the flush hook) slips the window; its replan is asked for noon
        session.execute(update(Shipment).where(Shipment.id == shipment_id).values(
            eta_end=promised_end + timedelta(hours=2)).execution_options(synchronize_session=False))
        request_replan(session, shipment_id, "reminder", due_at=berlin(12, 0))
        session.commit()
    rules = load_rules()
    assert plan_requested(runtime.sessions, berlin(11, 59), rules) == 0
    assert requested(runtime) == Counter({shipment_id: 1}), "not due yet: left alone"
    assert plan_requested(runtime.sessions, berlin(12, 0), rules) == 1
    with runtime.sessions() as session:
        assert session.scalars(select(Notification.trigger).where(
            Notification.shipment_id == shipment_id, Notification.trigger == "delayed")).all() == ["delayed"]
    assert not requested(runtime)
    assert plan_requested(runtime.sessions, berlin(12, 5), rules) == 0, "fired once"


def test_the_embedded_pass_plans_from_requests_without_a_sweep(sqlite_runtime: Runtime) -> None:
    """No broker: the scheduler's pass plans what asked, then sends; a pass with nothing asked plans nothing."""
    rt = sqlite_runtime
    worlds.load_world(rt, world_speed=30, built_at=T0)
    set_sim_time(rt, berlin(7, 30))
    run_until(rt, berlin(9, 0))
    first = asyncio.run(run_pass(rt, berlin(9, 0)))
    assert first.planned > 0 and not requested(rt)
    with rt.sessions() as session:
        total = session.scalar(select(func.count()).select_from(Notification))
        assert total
    again = asyncio.run(run_pass(rt, berlin(9, 0)))
    assert again.planned == 0
    with rt.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Notification)) == total
