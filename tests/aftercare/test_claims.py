"""The claims service: one claim per parcel (also when two reports race), its evidence, resolving once,
and the customer told exactly once through the notification dispatch."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.aftercare.claims import AlreadyResolved, ClaimRefused, open_or_add, resolve
from bot.core.clock import sim_now
from bot.core.models import (
    Agent,
    Claim,
    ClaimKind,
    ClaimResolution,
    Customer,
    Notification,
    ShipmentEvent,
)
from bot.core.runtime import Runtime
from tests.aftercare.conftest import delivered
from tests.notify.helpers import MailRecorder, dispatch, fake_twilio, plan

REFERENCE = re.compile(r"^CL-[2-9A-HJ-NP-Z]{5}$")


def test_a_claim_carries_its_evidence_a_reference_and_a_due_time(world: Runtime) -> None:
    shipment = delivered(world)
    ticket = open_or_add(world, shipment_id=shipment.id, customer_id=shipment.customer_id, kind=ClaimKind.MISSING,
                         channel="sms", sender_id="+4915100000001", words="it never came")
    assert ticket.new and REFERENCE.match(ticket.reference)
    with world.sessions() as session:
        claim = session.get(Claim, ticket.claim_id)
        events = session.scalar(select(func.count()).select_from(ShipmentEvent)
                                .where(ShipmentEvent.shipment_id == shipment.id, ShipmentEvent.applied))
        assert claim.due_by == claim.opened_at + timedelta(hours=world.settings.claim_answer_hours)
        assert abs(sim_now(session) - claim.opened_at) < timedelta(seconds=10)  # the business clock
    evidence = claim.evidence
    assert evidence["proof"]["place"] == "back_door" and evidence["proof"]["photo"] is True
    assert evidence["proof"]["note"] == "left at the back door"
    assert evidence["instructions"] == "leave it with the neighbour at no. 14"
    assert evidence["distance_m"] == 240 and evidence["words"] == "it never came"
    assert len(evidence["timeline"]) == events and events > 0
    assert evidence["timeline"][-1]["status"] == "delivered"
    assert claim.carrier_claim_id is None  # the sandbox has no claims API


def test_a_second_report_adds_to_the_parcels_claim(world: Runtime) -> None:
    shipment = delivered(world)
    first = open_or_add(world, shipment_id=shipment.id, customer_id=shipment.customer_id, kind=ClaimKind.MISSING,
                        channel="sms", sender_id="+4915100000001", words="never came")
    again = open_or_add(world, shipment_id=shipment.id, customer_id=shipment.customer_id,
                        kind=ClaimKind.NOT_AS_ASKED, channel="web", sender_id="web:abc", words="still nothing")
    assert not again.new and again.reference == first.reference and again.kind == ClaimKind.MISSING
    with world.sessions() as session:
        claims = session.scalars(select(Claim)).all()
    assert len(claims) == 1 and [r["words"] for r in claims[0].reports] == ["never came", "still nothing"]


def test_racing_reports_make_one_claim_and_no_error(world: Runtime) -> None:
    shipment = delivered(world)
    tickets, errors = [], []

    def report(n: int) -> None:
        try:
            tickets.append(open_or_add(world, shipment_id=shipment.id, customer_id=shipment.customer_id,
                                       kind=ClaimKind.MISSING, channel="sms", sender_id="+4915100000001",
                                       words=f"report {n}"))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=report, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len({t.reference for t in tickets}) == 1 and sum(t.new for t in tickets) == 1
    with world.sessions() as session:
        claims = session.scalars(select(Claim)).all()
    assert len(claims) == 1 and len(claims[0].reports) == 6


def test_someone_elses_parcel_is_refused_and_nothing_is_opened(world: Runtime) -> None:
    shipment = delivered(world)
    with world.sessions() as session:
        stranger = session.scalars(select(Customer).where(Customer.id != shipment.customer_id)).first()
    with pytest.raises(ClaimRefused):
        open_or_add(world, shipment_id=shipment.id, customer_id=stranger.id, kind=ClaimKind.MISSING,
                    channel="sms", sender_id=stranger.phone, words="mine now")
    with world.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Claim)) == 0


def test_resolving_twice_is_refused_and_the_customer_is_told_once_in_their_language(world: Runtime) -> None:
    shipment = delivered(world)
    with world.sessions() as session, session.begin():
        session.get(Customer, shipment.customer_id).locale = "de"
        agent_id = session.scalars(select(Agent.id)).one()
        now = sim_now(session)
    ticket = open_or_add(world, shipment_id=shipment.id, customer_id=shipment.customer_id, kind=ClaimKind.MISSING,
                         channel="sms", sender_id="+4915100000001", words="nie angekommen")
    resolve(world, claim_id=ticket.claim_id, resolution=ClaimResolution.REDELIVER, note="driver goes back",
            agent_id=agent_id)
    with pytest.raises(AlreadyResolved):
        resolve(world, claim_id=ticket.claim_id, resolution=ClaimResolution.REFUND, note="again", agent_id=agent_id)
    with world.sessions() as session:
        claim = session.get(Claim, ticket.claim_id)
        assert (claim.status, claim.resolution, claim.resolution_note, claim.resolved_by) == (
            "resolved", "redeliver", "driver goes back", agent_id)
        told = session.scalars(select(Notification).where(Notification.trigger == "claim_resolved")).all()
    assert len(told) == 1 and told[0].channel == "sms" and told[0].status == "planned"
    # Out of quiet hours, the dispatcher sends it once; planning again does not make a second one.
    noon = now.replace(hour=11, minute=0) + timedelta(days=0 if now.hour < 11 else 1)
    with fake_twilio() as (twilio, base):
        dispatch(world, max(noon, now), base, MailRecorder())
        plan(world, max(noon, now) + timedelta(minutes=1))
        dispatch(world, max(noon, now) + timedelta(minutes=1), base, MailRecorder())
        bodies = [str(m) for m in twilio.messages if ticket.reference in str(m)]
    assert len(bodies) == 1 and "erneut zu" in bodies[0]
    with world.sessions() as session:
        assert session.get(Claim, ticket.claim_id).customer_told_at is not None
