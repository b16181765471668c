"""The action server's runtime, built on first use (rasa-sdk imports every module at start)."""

from __future__ import annotations

import asyncio
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


def channel_of(tracker: Tracker) -> str:
    """The channel of the latest message, as our own channels set it (never the client)."""
    channel = tracker.get_latest_input_channel()
    if channel:
        return channel
    metadata = tracker.get_slot("session_started_metadata") or {}
    return str(metadata.get("channel") or "")
