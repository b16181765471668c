"""Server-sent events from a polled source: send the value whenever it changes.

A stream ends when the client goes, when `produce` returns None (e.g. the session ended), or after
`max_seconds` (the browser's EventSource reconnects by itself), so no stream outlives a deploy for long.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse

HEARTBEAT_SECONDS = 15.0


def event_stream(request: Request, produce: Callable[[], Awaitable[Any]], *, interval: float = 1.0,
                 max_seconds: float = 300.0) -> StreamingResponse:
    async def events() -> AsyncIterator[str]:
        yield "retry: 1500\n\n"
        started = last_beat = time.monotonic()
        last = None
        while time.monotonic() - started < max_seconds and not await request.is_disconnected():
            value = await produce()
            if value is None:
                yield "event: end\ndata: {}\n\n"
                return
            payload = json.dumps(value, sort_keys=True, default=str)
            if payload != last:
                last = payload
                yield f"data: {payload}\n\n"
            elif time.monotonic() - last_beat > HEARTBEAT_SECONDS:
                last_beat = time.monotonic()
                yield ": keep-alive\n\n"
            await asyncio.sleep(interval)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
