"""Screenshots for the README (docs/screenshots/*.png): the tracking page and the agent console,
taken with Debian's chromium from a real stack on free ports (`make screenshots`).

The sandbox day is moved to 10:45 and held still, so parcels are out with drivers; one customer asks
for a person over SMS (signed webhook) and one in the tracking page's web chat.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from playwright.sync_api import expect, sync_playwright
from sqlalchemy import select

from bot.carriers.sandbox.proofs import DropPolicy
from bot.carriers.sandbox.simulator import tick
from bot.conversation.identity import make_link_token
from bot.core.clock import sim_now, start_clock
from bot.core.db import transaction
from bot.core.models import Shipment
from bot.core.runtime import Runtime
from bot.core.settings import ROOT
from bot.demo.sms_sim import send_as_customer
from bot.desk.agents import create_agent
from bot.processes.devstack import Stack

OUT = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "screenshots only 1"
BERLIN = ZoneInfo("Europe/Berlin")


def hold_the_day_at(runtime: Runtime, hour: int, minute: int) -> None:
    with transaction(runtime.sessions) as session:
        day = sim_now(session).astimezone(BERLIN).date()
        start_clock(session, sim_start=datetime.combine(day, time(hour, minute), BERLIN), speed=1.0)
        tick(session, seed=runtime.settings.sandbox_seed, drops=DropPolicy.from_settings(runtime.settings))


def pick(runtime: Runtime, status: str, *, single: bool = True) -> Shipment:
    with runtime.sessions() as session:
        for shipment in session.scalars(select(Shipment).where(Shipment.status == status).order_by(Shipment.id)):
            if not single or len(shipment.customer.shipments) == 1:
                session.expunge(shipment)
                return shipment
    raise LookupError(status)


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work, Stack(Path(work)) as stack:
        runtime = Runtime.build(stack.settings)
        base = stack.settings.web_internal_url
        hold_the_day_at(runtime, 10, 45)
        with transaction(runtime.sessions) as session:
            create_agent(session, email="sam@doorstep.example", name="Sam", password=PASSWORD, role="supervisor")
        out = pick(runtime, "out_for_delivery")
        waiting = pick(runtime, "at_depot")
        texting = pick(runtime, "at_depot")
        with runtime.sessions() as session:
            phone = session.get(Shipment, texting.id).customer.phone  # type: ignore[union-attr]
        send_as_customer(runtime, phone, "where is my parcel")
        send_as_customer(runtime, phone, "this is useless, i want to talk to a real person")
        send_as_customer(runtime, phone, "it's for my mum, she can only take it after 6")

        def link(shipment: Shipment) -> str:
            return f"{base}/t/{make_link_token(stack.settings.link_secret, shipment.id)}"

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
            phone_ctx = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
            page = phone_ctx.new_page()
            page.goto(link(out))
            expect(page.locator("#stops")).to_contain_text("stop")
            expect(page.locator(".rw-response").first).to_contain_text("Doorstep", timeout=20_000)
            page.wait_for_timeout(800)
            page.screenshot(path=OUT / "tracking-mobile.png", full_page=True)

            desk_ctx = browser.new_context(viewport={"width": 1280, "height": 900})
            web = desk_ctx.new_page()
            web.goto(link(waiting))
            expect(web.locator(".rw-response").first).to_contain_text("Doorstep", timeout=20_000)
            web.get_by_role("button", name="Another day or time").click()
            expect(web.locator(".rw-response").filter(has_text="When should parcel")).to_be_visible(timeout=20_000)
            web.fill(".rw-new-message", "none of these work, can I talk to someone")
            web.press(".rw-new-message", "Enter")
            expect(web.locator(".rw-response").filter(has_text="A person will reply")).to_be_visible(timeout=20_000)
            web.evaluate("window.scrollTo(0, 0)")
            web.wait_for_timeout(300)
            web.screenshot(path=OUT / "tracking-desktop.png")

            expired = desk_ctx.new_page()
            expired.set_viewport_size({"width": 640, "height": 560})
            expired.goto(f"{base}/t/expired-or-forged")
            expired.screenshot(path=OUT / "tracking-lookup.png")

            console = desk_ctx.new_page()
            console.goto(f"{base}/agent")
            console.fill("#email", "sam@doorstep.example")
            console.fill("#password", PASSWORD)
            console.press("#password", "Enter")
            expect(console.locator("#queue article")).to_have_count(2, timeout=20_000)
            console.screenshot(path=OUT / "console-queue.png")
            console.locator("#queue article").filter(has_text="SMS").get_by_role("button", name="Claim").click()
            console.fill("#reply-text", "Hi, Sam here. I can move it to an evening window for you.")
            console.click("#send-reply")
            expect(console.locator("#transcript .line.agent")).to_have_count(1, timeout=20_000)
            console.select_option("#window", index=5)
            console.screenshot(path=OUT / "console-conversation.png", full_page=True)
            console.goto(f"{base}/agent/dashboard")
            console.screenshot(path=OUT / "console-dashboard.png", full_page=True)
            browser.close()
        runtime.engine.dispose()
    for shot in sorted(OUT.glob("*.png")):
        print(shot.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
