"""Speak as a customer's phone: a correctly signed Twilio-format webhook into Rasa.

Used by the demo phone page and `python -m bot sms`. Only when the whole deployment is the demo
(`Settings.demo_enabled`): with real Twilio this could speak as any customer, so it refuses.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx
from twilio.request_validator import RequestValidator

from bot.core.db import transaction
from bot.core.runtime import Runtime
from bot.demo.outbox import WHATSAPP, conversation, new_sid, record


class SimulatorDisabled(RuntimeError):
    pass


@dataclass
class Exchange:
    message_sid: str
    status_code: int
    replies: list[str]


def signed_inbound(runtime: Runtime, phone: str, text: str, message_sid: str) -> tuple[dict[str, str], str]:
    """The form and `X-Twilio-Signature` that Twilio would send for this inbound SMS (or WhatsApp
    message, when `phone` is `whatsapp:+E164`: to the WhatsApp sender, with the user's WaId)."""
    s = runtime.settings
    whatsapp = phone.startswith(WHATSAPP)
    form = {
        "MessageSid": message_sid, "SmsSid": message_sid, "AccountSid": s.sms_account_sid,
        "From": phone, "To": s.whatsapp_from if whatsapp else s.sms_from, "Body": text, "NumMedia": "0",
        "NumSegments": "1", "SmsStatus": "received", "ApiVersion": "2010-04-01",
    }
    if whatsapp:
        form["WaId"] = phone.removeprefix(WHATSAPP + "+")
    return form, RequestValidator(s.sms_auth_token).compute_signature(s.sms_webhook_url, form)


def send_as_customer(runtime: Runtime, phone: str, text: str, *, wait_seconds: float = 20.0) -> Exchange:
    """Post the SMS to Rasa, wait until the bot has finished its turn, return the replies it sent."""
    if not runtime.settings.demo_enabled:
        raise SimulatorDisabled("the SMS simulator exists only in the local demo (outbox SMS and email, sandbox carrier)")
    message_sid = new_sid()
    with transaction(runtime.sessions) as session:
        whatsapp = phone.startswith(WHATSAPP)
        record(session, channel="whatsapp" if whatsapp else "sms", body=text, direction="inbound", sid=message_sid,
               to=runtime.settings.whatsapp_from if whatsapp else runtime.settings.sms_from, sender=phone)
        before = max((m.id for m in conversation(session, phone, limit=1)), default=0)
    form, signature = signed_inbound(runtime, phone, text, message_sid)
    response = httpx.post(runtime.settings.sms_webhook_url, data=form,
                          headers={"X-Twilio-Signature": signature}, timeout=10)
    replies: list[str] = []
    if response.status_code < 300:
        _wait_for_turn(runtime, phone, message_sid, wait_seconds)
        with runtime.sessions() as session:
            replies = [m.body for m in conversation(session, phone, after_id=before) if m.direction == "outbound"]
    return Exchange(message_sid, response.status_code, replies)


def _wait_for_turn(runtime: Runtime, sender_id: str, message_id: str, wait_seconds: float) -> None:
    """The turn is over when the tracker shows our message followed by `action_listen`."""
    s = runtime.settings
    deadline = time.monotonic() + wait_seconds
    url = f"{s.rasa_url}/conversations/{sender_id}/tracker"
    while time.monotonic() < deadline:
        try:
            events = httpx.get(url, params={"token": s.rasa_token}, timeout=5).json().get("events", [])
        except (httpx.HTTPError, ValueError):
            events = []
        seen = False
        for event in events:
            if event.get("event") == "user" and event.get("message_id") == message_id:
                seen = True
            elif seen and event.get("event") == "action" and event.get("name") == "action_listen":
                return
        time.sleep(0.1)

