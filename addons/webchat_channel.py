"""Web chat over socket.io, replacing the built-in `socketio` channel.

Same events as the built-in one (`session_request`/`session_confirm`, `user_uttered`/`bot_uttered`),
so the rasa-webchat widget works with it. Differences:
- `enter_room` is awaited when the installed python-socketio makes it a coroutine (5.10+); with the
  built-in channel replies then never reach the browser.
- Conversation ids are `web:<session id>`, so a browser can never land in an SMS conversation
  (whose id is the phone number); session ids must look like ids.
- Metadata is ours: the channel name and, if the page passed one in `customData.token`, the signed
  shipment link token (checked by the action server). Anything else the client sends is dropped.
"""

import inspect
import logging
import re
import uuid
from typing import Any, Awaitable, Callable, Dict

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer

logger = logging.getLogger(__name__)

PREFIX = "web:"
SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
MAX_TEXT = 1000
MAX_TOKEN = 512
# Intents the pages may send as "/intent" (the widget's greeting and the tracking page's topic
# buttons). Any other leading "/" is dropped: "/restart" would otherwise wake a paused conversation.
PAGE_INTENTS = {"/greet", "/reschedule_delivery", "/redirect_to_locker", "/delivery_instructions",
                "/start_return", "/talk_to_human"}


class WebChatInput(SocketIOInput):
    @classmethod
    def name(cls) -> str:
        return "socketio"

    def _metadata(self, data: Dict[str, Any]) -> Dict[str, Any]:
        custom = data.get(self.metadata_key) or {}
        token = custom.get("token") if isinstance(custom, dict) else None
        metadata: Dict[str, Any] = {"channel": self.name()}
        if isinstance(token, str) and 0 < len(token) <= MAX_TOKEN:
            metadata["link_token"] = token
        return metadata

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=[])
        hook = SocketBlueprint(sio, self.socketio_path, "webchat_webhook", __name__)
        self.sio = sio

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: str, data: Dict | None) -> None:
            requested = (data or {}).get("session_id")
            session_id = requested if isinstance(requested, str) and SESSION_ID.match(requested) else uuid.uuid4().hex
            joined = sio.enter_room(sid, PREFIX + session_id, namespace=self.namespace)
            if inspect.isawaitable(joined):
                await joined
            await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: str, data: Dict) -> None:
            if not isinstance(data, dict):
                return
            session_id = data.get("session_id")
            if not isinstance(session_id, str) or not SESSION_ID.match(session_id):
                logger.warning("web chat message without a valid session_id ignored")
                return
            text = data.get("message")
            if not isinstance(text, str) or not text.strip():
                return
            text = text.strip()
            if text.startswith("/") and text not in PAGE_INTENTS:
                text = text.lstrip("/") or "?"
            message = UserMessage(
                text[:MAX_TEXT], SocketIOOutput(sio, self.bot_message_evt), PREFIX + session_id,
                input_channel=self.name(), metadata=self._metadata(data),
            )
            await on_new_message(message)

        return hook
