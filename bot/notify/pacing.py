"""Rate limits per sender pool: at most `sms_per_second` SMS leave one Twilio number or Messaging
Service, across every worker (through Redis) or within one process (no Redis configured).

Both count sends in fixed windows (one second, or 1/rate seconds below one a second): a send that
finds its window full waits for the next one. Throttling happens before the provider is called.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Protocol

from bot.core.settings import Settings


class Pace(Protocol):
    async def take(self) -> int:
        """Return when one more message may leave the pool: the number of the window it was counted in."""


class Unlimited:
    async def take(self) -> int:
        return 0


def _window(rate: float) -> tuple[float, int]:
    """(seconds per window, sends per window) for `rate` a second."""
    seconds = 1.0 if rate >= 1 else 1.0 / rate
    return seconds, max(1, math.floor(rate * seconds))


class LocalPace:
    """One process's sends, counted in its own windows."""

    def __init__(self, rate: float) -> None:
        self.seconds, self.per_window = _window(rate)
        self._window, self._count = -1, 0
        self._lock = asyncio.Lock()

    async def take(self) -> int:
        async with self._lock:
            while True:
                window = int(time.time() / self.seconds)
                if window != self._window:
                    self._window, self._count = window, 0
                if self._count < self.per_window:
                    self._count += 1
                    return window
                await asyncio.sleep((window + 1) * self.seconds - time.time())


class RedisPace:
    """Every worker's sends from one pool, counted in shared windows (INCR on a key per window)."""

    def __init__(self, url: str, pool: str, rate: float) -> None:
        from redis import asyncio as aioredis  # only where a shared pace is configured

        self.client = aioredis.from_url(url)
        self.pool = pool
        self.seconds, self.per_window = _window(rate)

    async def take(self) -> int:
        while True:
            window = int(time.time() / self.seconds)
            key = f"doorstep:pace:{self.pool}:{window}"
            count = await self.client.incr(key)
            if count == 1:
                await self.client.expire(key, math.ceil(self.seconds) + 1)
            if count <= self.per_window:
                return window
            await asyncio.sleep(max(0.0, (window + 1) * self.seconds - time.time()))

    async def close(self) -> None:
        await self.client.aclose()


def pace_for(settings: Settings) -> Pace:
    """The SMS pace the settings ask for: shared through Redis when it is configured."""
    if settings.sms_per_second <= 0:
        return Unlimited()
    if settings.redis_url:
        return RedisPace(settings.redis_url, settings.sms_sender_pool, settings.sms_per_second)
    return LocalPace(settings.sms_per_second)
