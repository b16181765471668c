"""WhatsApp through Twilio's Messages API: free text inside the 24-hour window, templates outside it.

WhatsApp lets a business write freely only within 24 hours of the customer's last message to it (the
customer-service window). Outside it only an approved template goes (`ContentSid` +
`ContentVariables`); a free-form body is refused with Twilio's error 63016. So a message:
1. asks Twilio for the customer's last inbound WhatsApp message (the message list, `From=` the
   customer, the last day): inside the window it goes as the free text (with the photo, if any);
2. otherwise, or when Twilio answers 63016 all the same (the window closed in between), it goes as the
   trigger's approved template in the customer's locale;
3. with no approved template (or a template variable that would be empty) it is refused for good
   (`PermanentFailure`, code 63016): the dispatcher records it and plans the next channel (SMS, email).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from bot.core.settings import Settings
from bot.notify.providers import (
    PermanentFailure,
    Sent,
    TransientFailure,
    _classify_twilio,
    _never_arrived,
    recent_messages,
)
from bot.notify.whatsapp_templates import WhatsAppTemplates, cached_templates

OUTSIDE_WINDOW = 63016  # Twilio: free-form message outside the allowed window; use a template
WINDOW = timedelta(hours=24)
PREFIX = "whatsapp:"


def whatsapp_address(phone: str) -> str:
    """`whatsapp:+E164`, as Twilio addresses WhatsApp users."""
    return phone if phone.startswith(PREFIX) else f"{PREFIX}{phone}"


@dataclass(frozen=True)
class WhatsAppMessage:
    to: str  # whatsapp:+E164
    body: str  # the free text (inside the window)
    trigger: str
    locale: str
    context: dict[str, Any]  # the template's variables come from here
    media_url: str | None = None


class TwilioWhatsApp:
    """One WhatsApp sender; the same account, SDK and async client as SMS."""

    def __init__(self, *, account_sid: str, auth_token: str, api_base: str, from_address: str,
                 templates: WhatsAppTemplates, messaging_service_sid: str = "", name: str = "twilio",
                 timeout: float = 10.0) -> None:
        self.name, self.timeout, self.templates = name, timeout, templates
        self.from_address, self.messaging_service_sid = from_address, messaging_service_sid
        self._http = AsyncTwilioHttpClient(timeout=timeout)
        self.client = Client(account_sid, auth_token, http_client=self._http)
        self.client.api.base_url = api_base

    async def last_inbound(self, to: str, now: datetime | None = None) -> datetime | None:
        """When the customer last wrote to us on WhatsApp, within the last day (None: not in it)."""
        now = now or datetime.now(UTC)
        try:
            async with asyncio.timeout(self.timeout):
                messages = await self.client.messages.list_async(from_=to, date_sent_after=now - WINDOW, limit=20)
        except TwilioRestException as exc:
            raise _classify_twilio(exc) from exc
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise TransientFailure(f"twilio unreachable: {exc!r}") from exc
        times = [m.date_sent or m.date_created for m in messages if (m.direction or "").startswith("inbound")]
        latest = max((t for t in times if t is not None), default=None)
        return latest if latest is not None and now - latest < WINDOW else None

    async def _create(self, **params: Any) -> Sent:
        sender: dict[str, Any] = (
            {"messaging_service_sid": self.messaging_service_sid} if self.messaging_service_sid
            else {"from_": self.from_address}
        )
        try:
            async with asyncio.timeout(self.timeout):
                message = await self.client.messages.create_async(**params, **sender)
        except TwilioRestException as exc:
            raise _classify_twilio(exc) from exc
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise TransientFailure(f"twilio unreachable: {exc!r}", maybe_sent=not _never_arrived(exc)) from exc
        return Sent(self.name, str(message.sid), text=str(message.body or ""))

    async def send(self, message: WhatsAppMessage, status_callback: str | None) -> Sent:
        extra: dict[str, Any] = {"status_callback": status_callback} if status_callback else {}
        if await self.last_inbound(message.to) is not None:
            free: dict[str, Any] = {"to": message.to, "body": message.body, **extra}
            if message.media_url:
                free["media_url"] = [message.media_url]
            try:
                return await self._create(**free)
            except PermanentFailure as exc:
                if exc.code != OUTSIDE_WINDOW:
                    raise
        return await self.send_template(message, extra)

    async def send_template(self, message: WhatsAppMessage, extra: dict[str, Any]) -> Sent:
        template = self.templates.for_trigger(message.trigger, message.locale)
        if template is None:
            raise PermanentFailure(f"outside the WhatsApp 24-hour window and no approved template for "
                                   f"{message.trigger}/{message.locale}", OUTSIDE_WINDOW)
        variables = template.content_variables(message.context)
        if variables is None:
            raise PermanentFailure(f"outside the WhatsApp 24-hour window and template {template.content_sid} "
                                   f"would have an empty variable", OUTSIDE_WINDOW)
        sent = await self._create(to=message.to, content_sid=template.content_sid,
                                  content_variables=json.dumps(variables), **extra)
        return Sent(sent.provider, sent.provider_id, f"template {template.content_sid}",
                    sent.text or template.render(variables))

    async def find_sent(self, to: str, body: str, trigger: str, locale: str, since: datetime) -> str | None:
        """A message to `to` since `since` with this free text or this trigger's template: did a send we
        lost track of go out? (Twilio lists a template message with its rendered text.)"""
        messages = await recent_messages(self.client, to, since, self.timeout)
        template = self.templates.for_trigger(trigger, locale)
        opening = template.render({str(n): "\x00" for n in range(1, len(template.variables) + 1)}).split("\x00")[0] \
            if template is not None else None
        for message in messages:
            text = message.body or ""
            if text == body or (opening and text.startswith(opening)):
                return str(message.sid)
        return None

    async def close(self) -> None:
        await self._http.close()


def whatsapp_sender(settings: Settings) -> TwilioWhatsApp | None:
    """The WhatsApp sender, or None when no WhatsApp sender is configured."""
    if not settings.whatsapp_from:
        return None
    return TwilioWhatsApp(
        account_sid=settings.sms_account_sid, auth_token=settings.sms_auth_token, api_base=settings.twilio_api_base,
        from_address=settings.whatsapp_from, templates=cached_templates(settings.whatsapp_templates),
        messaging_service_sid=settings.twilio_messaging_service_sid if settings.sms_provider == "twilio" else "",
        name=settings.sms_provider,
    )
