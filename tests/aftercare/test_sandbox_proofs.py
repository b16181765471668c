"""The sandbox's proofs of delivery: recorded with every delivery of the simulated day, following the
instructions unless the configured rates say otherwise, deterministic, with a small generated photo."""

from __future__ import annotations

import base64
import io
from datetime import timedelta

from PIL import Image
from sqlalchemy import select

from bot.aftercare.compliance import compare
from bot.carriers.sandbox.proofs import DropPolicy, drop_proof
from bot.carriers.sandbox.simulator import tick
from bot.carriers.sandbox.world import build_world
from bot.core.geo import distance_m
from bot.core.models import DeliveryProof, DropPlace, Route, Shipment, ShipmentStatus, Stop
from bot.core.runtime import Runtime
from tests.conftest import T0
from tests.test_sandbox import berlin, set_sim_time


def _world(runtime: Runtime, policy: DropPolicy, instructions: dict[int, str]) -> list[int]:
    """The demo world with the first route's parcels given `instructions` (by position); its ids."""
    with runtime.sessions() as session, session.begin():
        build_world(session, seed=7, speed=30, now=T0, drops=policy)
        route = session.scalars(select(Route).order_by(Route.id)).first()
        assert route is not None
        ids = [stop.shipment_id for stop in route.stops if stop.shipment.locker_id is None]
        for index, text in instructions.items():
            session.get(Shipment, ids[index]).instructions = text
        for stop in session.scalars(select(Stop)):
            stop.will_fail = False
    return ids


def _play_day(runtime: Runtime, policy: DropPolicy) -> None:
    moment = berlin(7, 30)
    while moment < berlin(21, 0):
        moment += timedelta(minutes=30)
        set_sim_time(runtime, moment)
        with runtime.sessions() as session, session.begin():
            tick(session, drops=policy)


def test_every_delivery_of_the_day_records_its_proof_as_asked(sqlite_runtime: Runtime) -> None:
    policy = DropPolicy(ignore_rate=0.0, far_rate=0.0, max_distance_m=50)
    ids = _world(sqlite_runtime, policy, {0: "Bitte beim Nachbarn Nr. 14 abgeben", 1: "back door please",
                                          2: "graag in de garage"})
    _play_day(sqlite_runtime, policy)
    with sqlite_runtime.sessions() as session:
        delivered = session.scalars(select(Shipment).where(Shipment.status == ShipmentStatus.DELIVERED,
                                                           Shipment.delivered_at >= berlin(7, 30))).all()
        assert len(delivered) >= 5
        proofs = {p.shipment_id: p for p in session.scalars(select(DeliveryProof))}
        for shipment in delivered:
            proof = proofs[shipment.id]
            assert proof.carrier == "sandbox" and proof.delivered_at == shipment.delivered_at
            assert proof.distance_m is not None and proof.distance_m <= 12
            assert abs(distance_m(proof.lat, proof.lng, shipment.lat, shipment.lng) - proof.distance_m) < 1
            assert proof.driver_id is not None and proof.depot_id is not None and proof.note
            assert proof.photo_format == "png" and proof.compliance != "differs"
            png = base64.b64decode(proof.photo)
            assert len(png) < 30_000 and Image.open(io.BytesIO(png)).size == (320, 240)
        neighbour, back, garage = (proofs[i] for i in ids[:3])
        assert (neighbour.place, neighbour.neighbour, neighbour.compliance) == ("neighbour", "no. 14", "as_asked")
        assert neighbour.instructions_in_force == "Bitte beim Nachbarn Nr. 14 abgeben"
        assert (back.place, back.compliance) == ("back_door", "as_asked")
        assert (garage.place, garage.compliance) == ("garage", "as_asked")


def test_drivers_who_ignore_instructions_and_drop_far_are_recorded_as_differing(sqlite_runtime: Runtime) -> None:
    policy = DropPolicy(ignore_rate=1.0, far_rate=1.0, max_distance_m=50)
    ids = _world(sqlite_runtime, policy, {0: "Bitte beim Nachbarn Nr. 14 abgeben", 1: "back door please"})
    _play_day(sqlite_runtime, policy)
    with sqlite_runtime.sessions() as session:
        proofs = list(session.scalars(select(DeliveryProof).join(Shipment).where(
            Shipment.delivered_at >= berlin(7, 30))))
        assert len(proofs) >= 5
        for proof in proofs:
            assert 80 <= proof.distance_m <= 400 and proof.compliance == "differs"
            assert "distance" in proof.compliance_reasons
        first, second = (session.scalar(select(DeliveryProof).where(DeliveryProof.shipment_id == i)) for i in ids[:2])
        assert "neighbour" in first.compliance_reasons and first.neighbour != "no. 14"
        assert "place" in second.compliance_reasons and second.place != "back_door"


def test_the_seeded_history_comes_with_proofs(sqlite_runtime: Runtime) -> None:
    with sqlite_runtime.sessions() as session, session.begin():
        build_world(session, seed=7, speed=30, now=T0)
    with sqlite_runtime.sessions() as session:
        delivered = session.scalars(select(Shipment).where(Shipment.status == ShipmentStatus.DELIVERED)).all()
        proofs = session.scalars(select(DeliveryProof)).all()
        assert delivered and {p.shipment_id for p in proofs} == {s.id for s in delivered}


def test_a_proof_is_the_same_for_the_same_seed_and_differs_across_seeds(sqlite_runtime: Runtime) -> None:
    with sqlite_runtime.sessions() as session, session.begin():
        build_world(session, seed=7, speed=30, now=T0)
        shipment = session.scalars(select(Shipment).order_by(Shipment.id)).first()
        assert shipment is not None
        policy = DropPolicy(ignore_rate=0.5, far_rate=0.5)
        one = drop_proof(shipment, seed=7, day="2026-11-24", policy=policy)
        assert one == drop_proof(shipment, seed=7, day="2026-11-24", policy=policy)
        others = {drop_proof(shipment, seed=s, day="2026-11-24", policy=policy).lat for s in range(8, 20)}
        assert len(others) > 1 and one.lat not in others


def test_rates_in_between_ignore_some_drivers_and_not_others(sqlite_runtime: Runtime) -> None:
    with sqlite_runtime.sessions() as session, session.begin():
        build_world(session, seed=7, speed=30, now=T0)
        shipments = session.scalars(select(Shipment).order_by(Shipment.id).limit(40)).all()
        policy = DropPolicy(ignore_rate=0.3, far_rate=0.3)
        verdicts = []
        for s in shipments:
            s.instructions = "back door please"
            drop = drop_proof(s, seed=7, day="2026-11-24", policy=policy)
            far = distance_m(drop.lat, drop.lng, s.lat, s.lng)
            verdicts.append(compare(s.instructions, drop.place, drop.neighbour, far, 50).verdict)
            assert drop.place in {p.value for p in DropPlace}
        assert 5 <= verdicts.count("differs") <= 30 and verdicts.count("as_asked") >= 10
