"""How a message leaves: Twilio for SMS and SendGrid for email, through their own SDKs (but an SMS
send, the hot path of a wave, is one direct POST to Twilio's Messages API: `bot.notify.twilio_messages`). The outbox
(the embedded default) speaks both APIs, so the same code runs against it, against the local fake
servers of the tests and bench, and against the real services.

Failures come back classified: `TransientFailure` (timeouts, 429, 5xx: retry later) or
`PermanentFailure` (invalid or unsubscribed number, refused address: never retry).
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import aiohttp
from python_http_client.exceptions import HTTPError as SendGridHTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import Attachment as SendGridAttachment
from sendgrid.helpers.mail import Content, CustomArg, Disposition, FileContent, FileName, FileType, From, Mail, To
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from bot.core.settings import Settings
from bot.notify.twilio_messages import MessageUnreadable, TwilioMessages

# Twilio error codes that no retry can fix (https://www.twilio.com/docs/api/errors).
TWILIO_PERMANENT = {
    20003,  # authentication: a configuration error, not a passing one
    21211,  # invalid 'To' number
    21408,  # region not enabled
    21610,  # recipient unsubscribed (replied STOP)
    21612,  # 'To' not reachable from this sender
    21614,  # 'To' is not a mobile number
    21617,  # body too long
}


class TransientFailure(Exception):
    """Try again later: the provider was slow, busy or broken.

    `maybe_sent`: the request may have reached the provider before it failed (a timeout waiting for
    the answer, a connection dropped mid-request). Sending again blindly could send the message
    twice, so the dispatcher reconciles such a message with the provider first.
    """

    def __init__(self, message: str, *, maybe_sent: bool = False) -> None:
        super().__init__(message)
        self.maybe_sent = maybe_sent


def _never_arrived(exc: BaseException) -> bool:
    """A failure to connect at all (refused, no route, no such host): the provider has nothing."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        return True
    reason = getattr(exc, "reason", None)  # urllib's URLError wraps the socket error
    return isinstance(reason, ConnectionRefusedError | socket.gaierror) or isinstance(exc, ConnectionRefusedError)


class PermanentFailure(Exception):
    """Never retry: the provider refused this message for a reason that will not pass."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_base64: str
    mime_type: str


@dataclass(frozen=True)
class Sent:
    provider: str
    provider_id: str
    detail: str = ""  # how it went, when that matters (a WhatsApp template instead of free text)
    text: str = ""  # what the customer got, when it is not the text we rendered (a template's words)


class SmsSender(Protocol):
    name: str

    async def send(self, to: str, body: str, status_callback: str | None, media_url: str | None = None) -> Sent: ...

    async def find_sent(self, to: str, body: str, since: datetime) -> str | None: ...

    async def close(self) -> None: ...


class EmailSender(Protocol):
    name: str

    async def send(self, to: str, subject: str, text: str, html: str, custom_args: dict[str, str],
                   attachments: tuple[Attachment, ...] = ()) -> Sent: ...

    async def close(self) -> None: ...


def _classify_twilio(exc: TwilioRestException) -> Exception:
    if exc.status == 429 or exc.status >= 500:
        return TransientFailure(f"twilio {exc.status}: {exc.msg}")
    if exc.code in TWILIO_PERMANENT or 400 <= exc.status < 500:
        return PermanentFailure(f"twilio {exc.code or exc.status}: {exc.msg}", exc.code)
    return TransientFailure(f"twilio {exc.status}: {exc.msg}")


async def recent_messages(client: Any, to: str, since: datetime, timeout: float) -> list[Any]:
    """Twilio's list of the messages to `to` sent since a day before `since` (at most 200), errors classified."""
    try:
        async with asyncio.timeout(timeout):
            return list(await client.messages.list_async(to=to, date_sent_after=since - timedelta(days=1), limit=200))
    except TwilioRestException as exc:
        raise _classify_twilio(exc) from exc
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        raise TransientFailure(f"twilio unreachable: {exc!r}") from exc


class TwilioSms:
    """Twilio's Messages API: sends as one direct POST each (`bot.notify.twilio_messages`: the hot path),
    the message list through the SDK's async client."""

    def __init__(self, *, account_sid: str, auth_token: str, api_base: str, from_number: str = "",
                 messaging_service_sid: str = "", name: str = "twilio", timeout: float = 10.0) -> None:
        self.name, self.timeout = name, timeout
        self.from_number, self.messaging_service_sid = from_number, messaging_service_sid
        # The SDK's async client keeps its `timeout` but does not apply it (aiohttp's default is 5
        # minutes): every call here runs under `asyncio.timeout(self.timeout)` instead.
        self._http = AsyncTwilioHttpClient(timeout=timeout)
        self.client = Client(account_sid, auth_token, http_client=self._http)
        self.client.api.base_url = api_base
        self.messages = TwilioMessages(account_sid=account_sid, auth_token=auth_token, api_base=api_base)

    async def send(self, to: str, body: str, status_callback: str | None, media_url: str | None = None) -> Sent:
        """One SMS, or an MMS with `media_url` (the caller sends media only where it is allowed)."""
        form = [("To", to), ("Body", body)]
        form.append(("MessagingServiceSid", self.messaging_service_sid) if self.messaging_service_sid
                    else ("From", self.from_number))
        if status_callback:
            form.append(("StatusCallback", status_callback))
        if media_url:
            form.append(("MediaUrl", media_url))
        try:
            async with asyncio.timeout(self.timeout):
                sid = await self.messages.create(form)
        except TwilioRestException as exc:
            raise _classify_twilio(exc) from exc
        except MessageUnreadable as exc:  # Twilio may have it: reconciled before any resend
            raise TransientFailure(str(exc), maybe_sent=True) from exc
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise TransientFailure(f"twilio unreachable: {exc!r}", maybe_sent=not _never_arrived(exc)) from exc
        return Sent(self.name, sid)

    async def find_sent(self, to: str, body: str, since: datetime) -> str | None:
        """A message with this body to this number since `since`: did a send we lost track of go out?"""
        messages = await recent_messages(self.client, to, since, self.timeout)
        for message in messages:
            if message.body == body:
                return str(message.sid)
        return None

    async def close(self) -> None:
        await self.messages.close()
        await self._http.close()


class SendGridEmail:
    """SendGrid's v3 Mail Send with the official library (synchronous: run off the event loop)."""

    def __init__(self, *, api_key: str, host: str, from_email: str, name: str = "sendgrid") -> None:
        self.name, self.from_email = name, from_email
        self.client = SendGridAPIClient(api_key=api_key, host=host)

    def _send(self, to: str, subject: str, text: str, html: str, custom_args: dict[str, str],
              attachments: tuple[Attachment, ...]) -> Sent:
        mail = Mail(from_email=From(self.from_email, "Doorstep"), to_emails=To(to), subject=subject)
        mail.add_content(Content("text/plain", text))
        mail.add_content(Content("text/html", html))
        for key, value in custom_args.items():
            mail.add_custom_arg(CustomArg(key, value))
        for item in attachments:
            mail.add_attachment(SendGridAttachment(FileContent(item.content_base64), FileName(item.filename),
                                                   FileType(item.mime_type), Disposition("attachment")))
        try:
            response = self.client.send(mail)
        except SendGridHTTPError as exc:
            status = int(getattr(exc, "status_code", 0) or 0)
            detail = getattr(exc, "body", b"")
            if status == 429 or status >= 500:
                raise TransientFailure(f"sendgrid {status}: {detail!r}") from exc
            raise PermanentFailure(f"sendgrid {status}: {detail!r}", status) from exc
        except OSError as exc:  # urllib's URLError, timeouts, refused connections
            raise TransientFailure(f"sendgrid unreachable: {exc!r}", maybe_sent=not _never_arrived(exc)) from exc
        message_id = response.headers.get("X-Message-Id") if response.headers else None
        return Sent(self.name, str(message_id or ""))

    async def send(self, to: str, subject: str, text: str, html: str, custom_args: dict[str, str],
                   attachments: tuple[Attachment, ...] = ()) -> Sent:
        return await asyncio.to_thread(self._send, to, subject, text, html, custom_args, attachments)

    async def close(self) -> None:
        return None


def sms_sender(settings: Settings) -> TwilioSms:
    return TwilioSms(
        account_sid=settings.sms_account_sid, auth_token=settings.sms_auth_token, api_base=settings.twilio_api_base,
        from_number=settings.sms_from, messaging_service_sid=settings.twilio_messaging_service_sid
        if settings.sms_provider == "twilio" else "", name=settings.sms_provider,
    )


def email_sender(settings: Settings) -> SendGridEmail:
    return SendGridEmail(api_key=settings.email_api_key, host=settings.sendgrid_api_base,
                         from_email=settings.email_from, name=settings.email_provider)
