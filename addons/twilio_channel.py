"""Signed Twilio SMS and WhatsApp for Rasa 3.6, replacing the built-in `twilio` channel.

The built-in one accepts unsigned requests, answers 500 to a POST without `Body`, re-raises send
errors (the whole turn is lost), sends synchronously inside the event loop and never retries. This
one checks `X-Twilio-Signature` over the configured public URL, answers 403/400 before anything is
processed, acknowledges at once, and sends replies in a worker thread with retries. Sending goes to
`api_base`: the real Twilio API, or the local outbox that answers in Twilio's format.

WhatsApp comes through the same webhook with `From=whatsapp:+E164`: that address is the conversation's
sender id (one conversation per WhatsApp sender, apart from the same phone's SMS conversation), and
replies go back over WhatsApp from the WhatsApp sender (`whatsapp_number`). A reply is free text, which
WhatsApp takes inside its 24-hour window, i.e. right after the customer wrote.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from typing import Any, Awaitable, Callable, Dict
from urllib.parse import parse_qs

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request, RequestParameters
from sanic.response import HTTPResponse
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client

logger = logging.getLogger(__name__)

OPTED_OUT = 21610  # Twilio: the recipient replied STOP; sending again is refused
OUTSIDE_WINDOW = 63016  # Twilio: WhatsApp free text outside the 24-hour window (needs a template)
WHATSAPP = "whatsapp:"
RETRY_DELAYS = (0.5, 1.5, 4.0)
# Carrier keywords are exact and legal, not a guess: they bypass the classifier. ("CANCEL" stays a
# plain word here, as "never mind" in a conversation: remove it from the Messaging Service's
# Advanced Opt-Out keywords, or Twilio itself opts the sender out.)
KEYWORDS = {
    **dict.fromkeys(("STOP", "STOPALL", "UNSUBSCRIBE", "END", "QUIT", "REVOKE", "OPTOUT", "STOPP"), "/opt_out"),
    **dict.fromkeys(("START", "UNSTOP"), "/opt_in"),
    **dict.fromkeys(("HELP", "INFO", "HILFE", "HULP"), "/help"),
}
OPT_OUT_TYPES = {"STOP": "/opt_out", "START": "/opt_in", "HELP": "/help"}
SEEN_LIMIT = 5000
# A picture-only MMS: Rasa reads text only, so the channel says so itself (one segment, with a way out).
MEDIA_ONLY_REPLY = "I can only read text. Please type your message, or reply AGENT for a person."


def _mask(value: str) -> str:
    return value[:4] + "…" if value else ""


def signed_form(request: Request) -> RequestParameters:
    """Every field Twilio sent, blank ones included: Twilio signs `Body=""` of a picture-only MMS, but
    Sanic 21's `request.form` drops blank values, which made the signature check fail (403)."""
    content_type = (request.content_type or "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return request.form or RequestParameters()
    return RequestParameters(parse_qs(request.body.decode("utf-8"), keep_blank_values=True))


class SignedTwilioOutput(OutputChannel):
    """Replies through Twilio's Messages API, off the event loop, retrying transient failures."""

    @classmethod
    def name(cls) -> str:
        return "twilio"

    def __init__(self, client: Client, from_number: str, messaging_service_sid: str, status_callback: str,
                 whatsapp_number: str = "") -> None:
        self.client = client
        self.from_number = from_number
        self.messaging_service_sid = messaging_service_sid
        self.status_callback = status_callback
        self.whatsapp_number = whatsapp_number

    def _create(self, to: str, body: str, **extra: Any) -> str | None:
        params: Dict[str, Any] = {"to": to, "body": body, **extra}
        if self.messaging_service_sid:
            params["messaging_service_sid"] = self.messaging_service_sid
        elif to.startswith(WHATSAPP):
            if not self.whatsapp_number:
                logger.error("a WhatsApp reply with no WhatsApp sender configured (TWILIO_WHATSAPP_FROM)")
                return None
            params["from_"] = self.whatsapp_number
        else:
            params["from_"] = self.from_number
        if self.status_callback:
            params["status_callback"] = self.status_callback
        for attempt, delay in enumerate((0.0, *RETRY_DELAYS)):
            time.sleep(delay)
            try:
                return self.client.messages.create(**params).sid
            except TwilioRestException as exc:
                if exc.code == OPTED_OUT:
                    logger.info("not sent: %s has opted out", _mask(to))
                    return None
                if exc.code == OUTSIDE_WINDOW:
                    logger.warning("not sent: WhatsApp's 24-hour window with %s has closed", _mask(to))
                    return None
                if exc.status not in (429, 500, 502, 503, 504):
                    logger.error("Twilio refused a message (%s %s)", exc.status, exc.code)
                    return None
                logger.warning("Twilio %s, attempt %d", exc.status, attempt + 1)
            except Exception as exc:  # connection errors, timeouts
                logger.warning("Twilio unreachable (%s), attempt %d", type(exc).__name__, attempt + 1)
        logger.error("giving up on a message to %s", _mask(to))
        return None

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        # One SMS per bot message (the built-in channel splits on blank lines: more segments, more cost).
        await asyncio.get_running_loop().run_in_executor(None, self._create, recipient_id, text)

    async def send_text_with_buttons(self, recipient_id: str, text: str, buttons: Any, **kwargs: Any) -> None:
        # SMS has no buttons: numbered options as one message.
        lines = [text] + [f"{i}. {b.get('title', '')}" for i, b in enumerate(buttons, start=1)]
        await self.send_text_message(recipient_id, "\n".join(lines))

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await asyncio.get_running_loop().run_in_executor(
            None, lambda: self._create(recipient_id, "", media_url=[image])
        )


class SignedTwilioInput(InputChannel):
    """`/webhooks/twilio/webhook`: only requests signed with our auth token are processed."""

    @classmethod
    def name(cls) -> str:
        return "twilio"

    @classmethod
    def from_credentials(cls, credentials: Dict[str, Any] | None) -> InputChannel:
        if not credentials:
            cls.raise_missing_credentials_exception()
        return cls(**{k: str(v or "") for k, v in credentials.items()})  # type: ignore[arg-type]

    def __init__(self, account_sid: str, auth_token: str, twilio_number: str = "",
                 messaging_service_sid: str = "", webhook_url: str = "", api_base: str = "",
                 status_callback: str = "", whatsapp_number: str = "") -> None:
        if not (account_sid and auth_token and webhook_url):
            raise ValueError("twilio channel needs account_sid, auth_token and webhook_url")
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.twilio_number = twilio_number
        self.messaging_service_sid = messaging_service_sid
        self.webhook_url = webhook_url
        self.api_base = api_base
        self.status_callback = status_callback
        self.whatsapp_number = whatsapp_number
        self.validator = RequestValidator(auth_token)
        self._seen: "OrderedDict[str, None]" = OrderedDict()

    def __repr__(self) -> str:
        return f"SignedTwilioInput(account_sid={_mask(self.account_sid)}, webhook_url={self.webhook_url})"

    def get_output_channel(self) -> OutputChannel:
        client = Client(self.account_sid, self.auth_token)
        if self.api_base:
            client.api.base_url = self.api_base
        return SignedTwilioOutput(client, self.twilio_number, self.messaging_service_sid, self.status_callback,
                                  self.whatsapp_number)

    def _first_time(self, message_sid: str) -> bool:
        """Twilio may redeliver a webhook; a MessageSid is processed once per process."""
        if not message_sid:
            return True
        if message_sid in self._seen:
            return False
        self._seen[message_sid] = None
        if len(self._seen) > SEEN_LIMIT:
            self._seen.popitem(last=False)
        return True

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        hook = Blueprint("twilio_webhook", __name__)

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @hook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                form = signed_form(request)
            except UnicodeDecodeError:
                return response.text("form is not UTF-8", status=400)
            signature = request.headers.get("X-Twilio-Signature", "")
            if not signature or not self.validator.validate(self.webhook_url, form, signature):
                logger.warning("rejected an unsigned or tampered Twilio webhook")
                return response.text("invalid signature", status=403)
            sender = form.get("From")
            if not sender:
                return response.text("missing From", status=400)
            message_sid = form.get("MessageSid") or ""
            if not self._first_time(message_sid):
                return response.text("", status=204)
            body = (form.get("Body") or "").strip()
            if not body and _media_count(form.get("NumMedia")) > 0 and not await _paused(request, sender):
                # Nothing for Rasa to read: tell the customer at once (during a handoff the message
                # goes to Rasa below, which logs it for the agent and says nothing over them).
                output = self.get_output_channel()
                request.app.add_task(output.send_text_message(sender, MEDIA_ONLY_REPLY))
                return response.text("", status=204)
            opt_out_type = (form.get("OptOutType") or "").upper()
            # A leading "/" would make Rasa read the text as an intent ("/restart" even wakes a paused
            # conversation): customers' words are words.
            text = OPT_OUT_TYPES.get(opt_out_type) or KEYWORDS.get(body.upper().strip(".! ")) or body.lstrip("/")
            metadata = {
                "text": body,
                "channel": "whatsapp" if sender.startswith(WHATSAPP) else "twilio",
                "message_sid": message_sid,
                "opt_out_type": form.get("OptOutType") or "",
                "num_media": form.get("NumMedia") or "0",
            }
            if not text and _media_count(form.get("NumMedia")) > 0:
                text = "(picture)"  # what the agent sees in the transcript
            message = UserMessage(
                text, self.get_output_channel(), sender, input_channel=self.name(),
                message_id=message_sid or None, metadata=metadata,
            )
            request.app.add_task(on_new_message(message))
            return response.text("", status=204)

        return hook


def _media_count(value: str | None) -> int:
    return int(value) if value and value.isascii() and value.isdigit() and len(value) <= 3 else 0


async def _paused(request: Request, sender: str) -> bool:
    """The conversation is paused for an agent (a handoff): the bot must not speak."""
    agent = getattr(request.app.ctx, "agent", None)
    if agent is None or agent.tracker_store is None:
        return False
    tracker = await agent.tracker_store.retrieve(sender)
    return bool(tracker and tracker.is_paused())

