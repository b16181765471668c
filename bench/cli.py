"""How a long benchmark runs as a program: SIGTERM stops it like Ctrl-C, so its `finally` blocks
stop every process it started, and an interrupted run writes no results."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from typing import NoReturn


def _terminate(signum: int, frame: object) -> NoReturn:
    raise KeyboardInterrupt  # so the finally blocks stop what was started


def run(main: Callable[[], int]) -> NoReturn:
    """Run `main` and exit with its status (130 when interrupted)."""
    signal.signal(signal.SIGTERM, _terminate)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted: everything started was stopped, no results written", file=sys.stderr)
        sys.exit(130)
