"""Robustness shared by every remote adapter: a circuit breaker per carrier and retries for idempotent calls.

Timeouts belong to each adapter's HTTP client (the SDKs differ); this module sees only our own error
types. A call that fails because the carrier did not answer (`CarrierUnavailable`) counts against the
breaker; an answer that refuses (`ChangeRefused`, `UnknownShipment`) proves the carrier is up.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from bot.carriers.errors import CarrierError, CarrierUnavailable

logger = logging.getLogger("doorstep.carriers")
T = TypeVar("T")


class CircuitBreaker:
    """Closed until `failures` calls in a row fail; then open (fail fast) for `cool_off` seconds; then one trial."""

    def __init__(self, name: str, *, failures: int = 5, cool_off: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.failures = failures
        self.cool_off = cool_off
        self._clock = clock
        self._lock = threading.Lock()
        self._count = 0
        self._opened_at: float | None = None
        self._trial = False

    @property
    def is_open(self) -> bool:
        with self._lock:
            return self._opened_at is not None and self._clock() - self._opened_at < self.cool_off

    def before_call(self) -> None:
        with self._lock:
            if self._opened_at is None:
                return
            if self._clock() - self._opened_at < self.cool_off or self._trial:
                raise CarrierUnavailable(f"carrier {self.name} is down (circuit open)")
            self._trial = True  # half-open: let exactly one call find out

    def succeeded(self) -> None:
        with self._lock:
            self._count, self._opened_at, self._trial = 0, None, False

    def failed(self) -> None:
        with self._lock:
            self._count += 1
            if self._trial or self._count >= self.failures:
                if self._opened_at is None or self._trial:
                    logger.warning("carrier %s is down after %d failures: failing fast for %.0f s",
                                   self.name, self._count, self.cool_off)
                self._opened_at, self._trial = self._clock(), False


class Guard:
    """Runs one adapter call: breaker first, retries with backoff only when the call is idempotent."""

    def __init__(self, name: str, *, failures: int = 5, cool_off: float = 60.0, attempts: int = 3,
                 backoff: float = 0.2) -> None:
        self.breaker = CircuitBreaker(name, failures=failures, cool_off=cool_off)
        self.attempts = max(1, attempts)
        self.backoff = backoff

    def call(self, func: Callable[[], T], *, idempotent: bool) -> T:
        self.breaker.before_call()
        try:
            if idempotent and self.attempts > 1:
                retrying = Retrying(
                    stop=stop_after_attempt(self.attempts),
                    wait=wait_exponential(multiplier=self.backoff, max=2.0),
                    retry=retry_if_exception_type(CarrierUnavailable), reraise=True,
                )
                result = retrying(self._attempt, func)
            else:
                result = self._attempt(func)
        except CarrierUnavailable:
            self.breaker.failed()
            raise
        except CarrierError:
            self.breaker.succeeded()  # the carrier answered, it just said no
            raise
        self.breaker.succeeded()
        return result

    def _attempt(self, func: Callable[[], T]) -> T:
        try:
            return func()
        except CarrierError:
            raise
        except Exception as exc:  # an SDK's own failure: the carrier's answer could not be used
            logger.warning("carrier %s: unexpected failure %s: %s", self.breaker.name, type(exc).__name__, exc)
            raise CarrierUnavailable(f"carrier {self.breaker.name} gave no usable answer") from exc


@dataclass(frozen=True)
class Robustness:
    """Per-carrier limits, from settings."""

    timeout: float = 10.0
    attempts: int = 3
    failures: int = 5
    cool_off: float = 60.0

    def guard(self, name: str) -> Guard:
        return Guard(name, failures=self.failures, cool_off=self.cool_off, attempts=self.attempts)


DEFAULT_ROBUSTNESS = Robustness()
