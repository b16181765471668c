"""Messages from templates: `templates/notifications/<trigger>.j2`, one file per trigger with three blocks
(`subject`, `sms`, `email`) whose words come from the catalogues (`t("English {x}", x=...)` and
`pt("context", "English")` from bot.text, bound to the customer's language for each render); the HTML
part of an email wraps its text in one layout. Dates and times come from bot/text/timefmt.py (Babel), in the
customer's language and time zone.

Every value that comes from data is cut to a known maximum here (`limit`), so the SMS length test over
worst-case data holds for whatever the database holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy.orm import object_session

from bot.aftercare.proof import proof_of, where_words
from bot.changes.common import Kind, refusal_for_state
from bot.conversation.identity import make_link_token
from bot.core.models import Locker, Notification, Return, Shipment
from bot.core.settings import ROOT, Settings
from bot.notify import goodwill
from bot.text import LANGUAGES, N_, language_of, t, template_texts, timefmt

TEMPLATES = ROOT / "templates" / "notifications"
LOCALES = LANGUAGES
# Longest value a template ever sees for each kind of data (the SMS length test uses these).
LIMITS = {"first_name": 20, "tracking_number": 20, "locker_name": 28, "locker_address": 40,
          "pickup_code": 8, "rma": 14, "address": 40, "reference": 8, "resolution": 24, "place": 24, "asked": 36,
          "distance": 6,
          # Issue 16: a delay that broke the promise (flags: "1" or ""), its voucher, the change a page made.
          "promise_broken": 1, "offer_change": 1, "voucher": 16, "change": 12, "profile_items": 60,
          # An agent's reply sent after WhatsApp's 24-hour window (bot/notify/agent_reply.py): the agent's words
          # are checked against this before anything is planned, never cut; a WhatsApp template's body holds 1,024.
          "agent_name": 30, "agent_text": 880}
# Messages whose length is the agent's, not ours: held to Twilio's 1,600 characters, not to two segments.
AGENT_WORDED = ("agent_reply",)


@dataclass(frozen=True)
class Rendered:
    subject: str
    sms: str
    text: str
    html: str


def limit(kind: str, value: str | None) -> str:
    value = (value or "").strip()
    cap = LIMITS[kind]
    return value if len(value) <= cap else value[: cap - 1].rstrip() + "."


class Clock:
    """One customer's locale, time zone and 'today', for the formatter in bot/text/timefmt.py."""

    def __init__(self, locale: str, tz: str, now: datetime) -> None:
        self.locale, self.tz, self.now = locale, tz, now

    def time(self, moment: datetime | None) -> str:
        return timefmt.clock(moment, self.tz) if moment else ""

    def day(self, moment: datetime | None) -> str:
        return timefmt.day_label(moment, self.now, self.tz, self.locale) if moment else ""

    def window(self, start: datetime | None, end: datetime | None) -> str:
        if start is None or end is None:
            return ""
        return timefmt.window(start, end, self.now, self.tz, self.locale)


@lru_cache(maxsize=1)
def environment() -> Environment:
    """HTML templates (`*.html.j2`) autoescape; the text templates (SMS, subject, plain email) do not."""
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)), undefined=StrictUndefined,
        autoescape=select_autoescape(["html", "htm", "xml", "html.j2", "htm.j2", "xml.j2"], default=False),
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False,
    )
    return env


def _block(template: Any, name: str, context: dict[str, Any]) -> str:
    render = template.blocks.get(name)
    if render is None:
        return ""
    text = "".join(render(template.new_context(context)))
    lines = [" ".join(line.split()) for line in text.strip().splitlines()]
    return "\n".join(lines).strip()


def render(trigger: str, locale: str, context: dict[str, Any]) -> Rendered:
    env = environment()
    template = env.get_template(f"{trigger}.j2")
    context = {**context, **template_texts(language_of(locale))}
    text = _block(template, "email", context)
    html = env.get_template("layout.html.j2").render(paragraphs=[p for p in text.split("\n\n") if p],
                                                    link=context["link"], lang=language_of(locale),
                                                    **template_texts(language_of(locale)))
    return Rendered(subject=_block(template, "subject", context), sms=_block(template, "sms", context),
                    text=text, html=html)


def render_short(trigger: str, locale: str, context: dict[str, Any]) -> Rendered:
    """The SMS (and WhatsApp) text and the subject only: what a message that is not an email keeps."""
    template = environment().get_template(f"{trigger}.j2")
    context = {**context, **template_texts(language_of(locale))}
    return Rendered(subject=_block(template, "subject", context), sms=_block(template, "sms", context),
                    text="", html="")


def tracking_link(settings: Settings, shipment_id: int) -> str:
    return f"{settings.public_base_url.rstrip('/')}/t/{make_link_token(settings.link_secret, shipment_id)}"


def left_at(shipment: Shipment, locale: str) -> str | None:
    """Where the parcel was left, from the carrier's proof of delivery ("at the back door"), else the
    instructions in force."""
    session = object_session(shipment)
    proof = proof_of(session, shipment.id) if session is not None else None
    where = where_words(proof.place, proof.neighbour, locale) if proof is not None else None
    return where or shipment.instructions


def context_for(notification: Notification, shipment: Shipment, *, now: datetime, settings: Settings,
                locker: Locker | None = None, ret: Return | None = None) -> dict[str, Any]:
    """Everything a template may use, from the shipment as it is now."""
    customer = shipment.customer
    locale = language_of(customer.locale)
    clock = Clock(locale, customer.time_zone, now)
    facts = notification.context or {}
    deadline = datetime.fromisoformat(str(facts["deadline"])) if facts.get("deadline") else None
    window_start = shipment.eta_start or shipment.promised_start
    window_end = shipment.eta_end or shipment.promised_end
    if notification.trigger == "out_for_delivery" and window_start and window_end is None:
        window_end = window_start + timedelta(hours=1)
    return {
        "first_name": limit("first_name", customer.name.split()[0] if customer.name else ""),
        "tracking_number": limit("tracking_number", shipment.tracking_number),
        "link": tracking_link(settings, shipment.id),
        "window": clock.window(window_start, window_end),
        "promised": clock.window(shipment.promised_start, shipment.promised_end),
        "day": clock.day(shipment.promised_start),
        "stops_before": int(facts.get("stops_before", 0) or 0),
        "locker_name": limit("locker_name", locker.name if locker else ""),
        "locker_address": limit("locker_address", locker.address if locker else ""),
        "pickup_code": limit("pickup_code", shipment.locker_pickup_code),
        "deadline": f"{clock.day(deadline)} {clock.time(deadline)}" if deadline else "",
        "left_at": limit("address", left_at(shipment, locale) if notification.trigger == "delivered"
                         else shipment.instructions),
        "address": limit("address", shipment.address_line),
        "rma": limit("rma", ret.rma if ret else facts.get("rma")),
        "return_method": ret.method if ret else "",
        "label_code": (ret.label_code or "") if ret else "",
        "pickup": clock.window(ret.pickup_start, ret.pickup_end) if ret else "",
        "reference": limit("reference", str(facts.get("reference") or "")),
        "resolution": limit("resolution", str(facts.get("resolution") or "")),
        "place": limit("place", str(facts.get("place") or "")),
        "asked": limit("asked", str(facts.get("asked") or "")),
        "distance": limit("distance", str(facts.get("distance") or "")),
        **owned_delay(notification, shipment, facts),
        "change": limit("change", str(facts.get("change") or "")),
        "profile_items": limit("profile_items", profile_items(locale, str(facts.get("profile_items") or ""))),
        # One line: WhatsApp refuses a template variable with a line break, a tab or more than 4 spaces in a row.
        "agent_name": limit("agent_name", one_line(str(facts.get("agent_name") or ""))),
        "agent_text": limit("agent_text", one_line(str(facts.get("agent_text") or ""))),
    }


def one_line(text: str) -> str:
    return " ".join(text.split())


def owned_delay(notification: Notification, shipment: Shipment, facts: dict[str, Any]) -> dict[str, str]:
    """A delay past the promise margin (issue 16): the apology's flag, the goodwill voucher given for it, and
    whether the parcel can still be moved (so the message offers another day or a locker only then)."""
    broken = notification.trigger == "delayed" and bool(facts.get("broken"))
    session = object_session(shipment)
    given = goodwill.grant_for(session, shipment.id) if broken and session is not None else None
    movable = refusal_for_state(Kind.RESCHEDULE, status=shipment.status,
                                going_to_locker=shipment.locker_id is not None) is None
    return {"promise_broken": "1" if broken else "", "voucher": limit("voucher", given.code if given else ""),
            "offer_change": "1" if movable else ""}


# Issue 16: what the saved profile could not do for a parcel, named in the customer's language.
PROFILE_ITEMS = {"note": N_("note for the driver"), "neighbour": N_("neighbour"), "window": N_("delivery times"),
                 "locker": N_("locker")}


def profile_items(locale: str, items: str) -> str:
    return ", ".join(t(locale, PROFILE_ITEMS[item]) for item in items.split(",") if item in PROFILE_ITEMS)
