"""The profile page behind a parcel's signed link: review then save, delete, and the hostile cases."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from bot.conversation.identity import make_link_token, read_link_token
from bot.core.models import Customer, Notification, ProfileChange, Shipment, ShipmentStatus
from bot.core.runtime import Runtime
from bot.notify.service import plan_step
from bot.profile import By, Item, read, set_item
from bot.web.profile_page import form_token
from tests.changes.conftest import build, parcel
from tests.test_web import LiveServer

HTML = '<script>alert("x")</script><b>gate</b>'


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Runtime]:
    rt = build(tmp_path)
    yield rt
    rt.engine.dispose()


@pytest.fixture
def client(world: Runtime) -> Iterator[httpx.Client]:
    with LiveServer(world.settings) as server, httpx.Client(base_url=server.url) as http:
        yield http


def link(world: Runtime, shipment: Shipment) -> str:
    return make_link_token(world.settings.link_secret, shipment.id)


def base_form(world: Runtime, token: str, **fields: object) -> dict[str, object]:
    """The form as the page fills it for the parcel's customer (contact settings as stored), plus `fields`."""
    with world.sessions() as session:
        shipment = session.get(Shipment, read_link_token(world.settings.link_secret, token, max_age_days=14) or 0)
        profile = read(session, shipment.customer_id) if shipment is not None else None
    language, channels = (profile.language, list(profile.channels)) if profile is not None else ("en", ["sms"])
    return {"form_token": form_token(world.settings.link_secret, token), "language": language, "channels": channels,
            "quiet_start": "21", "quiet_end": "8", "door_minutes": "0", **fields}


def changes(world: Runtime, customer_id: int) -> list[tuple[str, str, str]]:
    with world.sessions() as session:
        return [(c.item, c.action, c.channel) for c in session.scalars(
            select(ProfileChange).where(ProfileChange.customer_id == customer_id).order_by(ProfileChange.id))]


def test_review_then_save_stores_records_and_tells_the_customer(client: httpx.Client, world: Runtime) -> None:
    shipment = parcel(world, ShipmentStatus.AT_DEPOT)
    token = link(world, shipment)
    page = client.get(f"/t/{token}/profile")
    assert page.status_code == 200 and "No delivery preferences saved yet." in page.text
    form = base_form(world, token, neighbour="no. 14", not_before="10:00", step="review")
    review = client.post(f"/t/{token}/profile", data=form)
    assert review.status_code == 200 and "Save these for all your parcels?" in review.text
    assert 'leave parcels with the neighbour &#34;no. 14&#34; if you&#39;re out' in review.text
    assert changes(world, shipment.customer_id) == []  # the review changes nothing
    saved = client.post(f"/t/{token}/profile", data={**form, "step": "save"}, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"].endswith("done=saved")
    assert changes(world, shipment.customer_id) == [("neighbour", "set", "page"), ("not_before", "set", "page")]
    again = client.post(f"/t/{token}/profile", data={**form, "step": "save"}, follow_redirects=False)
    assert again.status_code == 303 and len(changes(world, shipment.customer_id)) == 2  # nothing new to record
    with world.sessions() as session:
        plan_step_now = session.get(Shipment, shipment.id)
        assert plan_step_now is not None
    plan_step(world, _sim_now(world))
    with world.sessions() as session:
        told = session.scalars(select(Notification).where(Notification.shipment_id == shipment.id,
                                                          Notification.trigger == "profile_changed")).all()
        assert len(told) == 1


def _sim_now(world: Runtime):  # type: ignore[no-untyped-def]
    from bot.core.clock import sim_now

    with world.sessions() as session:
        return sim_now(session) + timedelta(seconds=1)


def test_html_in_profile_text_is_shown_escaped(client: httpx.Client, world: Runtime) -> None:
    shipment = parcel(world, ShipmentStatus.AT_DEPOT)
    with world.sessions() as session, session.begin():
        set_item(session, customer_id=shipment.customer_id, item=Item.SAFE_PLACE, value=HTML, by=By.CUSTOMER,
                 channel="sms")
    page = client.get(f"/t/{link(world, shipment)}/profile")
    assert page.status_code == 200
    assert "<script>alert" not in page.text and "&lt;script&gt;alert" in page.text


def test_delete_asks_first_then_deletes_and_records(client: httpx.Client, world: Runtime) -> None:
    shipment = parcel(world, ShipmentStatus.AT_DEPOT)
    token = link(world, shipment)
    with world.sessions() as session, session.begin():
        set_item(session, customer_id=shipment.customer_id, item=Item.NEIGHBOUR, value="no. 14", by=By.CUSTOMER,
                 channel="sms")
    ask = client.post(f"/t/{token}/profile", data={"form_token": form_token(world.settings.link_secret, token),
                                                   "step": "delete_review"})
    assert ask.status_code == 200 and "Yes, delete them" in ask.text
    done = client.post(f"/t/{token}/profile", data={"form_token": form_token(world.settings.link_secret, token),
                                                    "step": "delete"}, follow_redirects=False)
    assert done.status_code == 303
    with world.sessions() as session:
        profile = read(session, shipment.customer_id)
        assert profile is not None and profile.neighbour is None
    assert changes(world, shipment.customer_id)[-1] == ("neighbour", "delete", "page")


def test_forged_or_expired_links_get_404_and_change_nothing(client: httpx.Client, world: Runtime) -> None:
    shipment = parcel(world, ShipmentStatus.AT_DEPOT)
    token = link(world, shipment)
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    other_secret = make_link_token("another-secret", shipment.id)
    for bad in (forged, other_secret, "nonsense"):
        assert client.get(f"/t/{bad}/profile").status_code == 404
        posted = client.post(f"/t/{bad}/profile", data=base_form(world, bad, neighbour="x y", step="save"))
        assert posted.status_code == 404
    expired_world = world.settings.model_copy(update={"link_max_age_days": 0})
    with LiveServer(expired_world) as server, httpx.Client(base_url=server.url) as http:
        import time

        time.sleep(1.1)
        assert http.get(f"/t/{token}/profile").status_code == 404
    assert changes(world, shipment.customer_id) == []


def test_a_missing_or_wrong_form_token_is_403(client: httpx.Client, world: Runtime) -> None:
    shipment = parcel(world, ShipmentStatus.AT_DEPOT)
    token = link(world, shipment)
    another = parcel(world, ShipmentStatus.IN_TRANSIT)
    wrong = form_token(world.settings.link_secret, link(world, another))  # another parcel's form token
    for data in ({"step": "save", "neighbour": "x y"}, {"step": "save", "neighbour": "x y", "form_token": wrong}):
        assert client.post(f"/t/{token}/profile", data=data).status_code == 403
    assert changes(world, shipment.customer_id) == []


def test_a_link_changes_only_its_own_customers_profile(client: httpx.Client, world: Runtime) -> None:
    mine = parcel(world, ShipmentStatus.AT_DEPOT)
    with world.sessions() as session:
        someone_else = session.scalar(select(Customer.id).where(Customer.id != mine.customer_id).order_by(Customer.id))
    token = link(world, mine)
    form = base_form(world, token, neighbour="no. 9", step="save", customer_id=str(someone_else))
    assert client.post(f"/t/{token}/profile", data=form, follow_redirects=False).status_code == 303
    assert changes(world, someone_else) == []
    assert changes(world, mine.customer_id) == [("neighbour", "set", "page")]


@pytest.mark.parametrize("fields", [
    {"neighbour": "x" * 301}, {"safe_place": "x" * 250}, {"not_before": "25:99"}, {"not_before": "ten"},
    {"suit_days": ["someday"]}, {"locker": "NOPE"}, {"language": "fr"}, {"channels": ["fax"]}, {"channels": []},
    {"door_minutes": "99"}, {"quiet_start": "-1"}, {"neighbour": ["a", "b"]},
])
def test_bad_values_are_422_and_change_nothing(client: httpx.Client, world: Runtime, fields: dict[str, object]) -> None:
    shipment = parcel(world, ShipmentStatus.AT_DEPOT)
    token = link(world, shipment)
    form = {**base_form(world, token, step="save"), **fields}
    response = client.post(f"/t/{token}/profile", data=form)
    assert response.status_code == 422, response.text
    assert re.search(r'id="profile-error"', response.text)
    assert changes(world, shipment.customer_id) == []


def test_the_tracking_page_links_to_the_profile(client: httpx.Client, world: Runtime) -> None:
    shipment = parcel(world, ShipmentStatus.AT_DEPOT)
    token = link(world, shipment)
    page = client.get(f"/t/{token}")
    assert f'href="/t/{token}/profile?lang=' in page.text


def test_the_drivers_note_is_never_shown_but_can_be_replaced_or_removed(client: httpx.Client, world: Runtime) -> None:
    """A parcel link gets forwarded: the note (often a health need) is never on the page, nor confirmed by a guess."""
    shipment = parcel(world, ShipmentStatus.AT_DEPOT)
    token = link(world, shipment)
    note = "wheelchair user, please wait at the door"
    with world.sessions() as session, session.begin():
        set_item(session, customer_id=shipment.customer_id, item=Item.ACCESSIBILITY, value=note, by=By.CUSTOMER,
                 channel="sms")
    page = client.get(f"/t/{token}/profile")
    assert page.status_code == 200 and "wheelchair" not in page.text and 'id="accessibility-hidden"' in page.text
    kept = client.post(f"/t/{token}/profile", data=base_form(world, token, neighbour="no. 3", step="save"),
                       follow_redirects=False)  # the empty field keeps the note
    assert kept.status_code == 303
    guess = client.post(f"/t/{token}/profile", data=base_form(world, token, accessibility=note, step="review"))
    assert guess.status_code == 200 and "Nothing has changed." not in guess.text  # a right guess looks like any other
    assert "wheelchair" not in guess.text.split('id="profile-pending"')[0]
    with world.sessions() as session:
        profile = read(session, shipment.customer_id)
        assert profile is not None and profile.accessibility == note
    removed = client.post(f"/t/{token}/profile", data=base_form(world, token, neighbour="no. 3", step="save",
                                                                accessibility_clear="yes"), follow_redirects=False)
    assert removed.status_code == 303
    with world.sessions() as session:
        profile = read(session, shipment.customer_id)
        assert profile is not None and profile.accessibility is None and profile.neighbour == "no. 3"
    assert ("accessibility", "delete", "page") in changes(world, shipment.customer_id)
