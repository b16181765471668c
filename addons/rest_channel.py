"""The REST channel (tests and integrations), replacing the built-in `rest` channel.

The built-in one lets the client choose `input_channel` and `metadata` and uses the client's
`sender` as the conversation id, so a REST client could pose as an SMS sender ("+49…", channel
"twilio") and land in that phone's verified conversation. Here the channel is always `rest`, the
metadata is ours, and conversation ids live in their own `rest:` namespace.
"""

import uuid
from typing import Any, Dict

from rasa.core.channels.rest import RestInput
from sanic.request import Request

PREFIX = "rest:"


class ScopedRestInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    async def _extract_sender(self, req: Request) -> str | None:
        sender = req.json.get("sender") if req.json else None
        if not sender or not isinstance(sender, str) or len(sender) > 100:
            return f"{PREFIX}anonymous-{uuid.uuid4().hex}"  # never the shared "default" conversation
        return sender if sender.startswith(PREFIX) else PREFIX + sender

    def _extract_input_channel(self, req: Request) -> str:
        return self.name()

    def get_metadata(self, request: Request) -> Dict[str, Any] | None:
        return {"channel": self.name()}
