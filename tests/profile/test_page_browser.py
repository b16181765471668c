"""The profile page in a real browser (Debian's chromium driven by Playwright), against the web app alone:
from the tracking page's link, edit, check, save, see it saved; then delete with one confirmation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, ViewportSize, expect

from bot.conversation.identity import make_link_token
from bot.core.models import ShipmentStatus
from bot.core.runtime import Runtime
from bot.profile import read
from tests.changes.conftest import build, parcel
from tests.test_web import LiveServer


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Runtime]:
    rt = build(tmp_path)
    yield rt
    rt.engine.dispose()


@pytest.fixture
def viewport() -> ViewportSize:
    return {"width": 900, "height": 1000}


def test_edit_check_save_and_delete_the_profile_in_a_browser(world: Runtime, page: Page) -> None:
    shipment = parcel(world, ShipmentStatus.AT_DEPOT)
    token = make_link_token(world.settings.link_secret, shipment.id)
    with LiveServer(world.settings) as server:
        page.goto(f"{server.url}/t/{token}")
        page.click("#profile-link")
        expect(page.locator("#profile-saved")).to_have_text("No delivery preferences saved yet.")
        page.fill("#neighbour", "no. 14 <b>upstairs</b>")
        page.fill("#not_before", "10:00")
        page.check("input[name=never_days][value=sat]")
        page.click("#profile-review")
        expect(page.locator("#profile-pending")).to_contain_text('neighbour "no. 14 <b>upstairs</b>"')
        with world.sessions() as session:
            before = read(session, shipment.customer_id)
            assert before is not None and before.neighbour is None  # checking changes nothing
        page.click("#profile-save")
        expect(page.locator("#profile-done")).to_contain_text("Saved.")
        expect(page.locator("#profile-saved")).to_contain_text("never before 10:00")
        expect(page.locator("#profile-saved")).to_contain_text("never deliver on Saturday")
        with world.sessions() as session:
            saved = read(session, shipment.customer_id)
            assert saved is not None and saved.neighbour == "no. 14 <b>upstairs</b>" and saved.not_before == 600
        page.click("#profile-delete")
        page.click("#delete-confirm")
        expect(page.locator("#profile-done")).to_contain_text("Deleted.")
        expect(page.locator("#profile-saved")).to_have_text("No delivery preferences saved yet.")
    with world.sessions() as session:
        gone = read(session, shipment.customer_id)
        assert gone is not None and not gone.has_wishes
