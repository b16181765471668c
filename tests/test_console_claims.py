"""The console's claims over HTTP: list and page with the evidence escaped, the photo only to an agent,
resolving once with CSRF, and the dashboard's claims and compliance figures."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bot.aftercare.claims import open_or_add
from bot.aftercare.stats import aftercare
from bot.core.clock import sim_now
from bot.core.models import Claim, ClaimKind, DeliveryProof, Depot, Driver, Notification, Shipment
from bot.core.runtime import Runtime
from bot.desk.agents import create_agent
from tests import worlds
from tests.conftest import T0
from tests.factories import put_proof
from tests.test_console import PASSWORD, client_for, login
from tests.test_web import LiveServer

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16).decode()


@pytest.fixture
def world(sqlite_runtime: Runtime) -> Runtime:
    worlds.load_world(sqlite_runtime, world_speed=30, built_at=T0)
    with sqlite_runtime.sessions() as session, session.begin():
        create_agent(session, email="sam@example.com", name="Sam", password=PASSWORD, role="agent")
    return sqlite_runtime


@pytest.fixture
def live(world: Runtime) -> Iterator[LiveServer]:
    with LiveServer(world.settings) as server:
        yield server


def hostile_claim(world: Runtime) -> Claim:
    with world.sessions() as session, session.begin():
        shipment = session.scalars(select(Shipment).where(Shipment.status == "delivered").order_by(Shipment.id)).first()
        shipment.instructions = HOSTILE
        put_proof(session, DeliveryProof(shipment_id=shipment.id, carrier="sandbox", delivered_at=shipment.delivered_at,
                                  place="porch", note=HOSTILE, neighbour=HOSTILE[:100], distance_m=320, photo=PNG,
                                  photo_format="png", instructions_in_force=HOSTILE, compliance="differs",
                                  compliance_reasons=["distance"]))
        shipment_id, customer_id = shipment.id, shipment.customer_id
    ticket = open_or_add(world, shipment_id=shipment_id, customer_id=customer_id, kind=ClaimKind.NOT_AS_ASKED,
                         channel="sms", sender_id="+4915100000009", words=HOSTILE)
    with world.sessions() as session:
        claim = session.get(Claim, ticket.claim_id)
        assert claim is not None
        return claim


def test_claims_list_and_page_show_the_evidence_escaped(live: LiveServer, world: Runtime) -> None:
    claim = hostile_claim(world)
    client, _ = login(live)
    listing = client.get("/agent/claims")
    assert listing.status_code == 200 and claim.reference in listing.text and "not left as asked" in listing.text
    page = client.get(f"/agent/claims/{claim.id}")
    assert page.status_code == 200
    assert "<script>alert" not in page.text and "<img src=x" not in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text  # the words, note and instructions
    assert page.text.count("&lt;script&gt;") >= 4
    assert "320 m from the address" in page.text and f"/agent/claims/{claim.id}/photo" in page.text
    assert client.get("/agent/claims/999999").status_code == 404
    assert client.get("/agent/claims/0").status_code == 422


def test_the_photo_is_served_only_to_a_logged_in_agent(live: LiveServer, world: Runtime) -> None:
    claim = hostile_claim(world)
    anonymous = client_for(live).get(f"/agent/claims/{claim.id}/photo", follow_redirects=False)
    assert anonymous.status_code in (303, 401) and not anonymous.content.startswith(b"\x89PNG")
    client, _ = login(live)
    photo = client.get(f"/agent/claims/{claim.id}/photo")
    assert photo.status_code == 200 and photo.content.startswith(b"\x89PNG")
    assert photo.headers["content-type"] == "image/png" and photo.headers["x-content-type-options"] == "nosniff"
    assert "private" in photo.headers["cache-control"]


def test_resolving_needs_csrf_happens_once_and_plans_the_customers_message(live: LiveServer, world: Runtime) -> None:
    claim = hostile_claim(world)
    client, csrf = login(live)
    url = f"/agent/claims/{claim.id}/resolve"
    assert client.post(url, data={"resolution": "refund", "note": "x"}).status_code == 403  # no CSRF token
    assert client.post(url, data={"resolution": "teleport", "csrf_token": csrf}).status_code == 422
    with world.sessions() as session:
        assert session.get(Claim, claim.id).status == "open"
    done = client.post(url, data={"resolution": "refund", "note": HOSTILE, "csrf_token": csrf}, follow_redirects=False)
    assert done.status_code == 303
    again = client.post(url, data={"resolution": "redeliver", "note": "", "csrf_token": csrf}, follow_redirects=False)
    assert again.status_code == 409
    with world.sessions() as session:
        row = session.get(Claim, claim.id)
        told = session.scalars(select(Notification).where(Notification.trigger == "claim_resolved")).all()
    assert (row.status, row.resolution) == ("resolved", "refund") and len(told) == 1
    page = client.get(f"/agent/claims/{claim.id}")
    assert "refund through the retailer" in page.text and "<script>alert" not in page.text
    assert 'id="resolve-form"' not in page.text


def test_the_dashboard_counts_claims_compliance_and_disputed_attempts(live: LiveServer, world: Runtime) -> None:
    with world.sessions() as session, session.begin():
        depot = session.scalars(select(Depot)).first()
        drivers = session.scalars(select(Driver).order_by(Driver.id)).all()[:2]
        parcels = session.scalars(select(Shipment).order_by(Shipment.id)).all()[:5]
        now = sim_now(session)
        verdicts = [(drivers[0], "as_asked"), (drivers[0], "as_asked"), (drivers[0], "differs"),
                    (drivers[1], "differs"), (drivers[1], "unknown")]
        for parcel, (driver, verdict) in zip(parcels, verdicts, strict=True):
            put_proof(session, DeliveryProof(shipment_id=parcel.id, carrier="sandbox", delivered_at=now, driver_id=driver.id,
                                      depot_id=depot.id, compliance=verdict))
        ids = [(p.id, p.customer_id) for p in parcels[:2]]
    for shipment_id, customer_id in ids:
        open_or_add(world, shipment_id=shipment_id, customer_id=customer_id, kind=ClaimKind.DISPUTED_ATTEMPT,
                    channel="sms", sender_id=None, words="i was home")
    with world.sessions() as session:
        figures = aftercare(session, sim_now(session))
    assert figures["claims"]["opened"] == 2 and figures["claims"]["resolved"] == 0
    assert figures["compliance"]["compared"] == 4 and figures["compliance"]["share"] == 0.5  # "unknown" not compared
    by_driver = {r["name"]: (r["as_asked"], r["compared"]) for r in figures["compliance"]["drivers"]}
    assert by_driver == {drivers[0].name: (2, 3), drivers[1].name: (0, 1)}
    assert figures["compliance"]["depots"] == [{"name": depot.name, "compared": 4, "as_asked": 2, "share": 0.5}]
    assert figures["attempts"]["disputed"] == 2
    client, _ = login(live)
    page = client.get("/agent/dashboard")
    assert 'id="claims-opened">2<' in page.text and 'id="compliance-share">50%<' in page.text
