"""Rate limits per sender pool: SMS leave a pool no faster than configured, across workers (Redis)."""

from __future__ import annotations

import asyncio
import time
import uuid

from bot.notify.pacing import LocalPace, RedisPace, Unlimited, pace_for
from tests.conftest import make_settings
from tests.workers.conftest import REDIS_URL


async def _sends_per_window(paces: list[LocalPace] | list[RedisPace], total: int) -> tuple[float, list[int]]:
    """Send `total` through the paces (round robin, concurrently); (seconds taken, sends per window)."""
    granted: list[int] = []

    async def one(index: int) -> None:
        granted.append(await paces[index % len(paces)].take())

    started = time.monotonic()
    await asyncio.gather(*(one(i) for i in range(total)))
    per_window: dict[int, int] = {}
    for window in granted:
        per_window[window] = per_window.get(window, 0) + 1
    return time.monotonic() - started, list(per_window.values())


def test_two_workers_share_one_pools_rate_through_redis() -> None:
    pool = f"test-{uuid.uuid4().hex[:8]}"

    async def go() -> tuple[float, list[int]]:
        paces = [RedisPace(REDIS_URL, pool, 20), RedisPace(REDIS_URL, pool, 20)]  # two workers, one number
        try:
            return await _sends_per_window(paces, 60)
        finally:
            for pace in paces:
                await pace.close()

    took, per_second = asyncio.run(go())
    assert max(per_second) <= 20 and len(per_second) >= 3, "20 a second from the pool, whichever worker sends"
    assert took > 1.0, "60 messages at 20 a second wait for at least two more windows"


def test_one_process_keeps_the_rate_without_redis() -> None:
    took, per_second = asyncio.run(_sends_per_window([LocalPace(25)], 50))
    assert max(per_second) <= 25 and len(per_second) >= 2 and took > 0.0


def test_the_settings_choose_the_pace() -> None:
    assert isinstance(pace_for(make_settings("sqlite://")), Unlimited)
    assert isinstance(pace_for(make_settings("sqlite://", sms_per_second=1)), LocalPace)
    shared = pace_for(make_settings("sqlite://", sms_per_second=100, redis_url=REDIS_URL))
    assert isinstance(shared, RedisPace) and shared.pool == "+4930901820"  # the outbox's sender number
    asyncio.run(shared.close())
