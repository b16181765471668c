"""Customers talking to the running stack the way each channel's clients do, for the soak and the
fault run: scripted conversations over SMS (signed Twilio webhooks into Rasa, replies read from the
outbox), web chat (socket.io, as the widget speaks it) and REST, each turn checked and tallied
(answered, failed, lost, said twice)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import socketio
from sqlalchemy import select

from bot.core.models import OutboxMessage
from bot.core.runtime import Runtime
from bot.demo.outbox import new_sid
from bot.demo.sms_sim import signed_inbound

CHANNELS = ("sms", "webchat", "rest")
TURN_TIMEOUT = 60.0  # a reply later than this counts as lost (generous: the machine is shared)


# --- What customers say, and what the bot must answer ---------------------------------------------

@dataclass(frozen=True)
class Turn:
    text: str
    expect: tuple[str, ...] = ()  # one of these in the reply; empty: any reply is right

    def answered_by(self, reply: str) -> bool:
        return not self.expect or any(word in reply for word in self.expect)


@dataclass(frozen=True)
class Parcel:
    tracking_number: str
    postcode: str


def track_parcel(parcel: Parcel) -> list[Turn]:
    """Where is it: prove it's yours, get its status (whatever the day has done to it by now)."""
    return [
        Turn("hi"),
        Turn("where is my parcel", ("tracking number",)),
        Turn(parcel.tracking_number, ("postcode",)),
        Turn(parcel.postcode, (f"Parcel {parcel.tracking_number[-4:]}", f"parcel {parcel.tracking_number[-4:]}")),
    ]


def change_parcel(parcel: Parcel) -> list[Turn]:
    """Move the delivery: verify, pick a window, confirm. As the sandbox day goes on the parcel may be
    out for delivery or delivered, and the bot rightly answers otherwise: any answer is right after
    verification, none at all is lost."""
    return [
        Turn("can you deliver it another day", ("tracking number",)),
        Turn(parcel.tracking_number, ("postcode",)),
        Turn(parcel.postcode),
        Turn("2"),
        Turn("yes"),
    ]


SCRIPTS: list[Callable[[Parcel], list[Turn]]] = [track_parcel, change_parcel]


def conversations(parcels: list[Parcel], sender: int, senders: int) -> Iterator[list[Turn]]:
    """Sender `sender` talks about its own share of the parcels, so no parcel is in two at once."""
    own = parcels[sender::senders] or parcels
    for parcel, script in itertools.cycle(itertools.product(own, SCRIPTS)):
        yield script(parcel)


# --- The tally ------------------------------------------------------------------------------------

@dataclass
class Tally:
    turns: Counter[str] = field(default_factory=Counter)  # channel -> customer messages answered
    conversations: Counter[str] = field(default_factory=Counter)  # channel -> conversations finished
    errors: Counter[str] = field(default_factory=Counter)  # channel -> failed requests
    lost: Counter[str] = field(default_factory=Counter)  # channel -> messages without a reply
    duplicated: Counter[str] = field(default_factory=Counter)  # channel -> replies or turns twice
    unexpected: Counter[str] = field(default_factory=Counter)  # answered, but not with what we expected
    latencies: dict[str, list[float]] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)

    def note(self, what: str) -> None:
        if len(self.examples) < 30:
            self.examples.append(f"{datetime.now(UTC):%H:%M:%S} {what}")


class TurnFailed(Exception):
    """The request itself failed (an error, not a missing reply)."""


# --- Channels: one conversation each, the way each channel's clients speak ----------------------------

class Conversation:
    channel: str

    async def open(self) -> None:
        return None

    async def say(self, text: str) -> list[str] | None:
        """The bot's replies to one message; None when none came in time; TurnFailed on an error."""
        raise NotImplementedError

    async def close(self, tally: Tally) -> None:
        return None


class RestConversation(Conversation):
    channel = "rest"

    def __init__(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        self.client, self.url = client, f"{runtime.settings.rasa_url}/webhooks/rest/webhook"
        self.sender = f"soak-{uuid.uuid4().hex[:16]}"

    async def say(self, text: str) -> list[str] | None:
        try:
            response = await self.client.post(self.url, json={"sender": self.sender, "message": text},
                                              timeout=TURN_TIMEOUT)
        except httpx.TimeoutException:
            return None
        except httpx.HTTPError as exc:
            raise TurnFailed(f"{type(exc).__name__}: {exc}") from None
        if response.status_code != 200:
            raise TurnFailed(f"HTTP {response.status_code}: {response.text[:120]}")
        return [str(m.get("text", "")) for m in response.json()] or None


class WebChatConversation(Conversation):
    """A browser tab: a socket.io session; a turn's replies are the bot_uttered events until a pause."""

    channel = "webchat"
    QUIET = 1.2  # seconds without another message after the first: the turn is over

    def __init__(self, runtime: Runtime) -> None:
        self.url = runtime.settings.rasa_url
        self.client = socketio.AsyncClient(reconnection=False)
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.session_id = uuid.uuid4().hex

    async def open(self) -> None:
        confirmed: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.client.on("bot_uttered", self.inbox.put_nowait)
        self.client.on("session_confirm", lambda sid: confirmed.done() or confirmed.set_result(sid))
        try:
            await self.client.connect(self.url, socketio_path="/socket.io", transports=["websocket"],
                                      wait_timeout=30)
            await self.client.emit("session_request", {"session_id": self.session_id})
            self.session_id = await asyncio.wait_for(confirmed, 30)
        except (socketio.exceptions.SocketIOError, TimeoutError, OSError) as exc:
            await self._disconnect()
            raise TurnFailed(f"socket.io connect: {type(exc).__name__}: {exc}") from None

    async def reconnect(self) -> None:
        """A new socket for the same session, as the widget opens after losing one."""
        await self._disconnect()
        self.client = socketio.AsyncClient(reconnection=False)
        await self.open()

    async def say(self, text: str) -> list[str] | None:
        if not self.client.connected:
            raise TurnFailed("socket.io disconnected")
        try:
            await self.client.emit("user_uttered", {"message": text, "session_id": self.session_id,
                                                    "customData": {}})
        except socketio.exceptions.SocketIOError as exc:
            raise TurnFailed(f"socket.io emit: {exc}") from None
        try:
            replies = [await asyncio.wait_for(self.inbox.get(), TURN_TIMEOUT)]
        except TimeoutError:
            return None
        while True:
            try:
                replies.append(await asyncio.wait_for(self.inbox.get(), self.QUIET))
            except TimeoutError:
                return [str(r.get("text", "")) for r in replies]

    async def close(self, tally: Tally) -> None:
        await self._disconnect()

    async def _disconnect(self) -> None:
        with contextlib.suppress(Exception):
            await self.client.disconnect()


class SmsConversation(Conversation):
    """A phone: each message a signed Twilio webhook into Rasa (answered 204 at once); the turn is
    over when Rasa's tracker shows the message followed by action_listen; the replies are what the
    outbox received for the phone meanwhile. A fresh unknown number per conversation."""

    channel = "sms"

    def __init__(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        self.client, self.runtime = client, runtime
        self.phone = f"+49159{random.randrange(10**7, 10**8)}"
        self.last_id = 0
        self.message_sids: list[str] = []

    async def say(self, text: str) -> list[str] | None:
        s = self.runtime.settings
        message_sid = new_sid()
        form, signature = signed_inbound(self.runtime, self.phone, text, message_sid)
        try:
            response = await self.client.post(s.sms_webhook_url, data=form, headers={"X-Twilio-Signature": signature},
                                              timeout=30)
        except httpx.HTTPError as exc:
            raise TurnFailed(f"{type(exc).__name__}: {exc}") from None
        if response.status_code >= 300:
            raise TurnFailed(f"HTTP {response.status_code}: {response.text[:120]}")
        if not await self._turn_over(message_sid):
            return None  # counted once, as a turn without a reply
        self.message_sids.append(message_sid)  # checked at the end: in the conversation exactly once
        replies = await asyncio.to_thread(self._outbox_since)
        return replies or None

    async def _events(self) -> list[dict[str, Any]]:
        s = self.runtime.settings
        response = await self.client.get(f"{s.rasa_url}/conversations/{self.phone}/tracker",
                                         params={"token": s.rasa_token}, timeout=30)
        response.raise_for_status()
        return list(response.json().get("events") or [])

    async def _turn_over(self, message_sid: str) -> bool:
        deadline = time.monotonic() + TURN_TIMEOUT
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError, ValueError):
                seen = False
                for event in await self._events():
                    if event.get("event") == "user" and event.get("message_id") == message_sid:
                        seen = True
                    elif seen and event.get("event") == "action" and event.get("name") == "action_listen":
                        return True
            await asyncio.sleep(0.3)
        return False

    def _outbox_since(self) -> list[str]:
        with self.runtime.sessions() as session:
            rows = session.scalars(select(OutboxMessage).where(
                OutboxMessage.to_address == self.phone, OutboxMessage.direction == "outbound",
                OutboxMessage.id > self.last_id).order_by(OutboxMessage.id)).all()
        if rows:
            self.last_id = rows[-1].id
        return [row.body for row in rows]

    async def close(self, tally: Tally) -> None:
        """Each SMS reached its conversation exactly once (Twilio may redeliver a webhook; Rasa must
        not work on one message twice)."""
        with contextlib.suppress(httpx.HTTPError, ValueError):
            seen = Counter(e.get("message_id") for e in await self._events() if e.get("event") == "user")
            for sid in self.message_sids:
                if seen[sid] == 0:
                    tally.lost["sms"] += 1
                    tally.note(f"sms {self.phone}: message {sid} not in its conversation")
                elif seen[sid] > 1:
                    tally.duplicated["sms"] += seen[sid] - 1
                    tally.note(f"sms {self.phone}: message {sid} worked on {seen[sid]} times")


def new_conversation(channel: str, client: httpx.AsyncClient, runtime: Runtime) -> Conversation:
    if channel == "sms":
        return SmsConversation(client, runtime)
    if channel == "webchat":
        return WebChatConversation(runtime)
    return RestConversation(client, runtime)


async def run_script(conversation: Conversation, script: list[Turn], tally: Tally, think: float) -> bool:
    """One conversation; False if it had to stop (an error or a lost message)."""
    channel = conversation.channel
    try:
        await conversation.open()
        for number, turn in enumerate(script, 1):
            started = time.monotonic()
            try:
                replies = await conversation.say(turn.text)
            except TurnFailed as exc:
                tally.errors[channel] += 1
                tally.note(f"{channel} turn {number} {turn.text!r}: {exc}")
                return False
            if replies is None:
                tally.lost[channel] += 1
                tally.note(f"{channel} turn {number} {turn.text!r}: no reply (none, or none within {TURN_TIMEOUT:g} s)")
                return False
            tally.latencies.setdefault(channel, []).append(time.monotonic() - started)
            tally.turns[channel] += 1
            repeated = sum(n - 1 for n in Counter(replies).values())
            if repeated:
                tally.duplicated[channel] += repeated
                tally.note(f"{channel} turn {number} {turn.text!r}: a reply said twice: {replies}")
            reply = " ".join(replies)
            if not turn.answered_by(reply):
                tally.unexpected[channel] += 1
                tally.note(f"{channel} turn {number} {turn.text!r}: expected one of {turn.expect}, got {reply[:140]!r}")
            await asyncio.sleep(think * random.uniform(0.5, 1.5))
        tally.conversations[channel] += 1
        return True
    except TurnFailed as exc:
        tally.errors[channel] += 1
        tally.note(f"{channel} open: {exc}")
        return False
    finally:
        await conversation.close(tally)


async def sender_loop(channel: str, scripts: Iterator[list[Turn]], client: httpx.AsyncClient, runtime: Runtime,
                      tally: Tally, end: float, think: float) -> None:
    while time.monotonic() < end:
        ok = await run_script(new_conversation(channel, client, runtime), next(scripts), tally, think)
        if not ok:
            await asyncio.sleep(1.0)  # don't spin on a failing server


async def converse(runtime: Runtime, parcels: list[Parcel], tally: Tally, seconds: float, concurrency: int,
                   think: float) -> None:
    end = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2)
    async with httpx.AsyncClient(limits=limits) as client:
        await asyncio.gather(*(
            sender_loop(CHANNELS[n % len(CHANNELS)], conversations(parcels, n, concurrency), client, runtime,
                        tally, end, think)
            for n in range(concurrency)
        ))
