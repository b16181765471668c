"""Web chat over socket.io, the way the rasa-webchat widget talks to Rasa."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import socketio
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bot.conversation.identity import make_link_token
from bot.core.models import Claim, Notification, OutboxMessage, Shipment
from bot.core.runtime import Runtime
from tests.e2e.conftest import CustomerPool
from tests.e2e.helpers import user_messages


class WebChat:
    """One browser tab: a socket.io session that sends messages and collects bot_uttered events."""

    def __init__(self, runtime: Runtime, session_id: str | None = None, token: str | None = None) -> None:
        self.url = runtime.settings.rasa_url
        self.session_id = session_id or uuid.uuid4().hex
        self.token = token
        self.client = socketio.AsyncClient()
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.confirmed: asyncio.Future[str] | None = None

    async def __aenter__(self) -> WebChat:
        self.confirmed = asyncio.get_running_loop().create_future()
        self.client.on("bot_uttered", self.inbox.put_nowait)
        self.client.on("session_confirm", lambda sid: self.confirmed.done() or self.confirmed.set_result(sid))
        await self.client.connect(self.url, socketio_path="/socket.io", transports=["websocket"])
        await self.client.emit("session_request", {"session_id": self.session_id})
        self.session_id = await asyncio.wait_for(self.confirmed, 10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.disconnect()

    async def say(self, text: str, quiet_after: float = 1.5) -> list[dict[str, Any]]:
        custom = {"token": self.token} if self.token else {}
        await self.client.emit("user_uttered", {"message": text, "session_id": self.session_id, "customData": custom})
        replies = [await asyncio.wait_for(self.inbox.get(), 20)]
        while True:  # the bot may send several messages in one turn
            try:
                replies.append(await asyncio.wait_for(self.inbox.get(), quiet_after))
            except TimeoutError:
                return replies


def texts(replies: list[dict[str, Any]]) -> str:
    return " ".join(r.get("text", "") for r in replies)


def test_web_chat_without_a_token_asks_who_you_are(stack_runtime: Runtime) -> None:
    async def chat() -> str:
        async with WebChat(stack_runtime) as tab:
            return texts(await tab.say("where is my parcel"))

    answer = asyncio.run(chat())
    assert "tracking number" in answer and "Parcel" not in answer


def test_a_signed_link_token_verifies_the_web_chat(stack_runtime: Runtime, customers: CustomerPool) -> None:
    _customer, parcels = customers.take(lambda ps: any(p.status in ("at_depot", "in_transit") for p in ps))
    parcel = next(p for p in parcels if p.status in ("at_depot", "in_transit"))
    token = make_link_token(stack_runtime.settings.link_secret, parcel.id)

    async def chat() -> tuple[str, list[dict[str, Any]], str, str]:
        async with WebChat(stack_runtime, token=token) as tab:
            status = texts(await tab.say("hi, when is it coming?"))
            lockers = await tab.say("can i pick it up from a locker")
            first = lockers[-1]["quick_replies"][0]
            confirm = texts(await tab.say(first["payload"]))  # what clicking the first button sends
            done = texts(await tab.say("yes"))
            return status, lockers, confirm, done

    status, lockers, confirm, done = asyncio.run(chat())
    assert f"Parcel {parcel.tracking_number[-4:]}" in status
    buttons = lockers[-1]["quick_replies"]
    assert len(buttons) >= 2 and all(b["payload"].isdigit() for b in buttons)
    assert "YES" in confirm and "locker" in done
    with stack_runtime.sessions() as session:
        after = session.get(Shipment, parcel.id, options=[selectinload(Shipment.locker)])
        assert after is not None and after.locker is not None
        assert after.locker.name in buttons[0]["title"]


def test_a_forged_token_or_a_phone_as_session_id_gets_nothing(stack_runtime: Runtime, customers: CustomerPool) -> None:
    customer, parcels = customers.take(lambda ps: len(ps) > 0)
    forged = make_link_token("not-the-secret", parcels[0].id)

    async def chat() -> tuple[str, str]:
        async with WebChat(stack_runtime, token=forged) as tab:
            with_forged_token = texts(await tab.say("where is my parcel"))
        async with WebChat(stack_runtime, session_id=customer.phone) as tab:
            assert tab.session_id != customer.phone  # not an id: the server gave it a fresh one
            as_phone = texts(await tab.say("where is my parcel"))
        return with_forged_token, as_phone

    with_forged_token, as_phone = asyncio.run(chat())
    assert "Parcel" not in with_forged_token and "tracking number" in with_forged_token
    assert "Parcel" not in as_phone
    assert user_messages(stack_runtime, customer.phone) == []
    with stack_runtime.sessions() as session:
        assert session.scalars(select(Shipment).where(Shipment.id == parcels[0].id)).one()


# -- a claim opened in the web chat is answered in the web chat ---------------------------------------------

def test_a_web_chat_claim_is_answered_in_the_chat_and_not_by_sms(stack_runtime: Runtime,
                                                                 customers: CustomerPool) -> None:
    from tests.e2e.test_claims import agent, console, dispatch_now, missing_delivered, no_quiet_hours

    phone, shipment_id, number = missing_delivered(customers, stack_runtime)
    no_quiet_hours(stack_runtime, phone)  # an SMS for the claim would go out at once if one were due
    token = make_link_token(stack_runtime.settings.link_secret, shipment_id)
    client, csrf = console(stack_runtime.settings.web_internal_url, agent(stack_runtime))

    def resolve(claim_id: int) -> tuple[int, int]:
        done = client.post(f"/agent/claims/{claim_id}/resolve", data={
            "resolution": "redeliver", "note": "new attempt tomorrow", "csrf_token": csrf})
        again = client.post(f"/agent/claims/{claim_id}/resolve", data={"resolution": "refund", "csrf_token": csrf})
        return done.status_code, again.status_code

    async def chat() -> tuple[str, str, str, Claim, tuple[int, int], list[str], list[str]]:
        async with WebChat(stack_runtime, token=token) as tab:
            first = texts(await tab.say("my parcel says delivered but it isn't here"))
            reply = texts(await tab.say("no"))
            with stack_runtime.sessions() as session:
                claim = session.scalars(select(Claim).where(Claim.shipment_id == shipment_id)).one()
            codes = await asyncio.to_thread(resolve, claim.id)
            heard: list[str] = []
            deadline = asyncio.get_running_loop().time() + 20
            while not any(claim.reference in h for h in heard) and asyncio.get_running_loop().time() < deadline:
                with contextlib.suppress(TimeoutError):
                    heard.append((await asyncio.wait_for(tab.inbox.get(), 1))["text"])
            later: list[str] = []
            with contextlib.suppress(TimeoutError):  # nothing more: told once
                while True:
                    later.append((await asyncio.wait_for(tab.inbox.get(), 3))["text"])
            return first, reply, tab.session_id, claim, codes, heard, later

    try:
        first, reply, session_id, claim, codes, heard, later = asyncio.run(chat())
    finally:
        client.close()
    assert f"…{number[-4:]} shows as delivered" in first and "Found it?" in first, first
    assert claim.reference in reply and "answer by" in reply, reply
    assert (claim.kind, claim.channel, claim.sender_id) == ("missing", "web", "web:" + session_id.split(".")[0])
    assert claim.evidence["proof"] is not None and claim.evidence["timeline"][-1]["status"] == "delivered"
    assert "isn't here" in claim.evidence["words"]
    assert codes == (303, 409)
    told = [h for h in heard if claim.reference in h]
    assert len(told) == 1 and "deliver your parcel again" in told[0] and number in told[0], heard
    assert not told[0].startswith("Doorstep:") and "/t/" not in told[0]
    assert not any(claim.reference in h for h in later), later

    dispatch_now(stack_runtime)  # the scheduler's pass: the planned SMS stays cancelled
    with stack_runtime.sessions() as session:
        after = session.get(Claim, claim.id)
        assert after is not None and after.status == "resolved" and after.customer_told_at is not None
        plans = session.scalars(select(Notification).where(Notification.shipment_id == shipment_id,
                                                           Notification.trigger == "claim_resolved")).all()
        assert plans and all(n.status == "cancelled" and n.error == "told in the web chat" for n in plans), \
            [(n.channel, n.status, n.error) for n in plans]
        sms_bodies = session.scalars(select(OutboxMessage.body).where(OutboxMessage.to_address == phone)).all()
    assert not any(claim.reference in body for body in sms_bodies), sms_bodies
