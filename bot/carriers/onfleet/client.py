"""HTTP to Onfleet's REST API (v2) with httpx: the adapter's own base URL, key and timeout. No mapping.

Onfleet's wire format as its SDK, pyonfleet, speaks it: HTTP Basic with the API key as the user name,
JSON bodies, `GET /tasks/:id`, `POST /tasks/metadata`, `PUT /tasks/:id`. We don't use the SDK: it builds
every URL from a module constant, shares one `requests.Session` across the process, sets no timeout and
retries a 429 eight times for minutes. Each `OnfleetClient` is independent of every other; retries and
the circuit breaker are the adapter's (`bot.carriers.resilience`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from bot.carriers.errors import CarrierUnavailable


class OnfleetClient:
    def __init__(self, *, api_key: str, api_url: str, timeout: float,
                 transport: httpx.BaseTransport | None = None) -> None:
        self._http = httpx.Client(base_url=api_url.rstrip("/"), auth=(api_key, ""), timeout=httpx.Timeout(timeout),
                                  headers={"Content-Type": "application/json", "Accept": "application/json",
                                           "User-Agent": "doorstep-onfleet-adapter/1"},
                                  transport=transport)

    @property
    def api_url(self) -> str:
        return str(self._http.base_url).rstrip("/")

    def close(self) -> None:
        self._http.close()

    def __repr__(self) -> str:  # no key in logs
        return f"OnfleetClient(api_url={self.api_url!r})"

    def get_task(self, task_id: str) -> httpx.Response:
        return self._send("GET", f"/tasks/{quote(task_id, safe='')}")

    def match_metadata(self, query: list[dict[str, Any]]) -> httpx.Response:
        return self._send("POST", "/tasks/metadata", json=query)

    def update_task(self, task_id: str, body: dict[str, Any]) -> httpx.Response:
        return self._send("PUT", f"/tasks/{quote(task_id, safe='')}", json=body)

    def _send(self, method: str, path: str, *, json: Any = None) -> httpx.Response:
        try:
            return self._http.request(method, path, json=json)
        except httpx.TimeoutException as exc:
            raise CarrierUnavailable("onfleet: timed out") from exc
        except httpx.TransportError as exc:
            raise CarrierUnavailable(f"onfleet: {type(exc).__name__}") from exc
