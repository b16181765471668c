"""The tracking page's proof of delivery in a real browser (Debian's chromium driven by Playwright), against
the web app alone: the photo loads through the parcel's link, the drop pin is drawn against the address pin,
only rows with a value are shown, and they stay so when the page refreshes itself."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, ViewportSize, expect
from sqlalchemy import select

from bot.conversation.identity import make_link_token
from bot.core.models import DeliveryProof
from bot.core.runtime import Runtime
from bot.core.settings import ROOT
from tests import worlds
from tests.conftest import T0
from tests.test_web import LiveServer

SCREENSHOT = ROOT / "docs" / "screenshots" / "tracking-proof.png"


@pytest.fixture
def delivered(sqlite_runtime: Runtime) -> int:
    """A delivered demo parcel whose driver left it with a neighbour 120 m from the door, and wrote a note."""
    worlds.load_world(sqlite_runtime, world_speed=30, built_at=T0)
    with sqlite_runtime.sessions() as session, session.begin():
        proof = session.scalars(select(DeliveryProof).order_by(DeliveryProof.id)).first()
        assert proof is not None
        proof.place, proof.neighbour, proof.note = "neighbour", "Meyer, no. 14", "Neighbour took it, 2nd floor. Rang twice first."
        proof.lat, proof.lng = proof.shipment.lat + 0.0008, proof.shipment.lng + 0.0011
        proof.distance_m, proof.compliance, proof.compliance_reasons = 120, "differs", ["distance"]
        return proof.shipment_id


@pytest.fixture
def viewport() -> ViewportSize:
    return {"width": 1200, "height": 900}


def test_the_proof_shows_its_photo_and_the_drop_pin(page: Page, sqlite_runtime: Runtime, delivered: int,
                                                    tmp_path: Path) -> None:
    token = make_link_token(sqlite_runtime.settings.link_secret, delivered)
    with LiveServer(sqlite_runtime.settings) as live:
        photos: list[int] = []
        page.on("response", lambda r: photos.append(r.status) if "/proof.png" in r.url else None)
        page.goto(f"{live.url}/t/{token}?lang=en")
        proof = page.locator("#proof")
        expect(proof).to_be_visible()
        page.wait_for_function("() => { const i = document.getElementById('proof-photo');"
                               " return i && i.complete && i.naturalWidth > 0; }", timeout=10_000)
        assert page.eval_on_selector("#proof-photo", "i => i.naturalWidth") == 320 and photos == [200]
        rows = page.locator("#proof-rows > div")
        expect(rows).to_have_count(4)
        assert page.eval_on_selector_all("#proof-rows > div", "ds => ds.map(d => d.dataset.key)") == \
            ["at", "where", "note", "distance"]
        expect(page.locator("#proof-rows")).to_contain_text("with a neighbour: Meyer, no. 14")
        expect(page.locator("#proof-rows")).to_contain_text("Neighbour took it, 2nd floor. Rang twice first.")
        drop, address = page.locator("#pin-drop"), page.locator("#pin-address")
        expect(drop).to_be_visible()
        expect(address).to_be_visible()
        drop_box, address_box = drop.bounding_box(), address.bounding_box()
        assert drop_box and address_box and drop_box["width"] > 5 and drop_box["height"] > 5
        assert abs(drop_box["x"] - address_box["x"]) + abs(drop_box["y"] - address_box["y"]) > 30
        assert drop_box["y"] < address_box["y"]  # north of the address: higher up the map
        expect(page.locator("#proof-map-metres")).to_have_text("120 m")
        page.wait_for_timeout(3500)  # the page refreshes itself from /live: the same rows, the photo still there
        expect(rows).to_have_count(4)
        assert page.eval_on_selector("#proof-photo", "i => i.naturalWidth") == 320
        keep = os.environ.get("DOORSTEP_SAVE_SCREENSHOTS") == "1"
        target = SCREENSHOT if keep else tmp_path / "tracking-proof.png"
        proof.screenshot(path=str(target))
        assert target.stat().st_size > 5_000
