"""The direct Messages API call (`bot.notify.twilio_messages`): the request Twilio documents, and
every kind of answer classified, including answers that are not Twilio's."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs

import pytest

from bench.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, read_body
from bot.notify.providers import PermanentFailure, TransientFailure
from tests.notify.helpers import fake_twilio, served, twilio_sms

PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"


class Scripted:
    """An HTTP server that answers every request with one scripted (status, body), and keeps the requests."""

    def __init__(self, status: int, body: bytes, content_type: bytes = b"application/json") -> None:
        self.status, self.body, self.content_type = status, body, content_type
        self.requests: list[tuple[str, str, dict[bytes, bytes], bytes]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        self.requests.append((scope["method"], scope["path"], dict(scope["headers"]), body))
        await send({"type": "http.response.start", "status": self.status,
                    "headers": [(b"content-type", self.content_type), (b"content-length", str(len(self.body)).encode())]})
        await send({"type": "http.response.body", "body": self.body})


@contextmanager
def scripted(status: int, body: bytes, content_type: bytes = b"application/json") -> Iterator[tuple[Scripted, str]]:
    app = Scripted(status, body, content_type)
    with served(app) as base:
        yield app, base


def send(base: str, to: str = "+4917012345678", body: str = "Ihr Paket kommt heute 14:00-15:00 & mehr",
         callback: str | None = "https://example.org/cb?n=7", media: str | None = None) -> Any:
    async def go() -> Any:
        sms = twilio_sms(base)
        try:
            return await sms.send(to, body, callback, media)
        finally:
            await sms.close()

    return asyncio.run(go())


def test_the_request_is_twilios_form_post_with_basic_auth() -> None:
    sid = "SM" + "ab" * 16
    with scripted(201, json.dumps({"sid": sid, "status": "queued"}).encode()) as (app, base):
        sent = send(base, media="https://example.org/proof.jpg")
    assert sent.provider_id == sid
    [(method, path, headers, body)] = app.requests
    assert (method, path) == ("POST", PATH)
    assert headers[b"authorization"] == b"Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode())
    assert headers[b"content-type"] == b"application/x-www-form-urlencoded"
    form = parse_qs(body.decode(), strict_parsing=True)
    assert form == {"To": ["+4917012345678"], "Body": ["Ihr Paket kommt heute 14:00-15:00 & mehr"],
                    "From": ["+4930901820"], "StatusCallback": ["https://example.org/cb?n=7"],
                    "MediaUrl": ["https://example.org/proof.jpg"]}


def test_twilios_errors_keep_their_classification() -> None:
    with fake_twilio() as (fake, base):
        fake.refuse["+4917000000001"] = 21610
        with pytest.raises(PermanentFailure) as refused:
            send(base, to="+4917000000001")
        assert refused.value.code == 21610
        fake.fail_next("429")
        with pytest.raises(TransientFailure) as busy:
            send(base)
        assert not busy.value.maybe_sent  # Twilio said no: nothing to reconcile
        fake.fail_next("500")
        with pytest.raises(TransientFailure):
            send(base)
        assert len(fake.received) == 0


@pytest.mark.parametrize(("status", "body"), [
    (502, b"<html><body>Bad Gateway</body></html>"),
    (503, b"\xff\xfe not even text"),
    (500, b'["a list, not an error object"]'),
])
def test_a_broken_error_answer_is_transient(status: int, body: bytes) -> None:
    with scripted(status, body, b"text/html") as (_, base), pytest.raises(TransientFailure) as failed:
        send(base)
    assert f"twilio {status}" in str(failed.value)


def test_a_400_without_twilios_body_is_permanent_without_a_code() -> None:
    with scripted(400, b"no json here") as (_, base), pytest.raises(PermanentFailure) as failed:
        send(base)
    assert failed.value.code is None


@pytest.mark.parametrize("body", [
    b"{}", b'{"sid": 42}', b'{"sid": "SM1"}', b'{"sid": "not-a-sid-at-all-000000000000000000"}', b"garbage",
])
def test_an_accepted_answer_without_a_sid_is_reconciled_not_resent(body: bytes) -> None:
    """2xx: Twilio may have taken the message; without its SID it goes to reconciliation (maybe_sent)."""
    with scripted(201, body) as (_, base), pytest.raises(TransientFailure) as failed:
        send(base)
    assert failed.value.maybe_sent
