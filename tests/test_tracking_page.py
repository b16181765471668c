"""The tracking page over HTTP: live facts by token, the friendly page for bad links, the lookup form."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from bot.conversation.identity import make_link_token
from bot.core.models import Customer, Shipment
from bot.core.runtime import Runtime
from tests import worlds
from tests.conftest import T0
from tests.test_web import LiveServer


@pytest.fixture
def world(sqlite_runtime: Runtime) -> Runtime:
    worlds.load_world(sqlite_runtime, world_speed=30, built_at=T0)
    return sqlite_runtime


@pytest.fixture
def live(world: Runtime) -> Iterator[LiveServer]:
    settings = world.settings.model_copy(update={"lookup_attempts_per_hour": 4})
    with LiveServer(settings) as server:
        yield server


def a_parcel(runtime: Runtime, **where: object) -> Shipment:
    with runtime.sessions() as session:
        shipment = session.scalars(select(Shipment).filter_by(**where).order_by(Shipment.id)).first()
        assert shipment is not None
        session.expunge(shipment)
        return shipment


def test_the_live_view_follows_the_parcel(live: LiveServer, world: Runtime) -> None:
    parcel = a_parcel(world, status="at_depot")
    token = make_link_token(world.settings.link_secret, parcel.id)
    before = httpx.get(f"{live.url}/t/{token}/live?lang=en").json()
    assert before["status"] == "at_depot" and before["eta"] and before["actions"]["reschedule"] is True
    assert [s["state"] for s in before["timeline"]] == ["done", "done", "current", "todo", "todo"]
    with world.sessions() as session, session.begin():
        shipment = session.get(Shipment, parcel.id)
        shipment.status, shipment.locker_pickup_code = "delivered", None
        shipment.delivered_at = shipment.eta_start
    after = httpx.get(f"{live.url}/t/{token}/live?lang=de").json()
    assert after["status_label"] == "Zugestellt" and after["headline"].startswith("Zugestellt")
    assert after["proof"] is not None and after["actions"]["reschedule"] is False and after["eta"] is None
    assert httpx.get(f"{live.url}/t/{token[:-3]}abc/live").status_code == 404


def test_the_page_is_in_the_customers_language_with_map_chat_and_actions(live: LiveServer, world: Runtime) -> None:
    parcel = a_parcel(world, status="at_depot")
    token = make_link_token(world.settings.link_secret, parcel.id)
    page = httpx.get(f"{live.url}/t/{token}?lang=de")
    assert page.status_code == 200 and '<html lang="de">' in page.text and "Zustellfenster" in page.text
    assert 'id="map"' in page.text and "/static/vendor/leaflet/leaflet.js" in page.text
    assert "/static/vendor/webchat.js" in page.text and 'data-payload="/talk_to_human"' in page.text
    assert f'href="/t/{token}/change/reschedule?lang=de"' in page.text  # the page makes changes itself (issue 16)
    assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "no-referrer"
    assert httpx.get(f"{live.url}/static/tracking.js").status_code == 200
    # Without ?lang the page speaks the customer's own language, Dutch included.
    with world.sessions() as session:
        dutch = session.scalars(select(Shipment).join(Customer).where(Customer.locale == "nl")
                                .order_by(Shipment.id)).first()
        assert dutch is not None
        dutch_token = make_link_token(world.settings.link_secret, dutch.id)
    page = httpx.get(f"{live.url}/t/{dutch_token}")
    assert '<html lang="nl">' in page.text and "Bezorgvenster" in page.text and "Zustellfenster" not in page.text


def test_a_forged_link_gets_a_friendly_lookup_page_that_leaks_nothing(live: LiveServer, world: Runtime) -> None:
    parcel = a_parcel(world, status="at_depot")
    forged = make_link_token("another-secret", parcel.id)
    page = httpx.get(f"{live.url}/t/{forged}")
    assert page.status_code == 404 and 'action="/t/lookup"' in page.text
    assert parcel.tracking_number not in page.text and parcel.postcode not in page.text
    wrong_postcode = httpx.post(f"{live.url}/t/lookup", data={"tracking_number": parcel.tracking_number,
                                                              "postcode": "99999"})
    unknown = httpx.post(f"{live.url}/t/lookup", data={"tracking_number": "DS0000000000", "postcode": parcel.postcode})
    assert wrong_postcode.status_code == unknown.status_code == 200
    strip = [parcel.tracking_number, "DS0000000000"]

    def without_numbers(text: str) -> str:
        for number in strip:
            text = text.replace(number, "")
        return text

    assert without_numbers(wrong_postcode.text) == without_numbers(unknown.text)  # the same answer
    found = httpx.post(f"{live.url}/t/lookup", data={"tracking_number": parcel.tracking_number.lower(),
                                                     "postcode": parcel.postcode})
    assert found.status_code == 303 and found.headers["location"].startswith("/t/")
    assert httpx.get(live.url + found.headers["location"]).status_code == 200
    httpx.post(f"{live.url}/t/lookup", data={"tracking_number": "x", "postcode": "y"})  # the fourth
    limited = httpx.post(f"{live.url}/t/lookup", data={"tracking_number": parcel.tracking_number,
                                                       "postcode": parcel.postcode})
    assert limited.status_code == 429  # four tries per hour in this test, then none, right or wrong
