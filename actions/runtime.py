"""The action server's runtime, built on first use (rasa-sdk imports every module at start)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any, TypeVar

from rasa_sdk import Tracker

from bot.runtime import Runtime
from bot.settings import get_settings

T = TypeVar("T")


@lru_cache(maxsize=1)
def runtime() -> Runtime:
    return Runtime.build(get_settings())


async def off_loop(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Database and carrier calls are blocking: run them off the action server's event loop."""
    return await asyncio.to_thread(func, *args, **kwargs)


SMS_SENDER = re.compile(r"\+[1-9]\d{6,14}")


def channel_of(tracker: Tracker) -> str:
    """The channel of the latest message, as our own channels set it (never the client)."""
    channel = tracker.get_latest_input_channel()
    if channel:
        return channel
    metadata = tracker.get_slot("session_started_metadata") or {}
    if metadata.get("channel"):
        return str(metadata["channel"])
    # A session started by us, not by a message (a notification recorded before the customer wrote):
    # our web and REST channels namespace their senders ("web:", "rest:"), so a bare E.164 number is
    # an SMS conversation, and only the token-holding app can start one.
    return "twilio" if SMS_SENDER.fullmatch(tracker.sender_id or "") else ""
