"""A small in-process sliding-window limiter (per web process; behind several replicas, also limit
at the load balancer)."""

from __future__ import annotations

import threading
import time
from collections import deque


class RateLimiter:
    def __init__(self, limit: int, per_seconds: float, *, max_keys: int = 10_000) -> None:
        self.limit = limit
        self.per_seconds = per_seconds
        self.max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        """Count one attempt for `key`; False once it has used up its attempts in the window."""
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
        """Undo the newest attempt counted for `key` (one that turned out not to count, e.g. a good login)."""
        with self._lock:
            hits = self._hits.get(key)
            if hits:
                hits.pop()
