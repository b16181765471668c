"""Security headers on every web response (a header a route set itself is kept).

No page may be framed (clickjacking of the agent console), no response sniffed as another type, no
full URL sent as Referer to other sites (tracking links carry their token in the path: no Referer at
all from /t/), and the staff and tracking pages are never kept in a browser or proxy cache.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

EVERY_RESPONSE = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
}
NO_STORE_PREFIXES = ("/agent", "/ops", "/t/")
TRACKING_PREFIX = "/t/"


def headers_for(path: str) -> dict[str, str]:
    """The security headers a response to `path` gets unless its route chose them."""
    headers = {**EVERY_RESPONSE,
               "Referrer-Policy": "no-referrer" if path.startswith(TRACKING_PREFIX) else "same-origin"}
    if path.startswith(NO_STORE_PREFIXES):
        headers["Cache-Control"] = "no-store"
    return headers


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = headers_for(scope["path"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in extra.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
