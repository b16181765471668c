"""The tracking page's own changes in a real browser (Debian's chromium driven by Playwright) against the web
app alone (issue 16): a new window from the list, a locker picked on the map and by keyboard in the list, a
note with HTML in it; each confirmed on the page, each checked in the database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, ViewportSize, expect

from bot.conversation.identity import make_link_token
from bot.core.models import Locker, Notification, Shipment, ShipmentStatus
from bot.core.runtime import Runtime
from tests.changes.conftest import parcel
from tests.test_web import LiveServer


@pytest.fixture
def viewport() -> ViewportSize:
    return {"width": 1100, "height": 900}


@pytest.fixture
def live(world: Runtime) -> Iterator[LiveServer]:
    with LiveServer(world.settings) as server:
        yield server


def shipment_now(world: Runtime, shipment_id: int) -> Shipment:
    with world.sessions() as session:
        shipment = session.get(Shipment, shipment_id)
        assert shipment is not None
        session.expunge(shipment)
        return shipment


def confirmations(world: Runtime, shipment_id: int) -> int:
    with world.sessions() as session:
        return len(session.query(Notification).filter_by(shipment_id=shipment_id, trigger="change_confirmed").all())


def test_a_new_window_from_the_list(page: Page, live: LiveServer, world: Runtime) -> None:
    shipment = parcel(world, ShipmentStatus.AT_DEPOT)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{live.url}/t/{make_link_token(world.settings.link_secret, shipment.id)}?lang=en")
    page.get_by_role("link", name="Another day or time").click()
    expect(page.get_by_role("heading", name="Another day or time")).to_be_visible()
    choice = page.locator("input[name=window]").nth(1)
    choice.check()
    label = page.locator("label.option").nth(1).inner_text().strip()
    page.get_by_role("button", name="Next: check and confirm").click()
    expect(page.locator("#change-summary")).to_contain_text(label)
    assert shipment_now(world, shipment.id).promised_start == shipment.promised_start  # nothing yet
    page.get_by_role("button", name="Yes, make this change").click()
    expect(page.locator("#change-done")).to_contain_text("Done: parcel …")
    assert shipment_now(world, shipment.id).promised_start != shipment.promised_start
    assert confirmations(world, shipment.id) == 1
    page.get_by_role("link", name="Back to your parcel").first.click()
    expect(page.locator("#headline")).to_be_visible()
    assert errors == []


def test_a_locker_on_the_map_and_by_keyboard(page: Page, live: LiveServer, world: Runtime) -> None:
    shipment = parcel(world, ShipmentStatus.AT_DEPOT)
    page.goto(f"{live.url}/t/{make_link_token(world.settings.link_secret, shipment.id)}/change/locker?lang=de")
    page.wait_for_function("() => window.DOORSTEP_LOCKER_MAP && window.DOORSTEP_LOCKER_MAP.markers > 0")
    markers = page.locator("#locker-map path.leaflet-interactive")
    assert markers.count() == page.locator("input[name=locker]").count() >= 2
    markers.nth(1).click(force=True)  # picking on the map picks in the list
    expect(page.locator("input[name=locker]").nth(1)).to_be_checked()
    page.locator("input[name=locker]").nth(1).focus()
    page.keyboard.press("ArrowDown")  # the list is a radio group: the keyboard moves the choice
    chosen = page.locator("input[name=locker]").nth(2)
    expect(chosen).to_be_checked()
    code = chosen.get_attribute("value")
    page.keyboard.press("Enter")  # submits the form: the confirm step
    expect(page.get_by_role("heading", name="Bitte prüfen und bestätigen")).to_be_visible()
    page.get_by_role("button", name="Ja, so ändern").click()
    expect(page.locator("#change-done")).to_be_visible()
    with world.sessions() as session:
        moved = session.get(Shipment, shipment.id)
        assert moved is not None and moved.locker_id is not None
        locker = session.get(Locker, moved.locker_id)
        assert locker is not None and locker.code == code


def test_a_note_with_html_is_shown_as_text(page: Page, live: LiveServer, world: Runtime) -> None:
    shipment = parcel(world, ShipmentStatus.AT_DEPOT)
    note = '<img src=x onerror="window.pwned=1"> behind the gate'
    page.goto(f"{live.url}/t/{make_link_token(world.settings.link_secret, shipment.id)}/change/instructions?lang=en")
    page.get_by_label("What should the driver know?").fill(note)
    page.get_by_role("button", name="Next: check and confirm").click()
    expect(page.locator("#change-summary")).to_contain_text(note)
    page.get_by_role("button", name="Yes, make this change").click()
    expect(page.locator("#change-done")).to_contain_text(note)
    assert page.evaluate("() => window.pwned === undefined") and page.locator("#change-done img").count() == 0
    assert shipment_now(world, shipment.id).instructions == note
