"""Issue 12 re-test, finding 5: the web app's pages had no security headers. Every page now forbids
framing and type sniffing and keeps its URL to itself; staff and tracking pages are never cached.
Against the real web process."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from bot.processes.devstack import Stack
from bot.web.headers import SecurityHeaders

pytestmark = pytest.mark.e2e
PAGES = ["/", "/chat", "/agent", "/agent/login", "/agent/dashboard", "/ops/notifications", "/t/not-a-token",
         "/static/console.css", "/api/openapi.json"]
PRIVATE_PAGES = ["/agent", "/agent/login", "/agent/dashboard", "/ops/notifications", "/t/not-a-token"]


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    stack = Stack(Path(tmp_path_factory.mktemp("retest-headers")), processes=("web",))
    try:
        stack.start()
        with httpx.Client(base_url=stack.settings.web_internal_url, timeout=30) as client:
            yield client
    finally:
        stack.stop()


@pytest.mark.parametrize("path", PAGES)
def test_no_page_can_be_framed_or_sniffed(web: httpx.Client, path: str) -> None:
    headers = web.get(path).headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["Referrer-Policy"] in {"same-origin", "no-referrer"}


@pytest.mark.parametrize("path", PRIVATE_PAGES)
def test_staff_and_tracking_pages_are_never_cached(web: httpx.Client, path: str) -> None:
    assert "no-store" in web.get(path).headers["Cache-Control"]


def test_a_tracking_page_sends_no_referrer(web: httpx.Client) -> None:
    assert web.get("/t/not-a-token").headers["Referrer-Policy"] == "no-referrer"
    assert web.get("/chat").headers["Referrer-Policy"] == "same-origin"


def test_a_header_a_route_chose_is_kept() -> None:
    app = FastAPI()

    @app.get("/agent/own")
    def own() -> HTMLResponse:
        return HTMLResponse("<p>hi</p>", headers={"Content-Security-Policy": "default-src 'none'",
                                                  "Cache-Control": "private, max-age=5"})

    app.add_middleware(SecurityHeaders)

    async def fetch() -> httpx.Headers:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://web") as client:
            return (await client.get("/agent/own")).headers

    headers = asyncio.run(fetch())
    assert headers["Content-Security-Policy"] == "default-src 'none'"
    assert headers["Cache-Control"] == "private, max-age=5"
    assert headers["X-Frame-Options"] == "DENY"
