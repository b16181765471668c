"""A client that hangs up in the middle of its body (a provider's callback giving up) is not a server error."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx
import pytest

from bot.core.schema import migrate
from tests.conftest import make_settings
from tests.test_web import LiveServer


def test_a_body_cut_short_by_the_client_is_not_logged_as_a_server_error(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    migrate(url)
    with LiveServer(make_settings(url)) as server:
        for path in ("/webhooks/twilio/status?n=1", "/webhooks/sendgrid/events", "/webhooks/carriers/sandbox"):
            with socket.create_connection(("127.0.0.1", server.port)) as sock:
                sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded"
                             "\r\nContent-Length: 4000\r\n\r\nMessageStatus=deliv".encode())
            time.sleep(0.3)  # the server notices the hang-up while reading
        assert httpx.get(f"{server.url}/api/openapi.json").status_code == 200  # still serving
    logged = capfd.readouterr().err  # uvicorn logs server errors to stderr
    assert "Exception in ASGI application" not in logged and "ClientDisconnect" not in logged
