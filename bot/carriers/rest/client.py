"""HTTP to a carrier that implements our REST contract: httpx, its base URL, our timeout, its key. No mapping."""

from __future__ import annotations

from typing import Any

import httpx

from bot.carriers.errors import CarrierUnavailable


class RestClient:
    """One carrier's HTTP client; an unanswered call (timeout, refused connection) is `CarrierUnavailable`."""

    def __init__(self, *, name: str, base_url: str, api_key: str, timeout: float,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.name = name
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"), timeout=httpx.Timeout(timeout),
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json",
                     "User-Agent": "doorstep-rest-adapter/1"},
            transport=transport,
        )

    @property
    def base_url(self) -> str:
        return str(self._http.base_url)

    def close(self) -> None:
        self._http.close()

    def __repr__(self) -> str:  # no key in logs
        return f"RestClient(name={self.name!r}, base_url={self.base_url!r})"

    def send(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None) -> httpx.Response:
        try:
            return self._http.request(method, path, json=json, params=params)
        except httpx.TimeoutException as exc:
            raise CarrierUnavailable(f"{self.name}: timed out") from exc
        except httpx.TransportError as exc:
            raise CarrierUnavailable(f"{self.name}: {type(exc).__name__}") from exc
