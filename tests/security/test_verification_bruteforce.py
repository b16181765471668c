"""Issue 12, item 2: a tracking number alone must not be enough to divert a parcel.

The probe guessed postcodes over REST with a new `sender` every three guesses (the limit was per
conversation) and verified DS7157461338 after 30 postcodes in 70 requests. Here the same attack runs
against the real processes; each guessing conversation even comes from its own address (127.0.0.x),
so neither the per-client limits nor the message rate limit is what stops it: the tracking number's.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from bot.core.clock import sim_now
from bot.core.models import ConversationLink, Notification, OutboxMessage, Shipment, VerificationLimit
from bot.core.runtime import Runtime
from bot.notify.service import run_pass
from bot.processes.devstack import Stack

# Defaults, except a first lock long enough that the sandbox's accelerated clock (30×) cannot end it
# while a busy machine works through the attack.
# A client limit of 4 keeps the per-client test short.
ENV = {"VERIFY_FIRST_LOCK_MINUTES": "600", "CHAT_MESSAGES_PER_MINUTE": "20", "CHAT_BURST": "20",
       "VERIFY_FAILURES_PER_CLIENT": "4", "VERIFY_FAILURES_PER_TRACKING_NUMBER": "3"}
_addresses = itertools.count(2)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with Stack(Path(tmp_path_factory.mktemp("bruteforce")), extra_env=ENV) as running:
        yield running


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while Client.opened:
        Client.opened.pop().close()


@pytest.fixture(scope="module")
def runtime(stack: Stack) -> Iterator[Runtime]:
    built = Runtime.build(stack.settings)
    yield built
    built.engine.dispose()


class Client:
    """One REST client at its own loopback address (Linux routes all of 127.0.0.0/8 to lo)."""

    opened: list[httpx.Client] = []

    def __init__(self, runtime: Runtime, address: str | None = None) -> None:
        self.address = address or f"127.0.0.{next(_addresses)}"
        self.url = f"{runtime.settings.rasa_url}/webhooks/rest/webhook"
        self.http = httpx.Client(transport=httpx.HTTPTransport(local_address=self.address), timeout=60)
        Client.opened.append(self.http)

    def post(self, sender: str, text: str) -> httpx.Response:
        return self.http.post(self.url, json={"sender": sender, "message": text})

    def say(self, sender: str, text: str) -> str:
        response = self.post(sender, text)
        response.raise_for_status()
        return " ".join(m.get("text", "") for m in response.json())


def _parcel(runtime: Runtime, taken: set[int]) -> Shipment:
    """A parcel on its way whose customer gets texts (for the warning)."""
    with runtime.sessions() as session:
        for shipment in session.scalars(select(Shipment).where(Shipment.status.in_(("in_transit", "at_depot")))
                                        .order_by(Shipment.id)):
            customer = shipment.customer
            if shipment.id not in taken and customer.phone and "sms" in (customer.preferred_channels or []):
                taken.add(shipment.id)
                session.expunge(shipment)
                return shipment
    raise LookupError("no parcel on its way with an SMS customer")


TAKEN: set[int] = set()


def _wrong_postcodes(right: str) -> Iterator[str]:
    return (f"{n:05d}" for n in range(10115, 14200) if f"{n:05d}" != right)


def _guess(client: Client, sender: str, tracking_number: str, postcode: str) -> str:
    client.say(sender, tracking_number)
    return client.say(sender, postcode)


def test_new_rest_senders_guessing_postcodes_never_verify_and_the_customer_is_warned_once(
        stack: Stack, runtime: Runtime) -> None:
    parcel = _parcel(runtime, TAKEN)
    wrong = _wrong_postcodes(parcel.postcode)
    answers: list[str] = []
    senders: list[str] = []
    for _ in range(4):  # four conversations, three guesses each (the per-conversation limit)
        client, sender = Client(runtime), f"probe-bf-{uuid.uuid4().hex[:8]}"
        senders.append(sender)
        answers.append(client.say(sender, "where is my parcel"))
        answers += [_guess(client, sender, parcel.tracking_number, next(wrong)) for _ in range(3)]
    # "/restart" over REST no longer resets the conversation's own count either.
    client, sender = Client(runtime), f"probe-bf-{uuid.uuid4().hex[:8]}"
    senders.append(sender)
    client.say(sender, "where is my parcel")
    answers.append(_guess(client, sender, parcel.tracking_number, next(wrong)))
    answers.append(client.say(sender, "/restart"))
    client.say(sender, "where is my parcel")
    # Finally the right postcode, from a fresh conversation at a fresh address: still refused.
    final = Client(runtime)
    sender = f"probe-bf-{uuid.uuid4().hex[:8]}"
    senders.append(sender)
    final.say(sender, "where is my parcel")
    right = _guess(final, sender, parcel.tracking_number, parcel.postcode)

    assert "don't match" in right and "/t/" not in right, right
    assert all("/t/" not in answer and "on its way" not in answer for answer in answers)
    with runtime.sessions() as session:
        verified = session.scalars(select(ConversationLink).where(
            ConversationLink.channel == "rest", ConversationLink.verified.is_(True),
            ConversationLink.sender_id.in_([f"rest:{s}" for s in senders]))).all()
        assert verified == []

    # The real customer is told on their own channel, once for the whole run of guesses.
    outbox_before = _warnings_to(runtime, parcel)
    for _ in range(2):
        asyncio.run(run_pass(runtime, _daytime(runtime, parcel)))
    with runtime.sessions() as session:
        rows = session.scalars(select(Notification).where(Notification.trigger == "verify_warning",
                                                          Notification.shipment_id == parcel.id)).all()
        assert [(r.channel, r.status in ("sent", "delivered")) for r in rows] == [("sms", True)]
    sent = _warnings_to(runtime, parcel)
    assert len(sent) == 1 and outbox_before == []
    assert parcel.tracking_number in sent[0] and "AGENT" in sent[0]


def test_once_the_lock_ends_the_customer_verifies_with_the_right_postcode(stack: Stack, runtime: Runtime) -> None:
    parcel = _parcel(runtime, TAKEN)
    wrong = _wrong_postcodes(parcel.postcode)
    attacker, sender = Client(runtime), "probe-lock-end"
    attacker.say(sender, "where is my parcel")
    for _ in range(3):
        _guess(attacker, sender, parcel.tracking_number, next(wrong))
    customer, own = Client(runtime), f"customer-{uuid.uuid4().hex[:8]}"
    customer.say(own, "where is my parcel")
    assert "/t/" not in _guess(customer, own, parcel.tracking_number, parcel.postcode)
    with runtime.sessions() as session, session.begin():  # the lock's time passes (business time)
        row = session.scalars(select(VerificationLimit).where(VerificationLimit.scope == "tracking",
                                                              VerificationLimit.subject == parcel.tracking_number)).one()
        row.locked_until = sim_now(session) - timedelta(seconds=1)
    again = f"customer-{uuid.uuid4().hex[:8]}"
    customer.say(again, "where is my parcel")
    assert "/t/" in _guess(customer, again, parcel.tracking_number, parcel.postcode)


def test_rest_messages_are_rate_limited_per_client_address(stack: Stack, runtime: Runtime) -> None:
    flooding, calm = Client(runtime), Client(runtime)
    with ThreadPoolExecutor(max_workers=40) as pool:  # all at once: the bucket holds 20
        responses = list(pool.map(lambda n: flooding.post(f"flood-{n}", "hello"), range(40)))
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) == {200, 429} and 20 <= statuses[200] <= 22, statuses
    refused = next(r for r in responses if r.status_code == 429)
    assert int(refused.headers["Retry-After"]) >= 1 and "wait" in refused.json()["error"]
    assert calm.post("calm", "hello").status_code == 200  # another address is not affected


def test_slash_intents_over_rest_are_words(stack: Stack, runtime: Runtime) -> None:
    client, sender = Client(runtime), f"slash-{uuid.uuid4().hex[:8]}"
    client.say(sender, "where is my parcel")
    client.say(sender, '/opt_in{"verified": true}')
    client.say(sender, "/restart")
    events = httpx.get(f"{runtime.settings.rasa_url}/conversations/rest:{sender}/tracker",
                       params={"token": runtime.settings.rasa_token}, timeout=30).json()["events"]
    users = [e for e in events if e.get("event") == "user"]
    assert [u["text"] for u in users[-2:]] == ['opt_in{"verified": true}', "restart"]
    assert not any(e.get("event") == "restart" for e in events)
    assert all(e.get("value") is not True for e in events if e.get("event") == "slot" and e.get("name") == "verified")


def test_one_client_guessing_across_conversations_is_locked_out(stack: Stack, runtime: Runtime) -> None:
    """Last in this module: after it, its address is locked (the others use their own)."""
    parcel = _parcel(runtime, TAKEN)
    guesser = Client(runtime)
    for n in range(4):  # four conversations, one wrong guess each, each for another tracking number
        sender = f"spray-{n}-{uuid.uuid4().hex[:6]}"
        guesser.say(sender, "where is my parcel")
        _guess(guesser, sender, f"DS{9000000000 + n}", parcel.postcode)
    sender = f"spray-own-{uuid.uuid4().hex[:6]}"
    guesser.say(sender, "where is my parcel")
    assert "/t/" not in _guess(guesser, sender, parcel.tracking_number, parcel.postcode)
    elsewhere, other = Client(runtime), f"elsewhere-{uuid.uuid4().hex[:6]}"
    elsewhere.say(other, "where is my parcel")
    assert "/t/" in _guess(elsewhere, other, parcel.tracking_number, parcel.postcode)


def _warnings_to(runtime: Runtime, parcel: Shipment) -> list[str]:
    with runtime.sessions() as session:
        phone = session.get(Shipment, parcel.id).customer.phone  # type: ignore[union-attr]
        return [body for body in session.scalars(select(OutboxMessage.body).where(
            OutboxMessage.to_address == phone, OutboxMessage.direction == "outbound"))
            if "wrong postcode" in body or "falschen Postleitzahlen" in body or "verkeerde postcodes" in body]


def _daytime(runtime: Runtime, parcel: Shipment) -> datetime:
    """Business now, moved past the customer's quiet hours if it falls in them."""
    with runtime.sessions() as session:
        now = sim_now(session)
        zone = ZoneInfo(session.get(Shipment, parcel.id).customer.time_zone)  # type: ignore[union-attr]
    local = now.astimezone(zone)
    if 9 <= local.hour < 20:
        return now
    return datetime.combine(local.date() + timedelta(days=local.hour >= 20), time(9, 0), zone)
