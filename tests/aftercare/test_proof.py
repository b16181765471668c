"""Recording a proof of delivery and its read-side view, on their own."""

from __future__ import annotations

import base64
import random
from datetime import timedelta

from bot.aftercare.proof import photo_bytes, proof_view, record_proof
from bot.carriers.models import DropProof
from bot.carriers.sandbox.proofs import picture
from bot.core.models import DropPlace, ShipmentStatus
from bot.core.runtime import Runtime
from tests import factories
from tests.conftest import T0

PNG = base64.b64encode(picture(DropPlace.FRONT_DOOR, "3", random.Random(3))).decode()


def test_a_proof_keeps_only_what_is_sane_and_the_view_only_rows_with_a_value(sqlite_runtime: Runtime) -> None:
    with sqlite_runtime.sessions() as session, session.begin():
        owner = factories.customer(session, time_zone="Europe/Berlin")
        shipment = factories.shipment(session, owner, at=T0, status=ShipmentStatus.DELIVERED, instructions="garage")
        proof = record_proof(session, shipment, DropProof(place="ON THE ROOF", note="  a   note ", lat=95.0, lng=13.0,
                                                          photo=base64.b64encode(b"GIF89a...").decode(),
                                                          photo_format="png"),
                             carrier="rest", delivered_at=T0, max_distance_m=50)
        assert (proof.place, proof.note, proof.lat, proof.distance_m, proof.photo) == ("other", "a note", None, None, None)
        assert (proof.compliance, proof.compliance_reasons) == ("differs", ["place"])
        view = proof_view(proof, "de", "Europe/Berlin", T0 + timedelta(hours=1))
        assert [row.key for row in view.rows] == ["at", "where", "note"]
        assert view.where == "an einem anderen Ort (siehe Notiz)" and view.drop is None and not view.has_photo


def test_the_latest_delivery_wins_and_asks_the_customer_again(sqlite_runtime: Runtime) -> None:
    with sqlite_runtime.sessions() as session, session.begin():
        owner = factories.customer(session)
        shipment = factories.shipment(session, owner, at=T0, status=ShipmentStatus.DELIVERED)
        first = record_proof(session, shipment, DropProof(place="porch", photo=PNG, photo_format="png",
                                                          lat=shipment.lat, lng=shipment.lng),
                             carrier="sandbox", delivered_at=T0, max_distance_m=50)
        first.customer_asked_at = T0
        older = record_proof(session, shipment, DropProof(place="shed"), carrier="sandbox",
                             delivered_at=T0 - timedelta(days=1), max_distance_m=50)
        assert older.id == first.id and older.place == "porch" and older.customer_asked_at == T0
        newer = record_proof(session, shipment, DropProof(place="garage"), carrier="sandbox",
                             delivered_at=T0 + timedelta(days=1), max_distance_m=50)
        assert newer.id == first.id and newer.place == "garage" and newer.customer_asked_at is None
        assert newer.photo is None and newer.distance_m is None


def test_a_photo_must_be_what_it_says_it_is() -> None:
    assert photo_bytes(PNG, "png") is not None
    assert photo_bytes(PNG, "jpeg") is None and photo_bytes(PNG, "gif") is None
    assert photo_bytes("not base64!", "png") is None and photo_bytes(None, "png") is None
    assert photo_bytes("A" * 3_000_000, "png") is None
