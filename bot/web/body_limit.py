"""One limit on request bodies for the whole web app, before any route reads them.

A declared Content-Length over the limit is refused at once; a body without one (chunked) is counted
as it arrives and refused when it passes the limit, so no route ever holds more than the limit in
memory. Routes keep their own, smaller limits (webhooks: 64 KB)."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_REQUEST_BYTES = 1024 * 1024  # above every route's own limit (the demo mailbox's 512 KB)
TOO_LARGE = "request body too large"


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int = MAX_REQUEST_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > self.max_bytes:
            await JSONResponse({"detail": TOO_LARGE}, status_code=413)(scope, receive, send)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413, TOO_LARGE)  # a route reading the body answers 413
            return message

        async def noted_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, noted_send)
        except HTTPException as exc:
            if exc.status_code != 413 or started:
                raise
            await JSONResponse({"detail": TOO_LARGE}, status_code=413)(scope, receive, send)
