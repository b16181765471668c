"""Runs in the Rasa runtime (.venv-rasa): the action-server sessions kept by addons/speedups.py, against
a local HTTP server that answers with the Authorization header it got and the client's port. One line
per case."""

import asyncio
import gc
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import rasa.core.run
from aiohttp import web
from rasa.utils.endpoints import EndpointConfig

import addons  # noqa: F401  (installs the add-ons, as Rasa does when it loads our channels)

failures = 0


def report(name: str, ok: bool, detail: str = "") -> None:
    global failures
    failures += not ok
    print(f"sessions {name} ok={ok} {detail}")


async def echo(request: web.Request) -> web.Response:
    port = request.transport.get_extra_info("peername")[1] if request.transport else 0
    return web.Response(text=f"{request.headers.get('Authorization')} {port}")


async def serve() -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_get("/", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}/"


def endpoint(token: str, url: str) -> EndpointConfig:
    return EndpointConfig(url=url, headers={"Authorization": f"Bearer {token}"})


async def call(config: EndpointConfig, url: str) -> tuple[str, str, Any]:
    """(Authorization the server got, the client's port, the session used), as Rasa calls an endpoint."""
    async with config.session() as session, session.get(url) as response:
        auth, port = (await response.text()).rsplit(" ", 1)
    return auth, port, session


async def stop_server(app: Any) -> None:
    """What the Rasa server does when it stops: its `after_server_stop` listener."""
    await rasa.core.run.close_resources(app, asyncio.get_running_loop())


async def one_server_life() -> list[Any]:
    runner, url = await serve()
    used = []
    try:
        first = endpoint("first", url)
        auth, port_1, session = await call(first, url)
        used.append(session)
        report("own_credentials", auth == "Bearer first", auth)
        twin = endpoint("first", url)
        auth, port_2, session = await call(twin, url)
        used.append(session)
        report("same_credentials_share_a_connection", auth == "Bearer first" and port_1 == port_2, f"{port_1} {port_2}")

        # An endpoint made where a freed one was (same id()) must not get the freed one's session.
        old_id = id(first)
        del first, twin
        gc.collect()
        candidates = [endpoint("second", url) for _ in range(20000)]
        second = next((c for c in candidates if id(c) == old_id), candidates[0])
        del candidates
        auth, _, session = await call(second, url)
        used.append(session)
        report("new_endpoint_own_credentials", auth == "Bearer second", f"{auth} same_id={id(second) == old_id}")
    finally:
        await stop_server(SimpleNamespace(ctx=SimpleNamespace()))  # no agent loaded: Rasa's part does nothing
        await runner.cleanup()
    return used


# Two server lives, each on its own event loop: a session made on the first loop is never used on the second.
for life in (1, 2):
    used = asyncio.run(one_server_life())
    report(f"closed_when_the_server_stops_{life}", all(s.closed for s in used), str([s.closed for s in used]))
sys.exit(1 if failures else 0)
