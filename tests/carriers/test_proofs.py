"""Proof of delivery from the real adapters, through their own wire formats: the REST contract's delivered
event (validated against the OpenAPI document), Onfleet's taskCompleted webhook, karrio's UPS tracking."""

from __future__ import annotations

import base64
import io
import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import yaml
from jsonschema import Draft202012Validator
from PIL import Image
from sqlalchemy import select

from bot.carriers.sandbox.proofs import picture
from bot.core.models import DeliveryProof, DropPlace, Shipment, ShipmentEvent
from bot.core.runtime import Runtime
from tests.carriers.conftest import switch
from tests.carriers.fakes import Fake
from tests.carriers.test_karrio import UPS_NUMBER, in_transit, ups_package
from tests.carriers.test_onfleet import TASK_ID, hook, on_onfleet, payload
from tests.carriers.test_rest import SPEC, on_rest, post_event
from tests.test_web import LiveServer

BERLIN = ZoneInfo("Europe/Berlin")


def proof_of(world: Runtime, shipment_id: int) -> DeliveryProof | None:
    with world.sessions() as session:
        proof = session.scalar(select(DeliveryProof).where(DeliveryProof.shipment_id == shipment_id))
        if proof is not None:
            session.expunge(proof)
        return proof


def delivered_event(shipment: Shipment, **proof: object) -> dict:
    return {"event_id": "pod-1", "tracking_number": shipment.tracking_number, "status": "delivered",
            "occurred_at": "2026-11-24T10:50:00+01:00", "lat": shipment.lat, "lng": shipment.lng, "proof": proof}


def test_the_contract_documents_the_proof_on_the_delivered_event(world: Runtime, fake: Fake) -> None:
    shipment = on_rest(world, fake)
    event = delivered_event(shipment, place="neighbour", neighbour="Meyer, no. 14", note="Neighbour took it",
                            photo_url="https://dispatch.example.com/pod/1.jpg")
    document = yaml.safe_load(SPEC.read_text())
    validator = Draft202012Validator({"$ref": "#/components/schemas/Event", "components": document["components"]})
    assert list(validator.iter_errors(event)) == []
    assert list(validator.iter_errors({**event, "proof": {"place": "in the bin"}}))
    assert list(validator.iter_errors({**event, "proof": {"photo_url": "http://plain.example/1.jpg"}}))
    schema = document["components"]["schemas"]
    assert set(schema["Proof"]["properties"]) == {"place", "note", "neighbour", "lat", "lng", "photo_url"}
    assert set(schema["Proof"]["properties"]["place"]["enum"]) - {None} == {p.value for p in DropPlace}


def test_a_rest_delivered_event_with_proof_records_it(world: Runtime, fake: Fake) -> None:
    shipment = on_rest(world, fake)
    with world.sessions() as session, session.begin():
        session.get(Shipment, shipment.id).instructions = "bitte beim Nachbarn Nr. 14 abgeben"
    event = delivered_event(shipment, place="neighbour", neighbour="Meyer, no. 16", note="Neighbour took it",
                            lat=shipment.lat + 0.0009, lng=shipment.lng,
                            photo_url="https://dispatch.example.com/pod/1.jpg")
    with LiveServer(world.settings) as live:
        assert post_event(live, event).json() == {"outcome": "applied", "status": "delivered"}
        assert post_event(live, event).json()["outcome"] == "duplicate"
    proof = proof_of(world, shipment.id)
    assert proof is not None and proof.carrier == "rest" and proof.place == "neighbour"
    assert proof.neighbour == "Meyer, no. 16" and proof.note == "Neighbour took it"
    assert 95 <= (proof.distance_m or 0) <= 105  # 0.0009° of latitude
    assert proof.compliance == "differs" and set(proof.compliance_reasons) == {"distance", "neighbour"}
    assert proof.instructions_in_force == "bitte beim Nachbarn Nr. 14 abgeben" and proof.photo is None
    with world.sessions() as session:
        kept = session.scalar(select(ShipmentEvent).where(ShipmentEvent.event_id == "pod-1"))
        assert kept is not None and kept.payload["proof_photo_ref"] == "https://dispatch.example.com/pod/1.jpg"


def test_a_rest_proof_with_bad_fields_is_refused_and_changes_nothing(world: Runtime, fake: Fake) -> None:
    shipment = on_rest(world, fake)
    bad = [{"place": "in the bin"}, {"photo_url": "file:///etc/passwd"}, {"photo_url": "http://x.example/1.jpg"},
           {"note": "x" * 501}, {"lat": 91}, {"neighbour": ["no"]}]
    with LiveServer(world.settings) as live:
        for fields in bad:
            response = post_event(live, {**delivered_event(shipment, **fields), "event_id": f"bad-{len(str(fields))}"})
            assert response.status_code == 422, fields
    assert proof_of(world, shipment.id) is None
    with world.sessions() as session:
        assert session.get(Shipment, shipment.id).status != "delivered"


def test_a_proof_on_an_event_that_is_not_a_delivery_is_ignored(world: Runtime, fake: Fake) -> None:
    shipment = on_rest(world, fake)
    event = {**delivered_event(shipment, place="front_door"), "status": "out_for_delivery"}
    with LiveServer(world.settings) as live:
        assert post_event(live, event).json()["status"] == "out_for_delivery"
    assert proof_of(world, shipment.id) is None


def test_onfleet_task_completion_maps_to_a_proof(world: Runtime, fake: Fake) -> None:
    shipment = on_onfleet(world, fake)
    task = fake.tasks[TASK_ID]
    at = datetime(2026, 11, 24, 11, 5, tzinfo=BERLIN)
    done = {**task, "state": 3, "completionDetails": {
        "success": True, "time": int(at.timestamp() * 1000), "notes": "Left at the back door, behind the bins",
        "photoUploadIds": ["b5OuQ7t9d1zk5lbqgPyzM3rQ"], "failureReason": "NONE",
        "lastLocation": [shipment.lng, shipment.lat + 0.00005]}}
    with LiveServer(world.settings) as live, httpx.Client(base_url=live.url) as client:
        assert hook(client, payload("taskCompleted", done, at)).json()["status"] == "delivered"
    proof = proof_of(world, shipment.id)
    assert proof is not None and proof.carrier == "onfleet" and proof.place == "back_door"
    assert proof.note == "Left at the back door, behind the bins" and proof.distance_m is not None
    assert proof.distance_m <= 10 and proof.delivered_at == at
    with world.sessions() as session:
        event = session.scalar(select(ShipmentEvent).where(ShipmentEvent.shipment_id == shipment.id,
                                                          ShipmentEvent.status == "delivered"))
        assert event is not None and event.payload["proof_photo_ref"] == "onfleet-upload:b5OuQ7t9d1zk5lbqgPyzM3rQ"


def test_onfleet_completion_with_hostile_details_records_only_what_is_sane(world: Runtime, fake: Fake) -> None:
    shipment = on_onfleet(world, fake)
    task = fake.tasks[TASK_ID]
    at = datetime(2026, 11, 24, 11, 5, tzinfo=BERLIN)
    done = {**task, "state": 3, "completionDetails": {"success": True, "notes": "ok", "lastLocation": [999, "x"],
                                                      "photoUploadId": "../../etc/passwd"}}
    with LiveServer(world.settings) as live, httpx.Client(base_url=live.url) as client:
        assert hook(client, payload("taskCompleted", done, at)).status_code == 200
    proof = proof_of(world, shipment.id)
    assert proof is not None and proof.lat is None and proof.distance_m is None and proof.note == "ok"
    with world.sessions() as session:
        event = session.scalar(select(ShipmentEvent).where(ShipmentEvent.shipment_id == shipment.id,
                                                          ShipmentEvent.status == "delivered"))
        assert event is not None and "proof_photo_ref" not in event.payload


def test_karrio_passes_on_the_ups_delivery_photo_and_words(world: Runtime, fake: Fake) -> None:
    shipment = switch(world, in_transit(world)[0].id, "ups", UPS_NUMBER)
    png = picture(DropPlace.PORCH, "12", random.Random(1))
    package = ups_package(("D", "KB", "DELIVERED - LEFT AT FRONT DOOR", "20261124", "091500"),
                          ("I", "OT", "Out For Delivery Today", "20261124", "071000"))
    package["deliveryInformation"] = {"location": "Front Door", "receivedBy": "",
                                      "deliveryPhoto": {"photo": base64.b64encode(png).decode(), "isNonPostalCodeCountry": False}}
    fake.ups[UPS_NUMBER] = package
    assert world.carrier("ups").track(shipment.tracking_number).status == "delivered"
    proof = proof_of(world, shipment.id)
    assert proof is not None and proof.carrier == "ups" and proof.place == "front_door"
    assert proof.note == "DELIVERED - LEFT AT FRONT DOOR" and proof.photo_format == "png"
    assert Image.open(io.BytesIO(base64.b64decode(proof.photo or ""))).size == (320, 240)
    assert proof.distance_m is None and proof.compliance == "unknown"
    world.carrier("ups").track(shipment.tracking_number)  # polled again: still one proof, unchanged
    again = proof_of(world, shipment.id)
    assert again is not None and again.id == proof.id and again.delivered_at == proof.delivered_at


def test_karrio_drops_a_delivery_image_that_is_not_a_picture(world: Runtime, fake: Fake) -> None:
    shipment = switch(world, in_transit(world)[0].id, "ups", UPS_NUMBER)
    package = ups_package(("D", "KB", "DELIVERED", "20261124", "091500"))
    package["deliveryInformation"] = {"deliveryPhoto": {"photo": base64.b64encode(b"%PDF-1.4 not a photo").decode()}}
    fake.ups[UPS_NUMBER] = package
    world.carrier("ups").track(shipment.tracking_number)
    proof = proof_of(world, shipment.id)
    assert proof is not None and proof.photo is None and proof.photo_format is None and proof.place is None


def test_the_latest_delivery_wins(world: Runtime, fake: Fake) -> None:
    shipment = on_rest(world, fake)
    first = delivered_event(shipment, place="front_door")
    later = {**delivered_event(shipment, place="garage"), "event_id": "pod-2", "occurred_at": "2026-11-25T10:00:00+01:00"}
    earlier = {**delivered_event(shipment, place="shed"), "event_id": "pod-0", "occurred_at": "2026-11-23T10:00:00+01:00"}
    with LiveServer(world.settings) as live:
        for event in (first, later, earlier):
            assert post_event(live, event).status_code == 200
    proof = proof_of(world, shipment.id)
    assert proof is not None and proof.place == "garage"
    assert proof.delivered_at == datetime(2026, 11, 25, 9, 0, tzinfo=ZoneInfo("UTC")) + timedelta(0)
