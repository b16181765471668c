"""Rasa's HTTP API as the web app uses it: read a conversation, speak into it as an agent, resume the bot.

Messages go out through Rasa's tracker events API with `execute_side_effects=true` and the
conversation's own `output_channel` (`twilio` sends the SMS through Twilio or the outbox; `socketio`
pushes to the customer's open web chat), so an agent's words take the same path as the bot's.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from bot.core.settings import Settings

# Our channels (addons/) by the name Rasa knows them; anything else only lands in the tracker.
OUTPUT_CHANNELS = {"twilio": "twilio", "socketio": "socketio"}
# Rasa (Sanic) does not unquote path parameters, so an id is sent as it is, and only ids made of
# characters that mean the same raw in a URL path can be addressed ("+49…", "web:…", "rest:…").
# Encoding anything else would address another conversation (`rest:a%2Fb`, not `rest:a/b`).
ADDRESSABLE_ID = re.compile(r"^[A-Za-z0-9._:@+-]{1,128}$")


class RasaUnavailable(RuntimeError):
    """Rasa did not answer or refused: nothing was delivered."""


class UnaddressableConversation(RasaUnavailable):
    """The conversation id has characters Rasa's HTTP API cannot take as they are: nothing was sent."""


class RasaAPI:
    def __init__(self, settings: Settings, *, timeout: float = 10.0) -> None:
        self._base = settings.rasa_url.rstrip("/")
        self._token = settings.rasa_token
        self._timeout = timeout

    def _url(self, conversation_id: str, tail: str) -> str:
        if not ADDRESSABLE_ID.match(conversation_id):
            raise UnaddressableConversation("the conversation id has characters Rasa's API cannot address")
        return f"{self._base}/conversations/{conversation_id}/{tail}"

    async def _request(self, method: str, url: str, **kwargs: Any) -> Any:
        params = {"token": self._token, **kwargs.pop("params", {})}
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                response = await client.request(method, url, params=params, **kwargs)
        except httpx.HTTPError as exc:
            raise RasaUnavailable(f"rasa unreachable: {type(exc).__name__}") from None
        if response.status_code >= 300:
            raise RasaUnavailable(f"rasa answered {response.status_code}")
        return response.json()

    async def events(self, conversation_id: str) -> list[dict[str, Any]]:
        """Every event of the conversation (all sessions), oldest first."""
        tracker = await self._request("GET", self._url(conversation_id, "tracker"), params={"include_events": "ALL"})
        return list(tracker.get("events") or [])

    async def say(self, conversation_id: str, channel: str, text: str, *, agent: str | None = None) -> None:
        """Append a bot message and deliver it on the conversation's channel."""
        await self.append(conversation_id, channel, [_bot_event(text, agent)])

    async def note_undelivered(self, conversation_id: str, text: str, *, agent: str, why: str) -> None:
        """Put an agent's message in the transcript, marked as not delivered and why; nothing is sent."""
        await self.note(conversation_id, text, {"agent": agent, "not_delivered": why})

    async def note(self, conversation_id: str, text: str, metadata: dict[str, Any]) -> None:
        """Put a message in the transcript as it is; nothing is sent (it went another way, or not at all)."""
        event = {"event": "bot", "text": text, "metadata": metadata}
        await self._request("POST", self._url(conversation_id, "tracker/events"),
                            params={"execute_side_effects": "false", "include_events": "NONE"}, json=[event])

    async def resume(self, conversation_id: str, channel: str, text: str) -> None:
        """The bot takes the conversation back (ConversationResumed) and tells the customer so."""
        # The handoff action paused the conversation before Rasa's `action_listen`: add it, so the
        # next message is predicted from a listening state (else the policies see no rule and fall back).
        await self.append(conversation_id, channel, [{"event": "resume"}, _bot_event(text, None),
                                                     {"event": "action", "name": "action_listen"}])

    async def append(self, conversation_id: str, channel: str, events: list[dict[str, Any]]) -> None:
        params = {"execute_side_effects": "true", "include_events": "NONE"}
        if channel in OUTPUT_CHANNELS:
            params["output_channel"] = OUTPUT_CHANNELS[channel]
        await self._request("POST", self._url(conversation_id, "tracker/events"), params=params, json=events)


def _bot_event(text: str, agent: str | None) -> dict[str, Any]:
    return {"event": "bot", "text": text, "metadata": {"agent": agent} if agent else {}}


def transcript(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What was said, in order: customer, bot and agent lines with their time."""
    lines = []
    paused = False
    for event in events:
        kind = event.get("event")
        if kind == "pause":
            paused = True
        elif kind in ("resume", "restart", "session_started"):
            paused = False
        if kind == "user" and event.get("text"):
            intent = (event.get("parse_data") or {}).get("intent", {}).get("name")
            lines.append({"who": "customer", "text": event["text"], "at": event.get("timestamp"),
                          "intent": intent, "during_handoff": paused})
        elif kind == "bot" and event.get("text"):
            agent = (event.get("metadata") or {}).get("agent")
            lines.append({"who": "agent" if agent else "bot", "text": event["text"], "at": event.get("timestamp"),
                          "agent": agent, "not_delivered": (event.get("metadata") or {}).get("not_delivered"),
                          "sent_as": (event.get("metadata") or {}).get("sent_as")})
    return lines


def slot_value(events: list[dict[str, Any]], slot: str) -> Any:
    """The slot's last value set in these events (None when never set)."""
    for event in reversed(events):
        if event.get("event") == "slot" and event.get("name") == slot:
            return event.get("value")
    return None


def bot_attempts(events: list[dict[str, Any]]) -> list[str]:
    """The actions and forms the bot ran (not listening), to show what it already tried."""
    skip = {"action_listen", "action_session_start", "action_extract_slots", None}
    tried: list[str] = []
    for event in events:
        if event.get("event") == "action" and event.get("name") not in skip:
            name = str(event.get("name"))
            if not tried or tried[-1] != name:
                tried.append(name)
    return tried
