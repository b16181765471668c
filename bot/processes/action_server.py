"""The action server: rasa-sdk's app with our actions, answering only Rasa.

rasa-sdk 3.21 checks nobody (its `/webhook` runs any action for any posted tracker) and listens on
`SANIC_HOST` or 0.0.0.0. Here it listens on `ACTIONS_HOST` (loopback by default) and every request
but `/health` must carry `Authorization: Bearer <ACTION_SERVER_SECRET>`, which Rasa sends from
`endpoints.yml` (`headers`). A request without it gets 401, with a wrong one 403; no action runs.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from rasa_sdk.endpoint import create_app
from rasa_sdk.executor import ActionExecutor
from sanic import HTTPResponse, Request, Sanic, response

from bot.core.settings import Settings, get_settings

OPEN_PATHS = frozenset({"/health"})  # says {"status": "ok"}, nothing more


def secret_check(secret: str) -> Callable[[Request], Awaitable[HTTPResponse | None]]:
    """Request middleware: None lets the request through, anything else is the answer."""
    expected = f"Bearer {secret}".encode()

    async def check(request: Request) -> HTTPResponse | None:
        if request.path in OPEN_PATHS:
            return None
        given = request.headers.get("authorization")
        if not given:
            return response.json({"error": "authorization required"}, status=401)
        if not hmac.compare_digest(given.encode(), expected):
            return response.json({"error": "forbidden"}, status=403)
        return None

    return check


def build_app(settings: Settings) -> Sanic:
    executor = ActionExecutor()
    executor.register_package("actions")
    app = create_app(executor, cors_origins=None)  # only Rasa calls it: no browser, no CORS
    app.register_middleware(secret_check(settings.action_server_secret), "request")
    return app


def main() -> None:
    settings = get_settings()
    app = build_app(settings)
    app.run(host=settings.actions_host, port=settings.actions_port, single_process=True, access_log=False,
            motd=False)


if __name__ == "__main__":
    main()
