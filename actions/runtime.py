"""The action server's runtime, built on first use (rasa-sdk imports every module at start)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any, TypeVar

from rasa_sdk import Tracker

from bot.core.runtime import Runtime
from bot.core.settings import get_settings

T = TypeVar("T")


@lru_cache(maxsize=1)
def runtime() -> Runtime:
    return Runtime.build(get_settings())


async def off_loop(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Database and carrier calls are blocking: run them off the action server's event loop."""
    return await asyncio.to_thread(func, *args, **kwargs)


SMS_SENDER = re.compile(r"(whatsapp:)?\+[1-9]\d{6,14}")
# Our channels name their conversations: SMS by the signed sender's number, web chat `web:…`, REST `rest:…`.
NAMESPACES = (("web:", "socketio"), ("rest:", "rest"))


def channel_of(tracker: Tracker) -> str:
    """The conversation's channel, from its id alone: the channel a request names (`input_channel`,
    `session_started_metadata`) is whatever the caller wrote, so it is never believed. An id in no
    namespace of ours is no channel: nothing is verified for it."""
    sender_id = tracker.sender_id or ""
    for prefix, channel in NAMESPACES:
        if sender_id.startswith(prefix):
            return channel
    return "twilio" if SMS_SENDER.fullmatch(sender_id) else ""
