"""The tracking page and the agent console in a real browser against the running stack: live updates,
a reschedule from the page's chat, and full handoffs (web chat and SMS through the demo phone)."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select

from bot.conversation.identity import make_link_token
from bot.core.db import transaction
from bot.core.models import AuditLog, Handoff, Route, Shipment, Stop
from bot.core.runtime import Runtime
from bot.desk.agents import create_agent
from bot.text import language_of, t
from bot.web.console import BACK_WITH_THE_BOT
from tests.e2e.conftest import CustomerPool
from tests.e2e.helpers import tracker_events

PASSWORD = "correct horse battery"
WAIT = 20_000


@pytest.fixture
def contexts(browser: Browser) -> Iterator[list[BrowserContext]]:
    """Separate browser profiles: the customer's phone and the agent's desk share nothing."""
    made: list[BrowserContext] = []
    yield made
    for context in made:
        context.close()


def new_page(browser: Browser, contexts: list[BrowserContext], **options: object) -> Page:
    context = browser.new_context(**options)  # type: ignore[arg-type]
    contexts.append(context)
    return context.new_page()


@pytest.fixture
def agent_email(stack_runtime: Runtime) -> str:
    email = f"agent-{uuid.uuid4().hex[:8]}@example.com"
    with transaction(stack_runtime.sessions) as session:
        create_agent(session, email=email, name="Sam", password=PASSWORD, role="agent")
    return email


def log_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/agent")
    expect(page).to_have_url(f"{base}/agent/login?next=/agent")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.press("#password", "Enter")
    expect(page.locator("h1")).to_have_text("Conversations waiting for a person")


def changeable(pool: CustomerPool) -> tuple[int, Shipment]:
    customer, parcels = pool.take(lambda ps: sum(p.status in ("at_depot", "in_transit") for p in ps) == 1
                                  and not any(p.status == "out_for_delivery" for p in ps))
    return customer.id, next(p for p in parcels if p.status in ("at_depot", "in_transit"))


def bot_lines_after(runtime: Runtime, sender_id: str, text: str) -> list[dict[str, object]]:
    """Bot events after the customer's message `text` (agent messages carry metadata.agent)."""
    events = tracker_events(runtime, sender_id)
    index = max(i for i, e in enumerate(events) if e.get("event") == "user" and e.get("text") == text)
    return [e for e in events[index + 1:] if e.get("event") == "bot"]


def locale_of(runtime: Runtime, parcel: Shipment) -> str:
    with runtime.sessions() as session:
        shipment = session.get(Shipment, parcel.id)
        assert shipment is not None
        return shipment.customer.locale


def back_text(runtime: Runtime, parcel: Shipment) -> str:
    """What the bot says when the agent hands back, in the customer's language."""
    return t(language_of(locale_of(runtime, parcel)), BACK_WITH_THE_BOT)


def web_sender(page: Page) -> str:
    session_id = page.evaluate("() => JSON.parse(sessionStorage.getItem('chat_session') || '{}').session_id")
    assert session_id, "the widget has no session yet"
    return f"web:{session_id.split('.')[0]}"  # the widget keeps '<conversation>.<mac>'


def test_the_tracking_page_shows_status_window_and_map_and_updates_live(
        browser: Browser, contexts: list[BrowserContext], stack_runtime: Runtime, customers: CustomerPool) -> None:
    _, parcel = changeable(customers)
    base = stack_runtime.settings.web_internal_url
    page = new_page(browser, contexts, viewport={"width": 390, "height": 844})  # a phone
    page.goto(f"{base}/t/{make_link_token(stack_runtime.settings.link_secret, parcel.id)}?lang=en")
    expect(page.locator("#parcel-title")).to_contain_text(parcel.tracking_number)
    with stack_runtime.sessions() as session:
        fresh = session.get(Shipment, parcel.id)
        assert fresh is not None and fresh.eta_start is not None
        start = fresh.eta_start.astimezone(ZoneInfo(fresh.customer.time_zone))
    expect(page.locator("#eta")).to_contain_text(start.strftime("%H:%M"))
    expect(page.locator(".timeline .step.current")).to_have_count(1)
    expect(page.locator("#map .leaflet-interactive")).to_have_count(2)  # the destination (and an empty route)
    page.evaluate("() => { window.__sameDocument = true; }")

    # The parcel goes out: the driver is on the road, and the window moves 40 minutes later.
    with transaction(stack_runtime.sessions) as session:
        shipment = session.get(Shipment, parcel.id)
        stop = session.scalar(select(Stop).where(Stop.shipment_id == parcel.id))
        assert shipment is not None and stop is not None and shipment.eta_start and shipment.eta_end
        route = session.get(Route, stop.route_id)
        assert route is not None
        route.status = "active"
        route.driver.lat, route.driver.lng = shipment.lat + 0.01, shipment.lng - 0.01
        shipment.status = "out_for_delivery"
        shipment.eta_start += timedelta(minutes=40)
        shipment.eta_end += timedelta(minutes=40)
        moved = shipment.eta_start.astimezone(start.tzinfo).strftime("%H:%M")
    expect(page.locator("#headline")).to_contain_text("Out for delivery", timeout=WAIT)
    expect(page.locator("#eta")).to_contain_text(moved)
    expect(page.locator("#stops")).to_contain_text(re.compile("stop|next"))  # "3 stops away", "You're next"
    expect(page.locator("#map .leaflet-interactive")).to_have_count(4)  # route, depot, destination, driver
    expect(page.locator('[data-action="reschedule"] a.action')).to_be_hidden()  # with the driver: no more changes
    expect(page.locator('[data-action="reschedule"] .why-not')).to_contain_text("already out with the driver")
    assert page.evaluate("() => window.__sameDocument") is True  # no reload happened
    with transaction(stack_runtime.sessions) as session:  # put the world back for other tests
        route = session.get(Route, stop.route_id)
        assert route is not None
        route.status = "planned"


def test_a_web_chat_on_the_tracking_page_reschedules_the_delivery(
        browser: Browser, contexts: list[BrowserContext], stack_runtime: Runtime, customers: CustomerPool) -> None:
    _, parcel = changeable(customers)
    page = new_page(browser, contexts)
    page.goto(f"{stack_runtime.settings.web_internal_url}/t/{make_link_token(stack_runtime.settings.link_secret, parcel.id)}")
    expect(page.locator(".rw-response").first).to_contain_text("Doorstep", timeout=WAIT)
    page.fill(".rw-new-message", "reschedule my delivery")  # the page's own forms aside, the chat still does it
    page.press(".rw-new-message", "Enter")
    expect(page.locator(".rw-response").filter(has_text="When should parcel")).to_be_visible(timeout=WAIT)
    option = page.locator(".rw-replies .rw-reply").nth(1)
    label = option.inner_text()
    option.click()
    expect(page.locator(".rw-response").filter(has_text="Reply YES or NO")).to_be_visible(timeout=WAIT)
    page.fill(".rw-new-message", "yes")
    page.press(".rw-new-message", "Enter")
    expect(page.locator(".rw-response").filter(has_text="Done: parcel")).to_be_visible(timeout=WAIT)
    with stack_runtime.sessions() as session:
        moved = session.get(Shipment, parcel.id)
        assert moved is not None and moved.promised_start != parcel.promised_start
    window = label.split(" ", 1)[-1].replace("-", "–")  # "Thu 26 Nov 18:00-20:00" → times as the page shows them
    expect(page.locator("#eta")).to_contain_text(window.split(" ")[-1], timeout=WAIT)  # the page followed


def test_full_handoff_in_web_chat(browser: Browser, contexts: list[BrowserContext], stack_runtime: Runtime,
                                  customers: CustomerPool, agent_email: str) -> None:
    _, parcel = changeable(customers)
    base = stack_runtime.settings.web_internal_url
    desk = new_page(browser, contexts)
    log_in(desk, base, agent_email)  # the queue is open before the customer asks: it must update by itself

    customer = new_page(browser, contexts)
    customer.goto(f"{base}/t/{make_link_token(stack_runtime.settings.link_secret, parcel.id)}")
    expect(customer.locator(".rw-response").first).to_contain_text("Doorstep", timeout=WAIT)
    customer.fill(".rw-new-message", "i want to talk to a real person please")
    customer.press(".rw-new-message", "Enter")
    expect(customer.locator(".rw-response").filter(has_text="A person will reply")).to_be_visible(timeout=WAIT)
    sender = web_sender(customer)

    item = desk.locator("#queue article").filter(has_text=parcel.tracking_number)
    expect(item).to_be_visible(timeout=WAIT)
    expect(item).to_contain_text("i want to talk to a real person please")
    item.get_by_role("button", name="Claim").click()
    expect(desk.locator("#summary-title")).to_be_visible()
    expect(desk.locator("#transcript")).to_contain_text("i want to talk to a real person please")
    desk.fill("#reply-text", "Hi, Sam here. How can I help?")
    desk.click("#send-reply")
    expect(customer.locator(".rw-response").filter(has_text="Sam: Hi, Sam here.")).to_be_visible(timeout=WAIT)

    customer.fill(".rw-new-message", "can it come on friday instead")
    customer.press(".rw-new-message", "Enter")
    expect(desk.locator("#transcript .line.customer").last).to_have_text("customer can it come on friday instead",
                                                                          timeout=WAIT)
    time.sleep(3)  # give the bot every chance to (wrongly) answer on its own
    assert bot_lines_after(stack_runtime, sender, "can it come on friday instead") == []
    expect(customer.locator(".rw-response")).to_have_count(3)  # greeting, handoff, agent: nothing more

    desk.fill("#note", "customer wants friday; told them to pick a window with the bot")
    desk.click("#close")
    expect(desk).to_have_url(f"{base}/agent?msg=closed")
    expect(customer.locator(".rw-response").filter(has_text=back_text(stack_runtime, parcel))).to_be_visible(
        timeout=WAIT)
    customer.fill(".rw-new-message", "where is my parcel")
    customer.press(".rw-new-message", "Enter")
    expect(customer.locator(".rw-response").filter(has_text=f"Parcel {parcel.tracking_number[-4:]}")).to_be_visible(
        timeout=WAIT)
    with stack_runtime.sessions() as session:
        handoff = session.scalar(select(Handoff).where(Handoff.sender_id == sender))
        assert handoff is not None and handoff.status == "closed"
        actions = session.scalars(select(AuditLog.action).where(AuditLog.entity == "handoff",
                                                                AuditLog.entity_id == str(handoff.id))).all()
        assert {"handoff", "handoff.claim", "handoff.reply", "handoff.close"} <= set(actions)


def test_full_handoff_over_sms_through_the_demo_phone(browser: Browser, contexts: list[BrowserContext],
                                                      stack_runtime: Runtime, customers: CustomerPool,
                                                      agent_email: str) -> None:
    customer_id, parcel = changeable(customers)
    base = stack_runtime.settings.web_internal_url
    with stack_runtime.sessions() as session:
        phone = session.get(Shipment, parcel.id).customer.phone  # type: ignore[union-attr]
    handset = new_page(browser, contexts, viewport={"width": 420, "height": 800})
    handset.goto(f"{base}/demo/phone/{phone}")

    def text(message: str) -> None:
        handset.fill("#text", message)
        handset.press("#text", "Enter")
        expect(handset.locator(".msg.out").last).to_have_text(message)

    text("this is useless, i want to talk to a real person")
    expect(handset.locator(".msg.in").filter(has_text="A person will reply")).to_be_visible(timeout=WAIT)

    desk = new_page(browser, contexts)
    log_in(desk, base, agent_email)
    item = desk.locator("#queue article").filter(has_text=parcel.tracking_number)
    expect(item).to_contain_text("SMS", timeout=WAIT)
    item.get_by_role("button", name="Claim").click()
    desk.fill("#reply-text", "Hello, this is Sam from Doorstep.")
    desk.click("#send-reply")
    expect(handset.locator(".msg.in").filter(has_text="Sam: Hello, this is Sam from Doorstep.")).to_be_visible(
        timeout=WAIT)

    count = handset.locator(".msg.in").count()
    text("/restart")  # even an intent-looking text does not wake the bot during a handoff
    text("ok can you move it to another day")
    expect(desk.locator("#transcript .line.customer").last).to_have_text("customer ok can you move it to another day",
                                                                          timeout=WAIT)
    time.sleep(3)
    expect(handset.locator(".msg.in")).to_have_count(count)  # no bot reply on its own
    assert bot_lines_after(stack_runtime, phone, "ok can you move it to another day") == []

    # A self-service change from the console, told to the customer by SMS.
    desk.select_option("#window", index=2)
    desk.get_by_role("button", name="Reschedule").click()
    expect(desk.locator("p.ok")).to_contain_text("Done")
    told = t(language_of(locale_of(stack_runtime, parcel)), "Done: parcel …{short} now comes {window}.",
             short=parcel.tracking_number[-4:], window="\0").split("\0")[0]
    expect(handset.locator(".msg.in").filter(has_text=told)).to_be_visible(timeout=WAIT)
    assert "–" not in handset.locator(".msg.in").filter(has_text=told).inner_text()  # GSM-7: a plain hyphen
    with stack_runtime.sessions() as session:
        moved = session.get(Shipment, parcel.id)
        assert moved is not None and moved.promised_start != parcel.promised_start

    desk.fill("#note", "moved to a later window")
    desk.click("#close")
    expect(handset.locator(".msg.in").filter(has_text=back_text(stack_runtime, parcel))).to_be_visible(timeout=WAIT)
    text("where is my parcel")
    expect(handset.locator(".msg.in").last).to_contain_text(f"Parcel {parcel.tracking_number[-4:]}", timeout=WAIT)
    with stack_runtime.sessions() as session:
        agent_actions = session.scalars(select(AuditLog.action).where(AuditLog.actor.like("agent:%"))).all()
        assert {"agent.login", "handoff.claim", "handoff.reply", "handoff.reschedule", "handoff.close"} <= set(
            agent_actions)
    assert customer_id
