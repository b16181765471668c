"""Issue 12, item 12: a web chat session id must not be a bearer secret, and only our pages' origin
may open web chat sockets. Against the real processes, with python-socketio as the browser."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio
from sqlalchemy import select

from bot.conversation.identity import make_link_token
from bot.core.models import Shipment
from bot.core.runtime import Runtime
from bot.processes.devstack import Stack
from tests.e2e.helpers import user_messages
from tests.e2e.test_web_chat import WebChat, texts

ENV = {"CHAT_MESSAGES_PER_MINUTE": "20", "CHAT_BURST": "6"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with Stack(Path(tmp_path_factory.mktemp("webchat-sessions")), extra_env=ENV) as running:
        yield running


@pytest.fixture(scope="module")
def runtime(stack: Stack) -> Iterator[Runtime]:
    built = Runtime.build(stack.settings)
    yield built
    built.engine.dispose()


def _parcels(runtime: Runtime, count: int) -> list[Shipment]:
    with runtime.sessions() as session:
        rows = session.scalars(select(Shipment).where(Shipment.status.in_(("in_transit", "at_depot")))
                               .order_by(Shipment.id.desc()).limit(count)).all()
        for row in rows:
            session.expunge(row)
        return list(rows)


def conversation_of(session_id: str) -> str:
    """The conversation id as the console, the tracker store and the logs show it."""
    return f"web:{session_id.split('.')[0]}"


def test_a_second_socket_with_the_victims_session_hears_nothing_and_writes_nothing(runtime: Runtime) -> None:
    victim_parcel = _parcels(runtime, 1)[0]
    token = make_link_token(runtime.settings.link_secret, victim_parcel.id)
    intruder_text = "leave it with the guy at the door"

    async def attack() -> tuple[str, str, list[dict[str, Any]], str, str, str]:
        async with WebChat(runtime, token=token) as victim:
            first = texts(await victim.say("where is it"))
            known = victim.session_id.split(".")[0]  # what a leak of the conversation id gives away
            async with WebChat(runtime, session_id=known) as intruder:
                forged = socketio.AsyncClient()
                await forged.connect(runtime.settings.rasa_url, transports=["websocket"])
                confirmed: asyncio.Future[str] = asyncio.get_running_loop().create_future()
                forged.on("session_confirm", lambda sid: confirmed.done() or confirmed.set_result(sid))
                await forged.emit("session_request", {"session_id": f"{known}.{'0' * 32}"})
                forged_as = await asyncio.wait_for(confirmed, 30)
                # Writing into the victim's conversation by naming it:
                await intruder.client.emit("user_uttered", {"message": intruder_text, "session_id": known})
                await forged.emit("user_uttered", {"message": intruder_text, "session_id": known})
                second = texts(await victim.say("and when will it come?"))
                overheard = []
                # The victim has its reply: a socket in the same room would have it by now too.
                with contextlib.suppress(TimeoutError):
                    overheard.append(await asyncio.wait_for(intruder.inbox.get(), 3))
                await forged.disconnect()
                return first, second, overheard, known, intruder.session_id, forged_as

    first, second, overheard, known, intruder_as, forged_as = asyncio.run(attack())
    assert victim_parcel.tracking_number[-4:] in first and victim_parcel.tracking_number[-4:] in second
    assert overheard == []
    victim = f"web:{known}"
    assert conversation_of(intruder_as) != victim and conversation_of(forged_as) != victim
    assert intruder_text not in user_messages(runtime, victim)


def test_a_page_reload_resumes_its_own_verified_conversation(runtime: Runtime) -> None:
    parcel = _parcels(runtime, 2)[1]
    token = make_link_token(runtime.settings.link_secret, parcel.id)

    async def reload() -> tuple[str, str, str]:
        async with WebChat(runtime, token=token) as tab:
            await tab.say("hi")
            issued = tab.session_id
        async with WebChat(runtime, session_id=issued) as reloaded:  # the widget keeps the issued id
            answer = texts(await reloaded.say("where is it now?"))  # no token this time
            return issued, reloaded.session_id, answer

    issued, resumed, answer = asyncio.run(reload())
    assert resumed == issued
    assert parcel.tracking_number[-4:] in answer


def test_a_socket_from_another_origin_is_refused(runtime: Runtime, stack: Stack) -> None:
    async def connect(origin: str) -> bool:
        client = socketio.AsyncClient()
        try:
            await client.connect(runtime.settings.rasa_url, headers={"Origin": origin}, transports=["websocket"],
                                 wait_timeout=30)
        except socketio.exceptions.ConnectionError:
            return False
        await client.disconnect()
        return True

    assert asyncio.run(connect("http://evil.example")) is False
    assert asyncio.run(connect(runtime.settings.public_base_url)) is True


def test_web_chat_messages_are_rate_limited_per_client_with_a_polite_note(runtime: Runtime) -> None:
    async def flood() -> tuple[list[dict[str, Any]], str]:
        # From an address of its own (127.0.0.0/8 is all loopback), so the other tests' messages
        # from 127.0.0.1 do not share its bucket.
        http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=("127.0.0.77", 0)))
        tab = WebChat(runtime)
        tab.client = socketio.AsyncClient(http_session=http)
        try:
            async with tab:
                for n in range(12):  # at once: the bucket holds 6
                    await tab.client.emit("user_uttered", {"message": f"hello {n}", "session_id": tab.session_id})
                replies: list[dict[str, Any]] = []
                while True:
                    try:
                        replies.append(await asyncio.wait_for(tab.inbox.get(), 10))
                    except TimeoutError:
                        return replies, tab.session_id
        finally:
            await http.close()

    replies, session_id = asyncio.run(flood())
    notes = [r for r in replies if "sending messages very fast" in r.get("text", "")]
    assert len(notes) == 1
    heard = [m for m in user_messages(runtime, conversation_of(session_id)) if m.startswith("hello")]
    assert 6 <= len(heard) <= 7, heard  # the burst, and at most one token refilled meanwhile
