"""Issue 12 re-test, finding 1 and 11c: REST chat messages against the real Rasa process. One huge
message used to hold Rasa's only process for 20-30 s and was stored in the tracker; a `text/plain`
post (which a foreign page can send from a visitor's browser without a CORS preflight) was taken."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.processes.devstack import Stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with Stack(Path(tmp_path_factory.mktemp("retest-rest")), processes=("rasa", "actions")) as running:
        yield running


def webhook(stack: Stack) -> str:
    return f"{stack.settings.rasa_url}/webhooks/rest/webhook"


def user_texts(stack: Stack, sender: str) -> list[str]:
    s = stack.settings
    tracker = httpx.get(f"{s.rasa_url}/conversations/rest:{sender}/tracker", params={"token": s.rasa_token},
                        timeout=60)
    assert tracker.status_code == 200
    return [event.get("text") or "" for event in tracker.json()["events"] if event["event"] == "user"]


def test_a_megabyte_message_is_refused_and_never_reaches_the_tracker(stack: Stack) -> None:
    huge = "where is my parcel " * 60000  # 1.1 MB, as the attacker sent it
    refused = httpx.post(webhook(stack), json={"sender": "big2", "message": huge}, timeout=120)
    assert refused.status_code == 413
    assert user_texts(stack, "big2") == []
    assert httpx.post(webhook(stack), json={"sender": "calm", "message": "hello"}, timeout=60).status_code == 200


def test_a_message_longer_than_an_sms_is_refused_with_a_clear_reason(stack: Stack) -> None:
    refused = httpx.post(webhook(stack), json={"sender": "long1", "message": "a" * 1601}, timeout=60)
    assert refused.status_code == 413
    assert "1600 characters" in refused.json()["error"]
    assert user_texts(stack, "long1") == []
    accepted = httpx.post(webhook(stack), json={"sender": "long2", "message": "b" * 1600}, timeout=60)
    assert accepted.status_code == 200
    assert user_texts(stack, "long2") == ["b" * 1600]


def test_a_large_body_is_refused_even_with_a_short_message(stack: Stack) -> None:
    padded = {"sender": "pad1", "message": "hello", "padding": "x" * 200_000}
    assert httpx.post(webhook(stack), json=padded, timeout=60).status_code == 413
    assert user_texts(stack, "pad1") == []


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
def test_a_post_that_is_not_json_is_refused(stack: Stack, content_type: str) -> None:
    sender = "plain-" + content_type.split("/")[1].replace("+", "-")[:20]
    body = json.dumps({"sender": sender, "message": "hello"})
    refused = httpx.post(webhook(stack), content=body, headers={"Content-Type": content_type}, timeout=60)
    assert refused.status_code == 415
    assert "application/json" in refused.json()["error"]
    assert user_texts(stack, sender) == []
    charset = httpx.post(webhook(stack), content=body.replace(sender, sender + "-json"),
                         headers={"Content-Type": "application/json; charset=utf-8"}, timeout=60)
    assert charset.status_code == 200
