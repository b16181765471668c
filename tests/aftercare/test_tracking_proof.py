"""The proof of delivery on the tracking page over HTTP: only rows with a value, the photo only through the
parcel's own valid link, the driver's note escaped."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from bot.conversation.identity import make_link_token
from bot.core.models import DeliveryProof, Shipment
from bot.core.runtime import Runtime
from tests import worlds
from tests.conftest import T0
from tests.test_web import LiveServer

NOTE = '<script>alert("pwned")</script> left by the bins & gate'


@pytest.fixture
def world(sqlite_runtime: Runtime) -> Runtime:
    worlds.load_world(sqlite_runtime, world_speed=30, built_at=T0)
    with sqlite_runtime.sessions() as session, session.begin():
        proofs = session.scalars(select(DeliveryProof).order_by(DeliveryProof.id)).all()
        proofs[0].note, proofs[0].place, proofs[0].neighbour = NOTE, "neighbour", "no. 14"
        proofs[0].lat, proofs[0].distance_m = proofs[0].shipment.lat + 0.001, 111
        proofs[0].compliance, proofs[0].compliance_reasons = "differs", ["distance"]
    return sqlite_runtime


@pytest.fixture
def live(world: Runtime) -> Iterator[LiveServer]:
    with LiveServer(world.settings) as server:
        yield server


def proofs(world: Runtime) -> list[DeliveryProof]:
    with world.sessions() as session:
        rows = list(session.scalars(select(DeliveryProof).order_by(DeliveryProof.id)))
        session.expunge_all()
        return rows


def token_for(world: Runtime, shipment_id: int) -> str:
    return make_link_token(world.settings.link_secret, shipment_id)


def proof_section(html: str) -> str:
    match = re.search(r'<section class="card proof" id="proof".*?</section>', html, re.S)
    assert match is not None
    return match.group(0)


def test_a_delivered_parcel_shows_its_proof_with_only_the_rows_that_have_a_value(live: LiveServer, world: Runtime) -> None:
    first = proofs(world)[0]
    token = token_for(world, first.shipment_id)
    page = httpx.get(f"{live.url}/t/{token}?lang=de")
    section = proof_section(page.text)
    keys = re.findall(r'data-key="(\w+)"', section)
    assert keys == ["at", "where", "note", "distance"]
    assert "Packstation" not in section and "Abholcode" not in section and "hidden><dt" not in section
    assert "bei einem Nachbarn: no. 14" in section and "111 m von der Adresse" in section
    assert f'src="/t/{token}/proof.png"' in section and 'id="pin-drop"' in section and 'id="pin-address"' in section
    live_view = httpx.get(f"{live.url}/t/{token}/live?lang=en").json()["proof"]
    assert [r["key"] for r in live_view["rows"]] == ["at", "where", "note", "distance"]
    assert live_view["rows"][1]["value"] == "with a neighbour: no. 14"
    assert live_view["photo"] == f"/t/{token}/proof.png" and live_view["map"]["metres"] == 111
    assert live_view["map"]["drop"][1] < live_view["map"]["address"][1]  # north of the address: higher up


def test_a_parcel_on_its_way_has_no_proof_and_a_locker_parcel_only_its_locker_rows(live: LiveServer,
                                                                                  world: Runtime) -> None:
    with world.sessions() as session, session.begin():
        on_way = session.scalars(select(Shipment).where(Shipment.status == "at_depot").order_by(Shipment.id)).first()
        at_locker = session.scalars(select(Shipment).where(Shipment.status == "in_transit").order_by(Shipment.id)).first()
        assert on_way is not None and at_locker is not None
        at_locker.status, at_locker.locker_id, at_locker.locker_pickup_code = "at_locker", 1, "123456"
        ids = on_way.id, at_locker.id
    assert httpx.get(f"{live.url}/t/{token_for(world, ids[0])}/live").json()["proof"] is None
    rows = httpx.get(f"{live.url}/t/{token_for(world, ids[1])}/live?lang=de").json()["proof"]["rows"]
    assert [r["key"] for r in rows] == ["at", "where", "locker", "code"] and rows[3]["value"] == "123456"
    assert httpx.get(f"{live.url}/t/{token_for(world, ids[1])}/proof.png").status_code == 404


def test_the_drivers_note_is_escaped_on_the_page_and_in_its_script(live: LiveServer, world: Runtime) -> None:
    token = token_for(world, proofs(world)[0].shipment_id)
    page = httpx.get(f"{live.url}/t/{token}?lang=en").text
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt; left by the bins &amp; gate" in page
    assert "\\u003cscript\\u003ealert" in page  # the view handed to the page's script: tojson escapes it


def test_the_photo_is_served_with_the_parcels_valid_token(live: LiveServer, world: Runtime) -> None:
    token = token_for(world, proofs(world)[0].shipment_id)
    photo = httpx.get(f"{live.url}/t/{token}/proof.png")
    assert photo.status_code == 200 and photo.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert photo.headers["content-type"] == "image/png"
    assert photo.headers["cache-control"].startswith("private")
    assert photo.headers["x-content-type-options"] == "nosniff"


def test_the_photo_is_never_served_without_the_parcels_valid_token(live: LiveServer, world: Runtime,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = proofs(world)[:2]
    token = token_for(world, first.shipment_id)
    with world.sessions() as session:
        on_way = session.scalars(select(Shipment.id).where(Shipment.status == "at_depot")).first()
    real_time = time.time
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: real_time() - 400 * 86400)
    expired = token_for(world, first.shipment_id)
    monkeypatch.undo()
    refused = [
        "/t//proof.png", "/t/proof.png", f"/t/{token[:-2]}xx/proof.png", f"/t/{token}x/proof.png",
        f"/t/{make_link_token('another-secret', first.shipment_id)}/proof.png", f"/t/{expired}/proof.png",
        f"/t/{token_for(world, on_way)}/proof.png", f"/t/{token}/proof.jpeg", f"/t/{token}/proof.svg",
        f"/t/{token}/proof.", f"/t/{token_for(world, 999_999)}/proof.png",
    ]
    for path in refused:
        response = httpx.get(f"{live.url}{path}")
        assert response.status_code == 404, path
        assert not response.content.startswith(b"\x89PNG"), path
    # Another parcel's token shows that parcel's photo, never this one's.
    other = httpx.get(f"{live.url}/t/{token_for(world, second.shipment_id)}/proof.png")
    mine = httpx.get(f"{live.url}/t/{token}/proof.png")
    assert other.status_code == 200 and mine.status_code == 200 and other.content != mine.content
