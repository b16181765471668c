"""Per-client token buckets for the REST and web chat channels (standard library only: Rasa runtime).

Each client may send `burst` messages at once, then `per_minute` a minute. Buckets live in this
process (one Rasa process per conversation's traffic, as the load balancer routes it); the quietest
clients are forgotten beyond `max_clients`, which only ever gives a client a full bucket again.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any, Callable, Mapping, Tuple


class TokenBuckets:
    def __init__(self, per_minute: float, burst: int, *, max_clients: int = 50_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError("per_minute must be positive and burst at least 1")
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.max_clients = max_clients
        self.clock = clock
        self._buckets: "OrderedDict[str, Tuple[float, float]]" = OrderedDict()  # client -> (tokens, at)

    def allow(self, client: str) -> bool:
        """Take one token for `client`; False when its bucket is empty (nothing is taken then)."""
        now = self.clock()
        tokens, at = self._buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        allowed = tokens >= 1.0
        self._buckets[client] = (tokens - 1.0 if allowed else tokens, now)
        if len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return allowed

    def retry_after(self, client: str) -> int:
        """Whole seconds until `client` may send again (for a Retry-After header)."""
        tokens, _ = self._buckets.get(client, (self.burst, 0.0))
        return max(1, int((1.0 - tokens) / self.rate + 0.999))

    @classmethod
    def from_credentials(cls, credentials: Mapping[str, Any]) -> "TokenBuckets":
        """`messages_per_minute` and `burst` from credentials.yml (set from the app's settings by
        `python -m bot launch rasa`); the settings' defaults when absent."""
        return cls(float(credentials.get("messages_per_minute") or 20), int(credentials.get("burst") or 10))


def client_address(remote_addr: str, peer_ip: str) -> str:
    """The client as Sanic sees it: the proxied address when a proxy is configured to be trusted
    (SANIC_PROXIES_COUNT / SANIC_REAL_IP_HEADER / SANIC_FORWARDED_SECRET), else the peer."""
    return (remote_addr or peer_ip or "unknown").strip("[]")
