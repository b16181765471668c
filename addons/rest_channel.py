"""The REST channel (tests and integrations), replacing the built-in `rest` channel.

The built-in one lets the client choose `input_channel` and `metadata` and uses the client's
`sender` as the conversation id, so a REST client could pose as an SMS sender ("+49…", channel
"twilio") and land in that phone's verified conversation. Here the channel is always `rest`, the
metadata is ours, and conversation ids live in their own `rest:` namespace.
"""

import re
import uuid
from typing import Any, Dict

from rasa.core.channels.rest import RestInput
from sanic.exceptions import InvalidUsage
from sanic.request import Request

PREFIX = "rest:"
# A sender Rasa's HTTP API could not address as it is (Rasa does not unquote ids in paths: `/`, `<`,
# space, `%`…) gets 400, so no conversation exists that an agent could not read or answer. The same
# alphabet as bot/rasa_api.py's ADDRESSABLE_ID.
SENDER = re.compile(r"^[A-Za-z0-9._:@+-]{1,100}$")


class ScopedRestInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    async def _extract_sender(self, req: Request) -> str | None:
        sender = req.json.get("sender") if req.json else None
        if not sender or not isinstance(sender, str) or len(sender) > 100:
            return f"{PREFIX}anonymous-{uuid.uuid4().hex}"  # never the shared "default" conversation
        if not SENDER.match(sender):
            raise InvalidUsage("sender may contain only letters, digits and . _ : @ + -")
        return sender if sender.startswith(PREFIX) else PREFIX + sender

    def _extract_input_channel(self, req: Request) -> str:
        return self.name()

    def get_metadata(self, request: Request) -> Dict[str, Any] | None:
        return {"channel": self.name()}
