"""The web app served for real (uvicorn in a thread) on a free port: the outbox answers the real
twilio and sendgrid libraries, and posts signed status callbacks back to the same app."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from bot.core.runtime import Runtime
from bot.processes.devstack import free_port
from bot.web.app import create_app
from tests import worlds
from tests.conftest import T0, make_settings
from tests.test_sandbox import berlin, set_sim_time


class LiveApp:
    def __init__(self, runtime: Runtime, url: str) -> None:
        self.runtime, self.url = runtime, url


def serve(app: object, port: int) -> tuple[uvicorn.Server, threading.Thread]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "the app did not start"
    return server, thread


@pytest.fixture
def live_app(tmp_path: Path) -> Iterator[LiveApp]:
    url = worlds.fresh_sqlite(tmp_path / "app.db", world_speed=30, built_at=T0)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = make_settings(url, web_internal_url=base, public_base_url=base, rasa_url="http://127.0.0.1:9",
                             outbox_undeliverable="+4915120000003")
    app = create_app(settings)
    runtime: Runtime = app.state.runtime
    set_sim_time(runtime, berlin(7, 30))
    server, thread = serve(app, port)
    yield LiveApp(runtime, base)
    server.should_exit = True
    thread.join(timeout=5)
    runtime.engine.dispose()


def wait_for(predicate, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


__all__ = ["LiveApp", "httpx", "live_app", "wait_for"]
