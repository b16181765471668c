"""The pages in a real browser (Debian's chromium driven by Playwright): demo phone and web chat."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from bot.conversation.identity import make_link_token
from bot.core.runtime import Runtime
from tests.e2e.conftest import CustomerPool


def test_the_demo_phone_texts_the_bot_and_shows_the_reply(page: Page, stack_runtime: Runtime,
                                                          customers: CustomerPool) -> None:
    customer, _parcels = customers.take(lambda ps: any(p.status in ("at_depot", "in_transit") for p in ps))
    page.goto(f"{stack_runtime.settings.web_internal_url}/demo/phone/{customer.phone}")
    page.fill("#text", "wheres my parcel")
    page.press("#text", "Enter")
    expect(page.locator(".msg.out").last).to_have_text("wheres my parcel")
    expect(page.locator(".msg.in").filter(has_text="Parcel ").first).to_be_visible(timeout=20_000)


def test_web_chat_from_a_tracking_link_knows_the_parcel(page: Page, stack_runtime: Runtime,
                                                        customers: CustomerPool) -> None:
    _, parcels = customers.take(lambda ps: any(p.status in ("at_depot", "in_transit") for p in ps))
    parcel = next(p for p in parcels if p.status in ("at_depot", "in_transit"))
    token = make_link_token(stack_runtime.settings.link_secret, parcel.id)
    page.goto(f"{stack_runtime.settings.web_internal_url}/chat?t={token}")
    expect(page.locator(".rw-response").first).to_contain_text("Doorstep", timeout=20_000)  # the greeting
    page.fill(".rw-new-message", "when is it coming?")
    page.press(".rw-new-message", "Enter")
    expect(page.locator(".rw-response").filter(has_text=f"Parcel {parcel.tracking_number[-4:]}")).to_be_visible(
        timeout=20_000)


def test_web_chat_without_a_link_asks_who_you_are(page: Page, stack_runtime: Runtime) -> None:
    page.goto(f"{stack_runtime.settings.web_internal_url}/chat")
    expect(page.locator(".rw-response").first).to_contain_text("Doorstep", timeout=20_000)
    page.fill(".rw-new-message", "where is my parcel")
    page.press(".rw-new-message", "Enter")
    expect(page.locator(".rw-response").filter(has_text="tracking number")).to_be_visible(timeout=20_000)
