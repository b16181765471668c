"""The REST channel (tests and integrations), replacing the built-in `rest` channel.

The built-in one lets the client choose `input_channel` and `metadata` and uses the client's
`sender` as the conversation id, so a REST client could pose as an SMS sender ("+49…", channel
"twilio") and land in that phone's verified conversation. Here the channel is always `rest`, the
metadata is ours (with the client's address, which the action server counts verification attempts
by), and conversation ids live in their own `rest:` namespace. A leading "/" is dropped, as on SMS:
"/restart" or "/affirm" would otherwise be read as intents (and "/restart" resets a conversation).
Each client address may send `burst` messages at once and then `messages_per_minute`; more get 429.
A post must be JSON (415 otherwise: a foreign page could send `text/plain` from visitors' browsers
without a CORS preflight) and its message at most MAX_MESSAGE_CHARS, as on SMS (413 otherwise: a
megabyte of text would hold Rasa's only process for many seconds).
"""

import re
import uuid
from typing import Any, Awaitable, Callable, Dict

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.exceptions import InvalidUsage
from sanic.request import Request
from sanic.response import HTTPResponse

from addons.ratelimit import TokenBuckets, client_address

PREFIX = "rest:"
# A sender Rasa's HTTP API could not address as it is (Rasa does not unquote ids in paths: `/`, `<`,
# space, `%`…) gets 400, so no conversation exists that an agent could not read or answer. The same
# alphabet as bot/conversation/rasa_api.py's ADDRESSABLE_ID.
SENDER = re.compile(r"^[A-Za-z0-9._:@+-]{1,100}$")
MAX_MESSAGE_CHARS = 1600  # Twilio's cap for one SMS body


class ScopedRestInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: Dict[str, Any] | None) -> InputChannel:
        return cls(TokenBuckets.from_credentials(credentials or {}))

    def __init__(self, buckets: TokenBuckets | None = None) -> None:
        self.buckets = buckets or TokenBuckets(20, 10)

    async def _extract_sender(self, req: Request) -> str | None:
        sender = req.json.get("sender") if isinstance(req.json, dict) else None
        if not sender or not isinstance(sender, str) or len(sender) > 100:
            return f"{PREFIX}anonymous-{uuid.uuid4().hex}"  # never the shared "default" conversation
        if not SENDER.match(sender):
            raise InvalidUsage("sender may contain only letters, digits and . _ : @ + -")
        return sender if sender.startswith(PREFIX) else PREFIX + sender

    def _extract_message(self, req: Request) -> str | None:
        text = req.json.get("message") if isinstance(req.json, dict) else None
        if not isinstance(text, str):
            return text
        return text.strip().lstrip("/")  # a customer's words are words, never an intent

    def _extract_input_channel(self, req: Request) -> str:
        return self.name()

    def get_metadata(self, request: Request) -> Dict[str, Any] | None:
        return {"channel": self.name(), "client_address": client_address(request.remote_addr, request.ip)}

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        hook = super().blueprint(on_new_message)

        @hook.middleware("request")
        async def limit(request: Request) -> HTTPResponse | None:
            if request.method != "POST":
                return None
            if request.content_type.split(";", 1)[0].strip().lower() != "application/json":
                return response.json({"error": "send the message as JSON (Content-Type: application/json)"},
                                     status=415)
            client = client_address(request.remote_addr, request.ip)
            if self.buckets.allow(client):
                return None
            return response.json({"error": "too many messages: please wait a moment"}, status=429,
                                 headers={"Retry-After": str(self.buckets.retry_after(client))})

        @hook.middleware("request")
        async def cap_length(request: Request) -> HTTPResponse | None:
            if request.method != "POST":
                return None
            try:
                text = request.json.get("message") if isinstance(request.json, dict) else None
            except InvalidUsage:
                return None  # not JSON: Rasa's handler answers 400
            if isinstance(text, str) and len(text) > MAX_MESSAGE_CHARS:
                return response.json({"error": f"message too long: at most {MAX_MESSAGE_CHARS} characters"},
                                     status=413)
            return None

        return hook
