"""Sliding-window rate limits for the web process: in-process, or shared by every web replica through
Redis when REDIS_URL is set (issue 17), so that adding a replica does not add attempts.

Both count an attempt before the work it limits and can give the newest one back (a good login).
The shared one counts in a Redis sorted set per key, in one Lua script (atomic: parallel attempts on
several replicas never pass the limit), on Redis's own clock. When Redis does not answer, each
process falls back to its own count until it does, and says so in the log.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from collections import deque
from typing import TYPE_CHECKING, Any, Protocol

from bot.core.settings import Settings

if TYPE_CHECKING:
    from redis import Redis

logger = logging.getLogger(__name__)


class Limiter(Protocol):
    def allow(self, key: str) -> bool:
        """Count one attempt for `key`; False once it has used up its attempts in the window."""

    def give_back(self, key: str) -> None:
        """Undo the newest attempt counted for `key` (one that turned out not to count, e.g. a good login)."""


class RateLimiter:
    """One process's attempts."""

    def __init__(self, limit: int, per_seconds: float, *, max_keys: int = 10_000) -> None:
        self.limit = limit
        self.per_seconds = per_seconds
        self.max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.per_seconds:
                hits.popleft()
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            if len(self._hits) > self.max_keys:  # forget the quietest keys rather than grow forever
                for stale in [k for k, v in self._hits.items() if not v][: self.max_keys // 10 or 1]:
                    del self._hits[stale]
                if len(self._hits) > self.max_keys:
                    self._hits.pop(next(iter(self._hits)))
            return True

    def give_back(self, key: str) -> None:
        with self._lock:
            hits = self._hits.get(key)
            if hits:
                hits.pop()


# KEYS[1]: the key's sorted set; ARGV: limit, window in microseconds, a unique member. Scores are
# Redis's clock in microseconds, so replicas whose clocks differ count in the same window.
_ALLOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
return 1
"""


class SharedRateLimiter:
    """Every web replica's attempts, counted in Redis."""

    def __init__(self, client: Redis, name: str, limit: int, per_seconds: float) -> None:
        self.client = client
        self.name = name
        self.limit = limit
        self.per_seconds = per_seconds
        self._allow = client.register_script(_ALLOW)
        self._fallback = RateLimiter(limit, per_seconds)

    def _key(self, key: str) -> str:
        # Keys are what clients typed (an email) or sent: hashed, so their length and bytes don't matter.
        return f"{self.name}:{hashlib.sha256(key.encode()).hexdigest()[:32]}"

    def allow(self, key: str) -> bool:
        from redis import RedisError

        try:
            window = int(self.per_seconds * 1_000_000)
            return bool(self._allow(keys=[self._key(key)], args=[self.limit, window, uuid.uuid4().hex]))
        except RedisError as exc:
            logger.warning("rate limit %s counted in this process only: Redis did not answer (%s)",
                           self.name, type(exc).__name__)
            return self._fallback.allow(key)

    def give_back(self, key: str) -> None:
        from redis import RedisError

        try:
            self.client.zpopmax(self._key(key))
        except RedisError:
            self._fallback.give_back(key)


class Limits:
    """Makes the app's limiters: shared through Redis when the settings name one, else in-process."""

    def __init__(self, settings: Settings) -> None:
        self.prefix = f"{settings.celery_queue_prefix}:ratelimit"
        self._client: Redis | None = None
        if settings.redis_url:
            from redis import Redis

            self._client = Redis.from_url(settings.redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)

    @property
    def shared(self) -> bool:
        return self._client is not None

    def limiter(self, name: str, limit: int, per_seconds: float) -> Limiter:
        if self._client is None:
            return RateLimiter(limit, per_seconds)
        return SharedRateLimiter(self._client, f"{self.prefix}:{name}", limit, per_seconds)


def app_limits(state: Any) -> Limits:
    """The web app's one `Limits` (on `app.state`), made from its settings on first use."""
    if not hasattr(state, "limits"):
        state.limits = Limits(state.runtime.settings)
    limits: Limits = state.limits
    return limits
