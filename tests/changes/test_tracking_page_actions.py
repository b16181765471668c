"""The tracking page's own changes over HTTP (issue 16): choose → confirm → done in plain forms, through the
change service; the database after each answer, the message that tells the customer, and hostile forms."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import datetime
from html import unescape

import httpx
import pytest
from sqlalchemy import select

from bot.conversation.identity import make_link_token
from bot.core.models import Notification, Return, Shipment, ShipmentStatus
from bot.core.runtime import Runtime
from bot.notify.render import context_for, render
from tests.changes.conftest import parcel
from tests.test_web import LiveServer


@pytest.fixture
def client(world: Runtime) -> Iterator[httpx.Client]:
    with LiveServer(world.settings) as server, httpx.Client(base_url=server.url) as http:
        yield http


def link(world: Runtime, shipment: Shipment) -> str:
    return f"/t/{make_link_token(world.settings.link_secret, shipment.id)}"


def values(html: str, name: str) -> list[str]:
    return [unescape(v) for v in re.findall(rf'name="{name}" value="([^"]*)"', html)]


def told(world: Runtime, shipment_id: int) -> list[Notification]:
    with world.sessions() as session:
        rows = list(session.scalars(select(Notification).where(Notification.shipment_id == shipment_id,
                                                               Notification.trigger == "change_confirmed")))
        session.expunge_all()
        return rows


def fresh(world: Runtime, shipment_id: int) -> Shipment:
    with world.sessions() as session:
        shipment = session.get(Shipment, shipment_id)
        assert shipment is not None
        session.expunge(shipment)
        return shipment


def test_a_new_window_chosen_confirmed_made_and_told_once(client: httpx.Client, world: Runtime) -> None:
    shipment = parcel(world, ShipmentStatus.AT_DEPOT)
    page = link(world, shipment)
    form = client.get(f"{page}/change/reschedule?lang=en")
    assert form.status_code == 200 and "When should we come?" in form.text
    assert "script-src 'self';" in form.headers["content-security-policy"] and "<script>" not in form.text
    window = values(form.text, "window")[1]
    confirm = client.post(f"{page}/change/reschedule?lang=en", data={"window": window})
    assert confirm.status_code == 200 and "Please check and confirm" in confirm.text
    assert values(confirm.text, "window") == [window]
    assert fresh(world, shipment.id).promised_start == shipment.promised_start  # nothing changed before "yes"
    assert told(world, shipment.id) == []
    done = client.post(f"{page}/change/reschedule/confirm?lang=en", data={"window": window})
    assert done.status_code == 200, done.text
    assert 'id="change-done"' in done.text and "Done: parcel …" in done.text
    assert fresh(world, shipment.id).promised_start == datetime.fromisoformat(window.split("|")[0])
    again = client.post(f"{page}/change/reschedule/confirm?lang=en", data={"window": window})  # a double submit
    assert again.status_code in (200, 409)
    messages = told(world, shipment.id)
    assert len(messages) == 1 and messages[0].status == "planned"
    with world.sessions() as session:
        row = session.get(Notification, messages[0].id)
        moved = session.get(Shipment, shipment.id)
        assert moved is not None and row is not None
        text = render("change_confirmed", "de", context_for(row, moved, now=moved.promised_start,  # type: ignore[arg-type]
                                                            settings=world.settings)).sms
    assert text.startswith("Doorstep: erledigt, Paket ") and "AGENT" in text


def test_a_locker_from_the_list(client: httpx.Client, world: Runtime) -> None:
    shipment = parcel(world, ShipmentStatus.AT_DEPOT)
    page = link(world, shipment)
    form = client.get(f"{page}/change/locker?lang=de")
    assert form.status_code == 200 and 'id="locker-map"' in form.text and "Welche Packstation?" in form.text
    assert "0,5 km entfernt" in form.text
    code = values(form.text, "locker")[0]
    assert client.post(f"{page}/change/locker?lang=de", data={"locker": code}).status_code == 200
    done = client.post(f"{page}/change/locker/confirm?lang=de", data={"locker": code})
    assert done.status_code == 200 and "Erledigt" in done.text
    moved = fresh(world, shipment.id)
    assert moved.locker_id is not None
    assert [m.context["change"] for m in told(world, shipment.id)] == ["locker"]


def test_instructions_with_html_are_shown_as_text_and_stored_as_written(client: httpx.Client, world: Runtime) -> None:
    shipment = parcel(world, ShipmentStatus.AT_DEPOT)
    page = link(world, shipment)
    note = '<script>alert("x")</script> behind the <b>green</b> gate'
    confirm = client.post(f"{page}/change/instructions", data={"note": note})
    assert confirm.status_code == 200
    assert "<script>alert" not in confirm.text and "&lt;script&gt;alert" in confirm.text
    done = client.post(f"{page}/change/instructions/confirm", data={"note": note})
    assert done.status_code == 200 and "<script>alert" not in done.text
    assert fresh(world, shipment.id).instructions == note
    console = client.get(page)
    assert "<script>alert" not in console.text


def test_a_return_with_a_label(client: httpx.Client, world: Runtime) -> None:
    shipment = parcel(world, ShipmentStatus.DELIVERED, returnable=True)
    page = link(world, shipment)
    form = client.get(f"{page}/change/return")
    assert form.status_code == 200
    items = values(form.text, "items")
    assert items and "label" in values(form.text, "method")
    data = {"items": items, "method": "label", "reason": "too small"}
    confirm = client.post(f"{page}/change/return", data=data)
    assert confirm.status_code == 200 and "Why: too small" in confirm.text
    done = client.post(f"{page}/change/return/confirm", data=data)
    assert done.status_code == 200 and "booked" in done.text
    with world.sessions() as session:
        assert session.scalars(select(Return).where(Return.shipment_id == shipment.id)).one().reason == "too small"


def test_the_page_offers_only_what_the_service_allows_and_says_why_not(client: httpx.Client, world: Runtime) -> None:
    shipment = parcel(world, ShipmentStatus.AT_DEPOT)
    with world.sessions() as session, session.begin():
        session.get(Shipment, shipment.id).status = ShipmentStatus.OUT_FOR_DELIVERY  # type: ignore[union-attr]
    page = link(world, shipment)
    main = client.get(f"{page}?lang=en").text
    assert "Your parcel is already out with the driver, so I can&#39;t change that now." in main
    assert f'href="{page}/profile?lang=en"' in main and "Your delivery preferences" in main
    form = client.get(f"{page}/change/instructions?lang=en")
    assert form.status_code == 200 and 'id="change-why"' in form.text and "<textarea" not in form.text
    refused = client.post(f"{page}/change/instructions/confirm", data={"note": "behind the gate"})
    assert refused.status_code == 409 and fresh(world, shipment.id).instructions is None
    assert told(world, shipment.id) == []


def test_hostile_forms_change_nothing(client: httpx.Client, world: Runtime) -> None:
    shipment = parcel(world, ShipmentStatus.AT_DEPOT)
    page = link(world, shipment)
    before = fresh(world, shipment.id)
    forged = page[:-3] + ("abc" if not page.endswith("abc") else "xyz")
    assert client.post(f"{forged}/change/instructions/confirm", data={"note": "behind the gate"}).status_code == 404
    alien = f"/t/{make_link_token('not our secret at all, no', shipment.id)}"
    assert client.post(f"{alien}/change/instructions/confirm", data={"note": "behind the gate"}).status_code == 404
    assert client.get(f"{page}/change/address").status_code == 404  # not a change this page makes
    not_offered = client.post(f"{page}/change/reschedule/confirm",
                              data={"window": "2030-01-01T10:00:00+00:00|2030-01-01T11:00:00+00:00"})
    assert not_offered.status_code == 409 and "not on offer" in not_offered.text
    assert client.post(f"{page}/change/locker/confirm", data={"locker": "NOPE-1"}).status_code == 409
    assert client.post(f"{page}/change/instructions/confirm", data={"note": "x" * 400}).status_code == 409
    cross = client.post(f"{page}/change/instructions/confirm", data={"note": "behind the gate"},
                        headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403
    from_elsewhere = client.post(f"{page}/change/instructions/confirm", data={"note": "behind the gate"},
                                 headers={"Sec-Fetch-Site": "cross-site", "Origin": "null"})
    assert from_elsewhere.status_code == 403
    after = fresh(world, shipment.id)
    assert (after.instructions, after.locker_id, after.promised_start) == \
        (before.instructions, before.locker_id, before.promised_start)
    assert told(world, shipment.id) == []


def test_an_expired_link_is_refused(world: Runtime) -> None:
    shipment = parcel(world, ShipmentStatus.AT_DEPOT)
    token = make_link_token(world.settings.link_secret, shipment.id)
    time.sleep(1.1)
    settings = world.settings.model_copy(update={"link_max_age_days": 0})
    with LiveServer(settings) as server, httpx.Client(base_url=server.url) as http:
        answer = http.post(f"/t/{token}/change/instructions/confirm", data={"note": "behind the gate"})
    assert answer.status_code == 404
    assert fresh(world, shipment.id).instructions is None


def test_the_api_tells_the_customer_too(world: Runtime) -> None:
    shipment = parcel(world, ShipmentStatus.AT_DEPOT)
    token = make_link_token(world.settings.link_secret, shipment.id)
    with LiveServer(world.settings) as server, httpx.Client(base_url=server.url) as http:
        headers = {"Authorization": f"Bearer {token}"}
        answer = http.post(f"/api/v1/shipments/{shipment.tracking_number}/changes/instructions", headers=headers,
                           json={"note": "ring twice please"})
        assert answer.status_code == 200
    assert [m.context["change"] for m in told(world, shipment.id)] == ["instructions"]


def test_a_return_to_a_locker_needs_a_locker_that_was_offered(client: httpx.Client, world: Runtime) -> None:
    shipment = parcel(world, ShipmentStatus.DELIVERED, returnable=True)
    page = link(world, shipment)
    form = client.get(f"{page}/change/return?lang=nl")
    assert "locker" in values(form.text, "method") and "Pakketkluis (om af te geven)" in form.text
    items, lockers = values(form.text, "items"), values(form.text, "locker")
    base = {"items": items, "method": "locker", "reason": "te klein"}
    assert client.post(f"{page}/change/return/confirm", data=base).status_code == 409
    assert client.post(f"{page}/change/return/confirm", data={**base, "items": ["NOT-OURS"]}).status_code == 409
    with world.sessions() as session:
        assert session.scalars(select(Return).where(Return.shipment_id == shipment.id)).all() == []
    done = client.post(f"{page}/change/return/confirm", data={**base, "locker": lockers[0]})
    assert done.status_code == 200 and 'id="change-done"' in done.text
    with world.sessions() as session:
        booked = session.scalars(select(Return).where(Return.shipment_id == shipment.id)).one()
        assert (booked.method, booked.reason) == ("locker", "te klein")


def test_the_page_forms_share_the_change_limit_per_client_and_a_refused_one_changes_nothing(world: Runtime) -> None:
    """Each confirmation may reach the carrier and each saved profile change is told on the customer's channel:
    the page's forms count against CHANGE_API_REQUESTS_PER_HOUR per client address, like the API."""
    settings = world.settings.model_copy(update={"change_api_requests_per_hour": 2})
    shipment = parcel(world, ShipmentStatus.AT_DEPOT)
    page = link(world, shipment)
    with LiveServer(settings) as server, httpx.Client(base_url=server.url) as http:
        window = values(http.get(f"{page}/change/reschedule?lang=en").text, "window")[1]
        assert http.post(f"{page}/change/reschedule?lang=en", data={"window": window}).status_code == 200
        assert http.post(f"{page}/profile?lang=en", data={}).status_code != 429
        refused = http.post(f"{page}/change/reschedule/confirm?lang=en", data={"window": window})
        assert refused.status_code == 429 and refused.headers["retry-after"]
        assert http.post(f"{page}/profile?lang=en", data={}).status_code == 429
    assert fresh(world, shipment.id).promised_start == shipment.promised_start and told(world, shipment.id) == []
