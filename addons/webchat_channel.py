"""Web chat over socket.io, replacing the built-in `socketio` channel.

Same events as the built-in one (`session_request`/`session_confirm`, `user_uttered`/`bot_uttered`),
so the rasa-webchat widget works with it. Differences:
- `enter_room` is awaited when the installed python-socketio makes it a coroutine (5.10+); with the
  built-in channel replies then never reach the browser.
- Conversation ids are `web:<id>`, so a browser can never land in an SMS conversation (whose id is
  the phone number).
- The session id the browser keeps is issued by this server: `<id>.<mac>`, the mac an HMAC of the id
  under `session_key`. Only a socket that presents it joins the conversation `web:<id>`: a socket
  with just the conversation id (as the console, the tracker store and logs show it) or with an id
  of its own choosing gets a fresh conversation. A socket only ever writes into, and hears from,
  the conversation it was confirmed for (`session_persistence` resumes it after a page reload,
  since the widget keeps the issued id).
- A socket whose page comes from another origin than `allowed_origins` is refused at connect.
- Each client address may send `burst` messages at once and then `messages_per_minute`; beyond that
  messages are dropped and the socket is told, politely, at most every few seconds.
- Metadata is ours: the channel name, the client's address (the action server counts verification
  attempts by it) and, if the page passed one in `customData.token`, the signed shipment link token
  (checked by the action server). Anything else the client sends is dropped.
"""

import hashlib
import hmac
import inspect
import logging
import re
import secrets
import time
import uuid
from typing import Any, Awaitable, Callable, Dict, List

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncRedisManager, AsyncServer

from addons.ratelimit import TokenBuckets, client_address

logger = logging.getLogger(__name__)

PREFIX = "web:"
ISSUED_SESSION = re.compile(r"^([0-9a-f]{32})\.([0-9a-f]{32})$")
MAX_TEXT = 1000
MAX_TOKEN = 512
LANGUAGES = ("en", "de", "nl")  # bot/text.py: the languages the bot answers in
TOO_FAST = "You're sending messages very fast. Please wait a moment, then try again."
TOO_FAST_EVERY = 10.0  # seconds between two such notes to one socket
# Intents the pages may send as "/intent" (the widget's greeting and the tracking page's topic
# buttons), exactly, without entities. Any other leading "/" is dropped: "/restart" would otherwise
# wake a paused conversation, and "/opt_in{…}" would set slots.
PAGE_INTENTS = {"/greet", "/reschedule_delivery", "/redirect_to_locker", "/delivery_instructions",
                "/start_return", "/talk_to_human"}


class WebChatInput(SocketIOInput):
    @classmethod
    def name(cls) -> str:
        return "socketio"

    @classmethod
    def from_credentials(cls, credentials: Dict[str, Any] | None) -> InputChannel:
        credentials = credentials or {}
        channel = cls(
            credentials.get("user_message_evt", "user_uttered"),
            credentials.get("bot_message_evt", "bot_uttered"),
            credentials.get("namespace"),
            credentials.get("session_persistence", False),
            credentials.get("socketio_path", "/socket.io"),
            credentials.get("jwt_key"),
            credentials.get("jwt_method", "HS256"),
            credentials.get("metadata_key", "metadata"),
        )
        origins = str(credentials.get("allowed_origins") or "")
        channel.allowed_origins = [o.strip().rstrip("/") for o in origins.split(",") if o.strip()]
        channel.buckets = TokenBuckets.from_credentials(credentials)
        if credentials.get("session_key"):
            channel.session_key = str(credentials["session_key"]).encode()
        channel.redis_url = str(credentials.get("redis_url") or "")
        channel.redis_channel = str(credentials.get("redis_channel") or "webchat")
        return channel

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.allowed_origins: List[str] = []  # empty: any origin (only when built without credentials)
        self.buckets = TokenBuckets(20, 10)
        # Without a configured key, sessions last as long as this process.
        self.session_key = secrets.token_bytes(32)
        self._conversations: Dict[str, str] = {}  # socket id -> the conversation it was confirmed for
        self._clients: Dict[str, str] = {}  # socket id -> client address
        self._told_too_fast: Dict[str, float] = {}
        # Several Rasa replicas: a message for a conversation's room (a bot reply, an agent's words sent
        # through another replica's HTTP API) goes through Redis to the replica that holds the socket.
        self.redis_url = ""
        self.redis_channel = "webchat"

    # -- sessions ------------------------------------------------------------------------------
    def _mac(self, conversation: str) -> str:
        return hmac.new(self.session_key, conversation.encode(), hashlib.sha256).hexdigest()[:32]

    def issued_session(self, conversation: str) -> str:
        return f"{conversation}.{self._mac(conversation)}"

    def _resumable(self, requested: Any) -> str | None:
        """The conversation of a session id this server issued; None for anything else."""
        match = ISSUED_SESSION.match(requested) if isinstance(requested, str) else None
        if match is None or not hmac.compare_digest(match.group(2), self._mac(match.group(1))):
            return None
        return match.group(1)

    def _origin_allowed(self, environ: Dict[str, Any]) -> bool:
        origin = environ.get("HTTP_ORIGIN")
        # No Origin header: not a browser page (browsers always send one on socket.io's requests).
        return not origin or not self.allowed_origins or origin.rstrip("/") in self.allowed_origins

    def _metadata(self, data: Dict[str, Any], client: str) -> Dict[str, Any]:
        custom = data.get(self.metadata_key) or {}
        token = custom.get("token") if isinstance(custom, dict) else None
        metadata: Dict[str, Any] = {"channel": self.name(), "client_address": client}
        if isinstance(token, str) and 0 < len(token) <= MAX_TOKEN:
            metadata["link_token"] = token
        language = custom.get("language") if isinstance(custom, dict) else None
        if language in LANGUAGES:  # the page's language: a hint for the bot's first replies, nothing more
            metadata["language"] = language
        return metadata

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        # CORS headers stay with Rasa's own `--cors`; the origin is checked at connect instead.
        manager = AsyncRedisManager(self.redis_url, channel=self.redis_channel) if self.redis_url else None
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=[], client_manager=manager)
        hook = SocketBlueprint(sio, self.socketio_path, "webchat_webhook", __name__)
        self.sio = sio

        async def enter(sid: str, room: str) -> None:
            joined = sio.enter_room(sid, room, namespace=self.namespace)
            if inspect.isawaitable(joined):
                await joined

        async def leave(sid: str, room: str) -> None:
            left = sio.leave_room(sid, room, namespace=self.namespace)
            if inspect.isawaitable(left):
                await left

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @sio.on("connect", namespace=self.namespace)
        async def connect(sid: str, environ: Dict[str, Any], auth: Any = None) -> bool:
            if not self._origin_allowed(environ):
                logger.warning("web chat socket refused: origin %r not allowed", environ.get("HTTP_ORIGIN"))
                return False
            request = environ.get("sanic.request")
            self._clients[sid] = client_address(getattr(request, "remote_addr", ""), getattr(request, "ip", ""))
            return True

        @sio.on("disconnect", namespace=self.namespace)
        async def disconnect(sid: str) -> None:
            self._conversations.pop(sid, None)
            self._clients.pop(sid, None)
            self._told_too_fast.pop(sid, None)

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: str, data: Any) -> None:
            requested = data.get("session_id") if isinstance(data, dict) else None
            conversation = self._resumable(requested) or uuid.uuid4().hex
            previous = self._conversations.get(sid)
            if previous is not None and previous != conversation:
                await leave(sid, PREFIX + previous)
            self._conversations[sid] = conversation
            await enter(sid, PREFIX + conversation)
            await sio.emit("session_confirm", self.issued_session(conversation), room=sid, namespace=self.namespace)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: str, data: Any) -> None:
            conversation = self._conversations.get(sid)
            if not isinstance(data, dict) or conversation is None:
                logger.warning("web chat message from a socket without a confirmed session ignored")
                return
            if data.get("session_id") != self.issued_session(conversation):
                logger.warning("web chat message for another session than the socket's ignored")
                return
            text = data.get("message")
            if not isinstance(text, str) or not text.strip():
                return
            client = self._clients.get(sid, "unknown")
            if not self.buckets.allow(client):
                now = time.monotonic()
                if now - self._told_too_fast.get(sid, float("-inf")) >= TOO_FAST_EVERY:
                    self._told_too_fast[sid] = now
                    await sio.emit(self.bot_message_evt, {"text": TOO_FAST}, room=sid, namespace=self.namespace)
                return
            text = text.strip()
            if text.startswith("/") and text not in PAGE_INTENTS:
                text = text.lstrip("/") or "?"
            message = UserMessage(
                text[:MAX_TEXT], SocketIOOutput(sio, self.bot_message_evt), PREFIX + conversation,
                input_channel=self.name(), metadata=self._metadata(data, client),
            )
            await on_new_message(message)

        return hook
