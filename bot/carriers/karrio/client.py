"""HTTP for the karrio carriers (UPS, FedEx, DHL Express): karrio's proxy role, done with httpx. No mapping.

karrio splits a connector into a mapper (pure: build a carrier request, parse its response) and a proxy
(HTTP only). Its proxies speak through urllib's process-wide `urlopen`, with no timeout, and report
failures as messages. So we keep karrio's mappers and give each adapter its own proxy here: its own
`httpx.Client` (our timeout, no shared state), the carrier's endpoints and authentication as karrio's
proxies call them, and karrio's own `Serializable`/`Deserializable` in and out. An answer that means the
carrier is unavailable (a timeout, a refused connection, a 429 or 5xx) is `CarrierUnavailable` at once;
any other answer, a 4xx included, goes back to the mapper, which reads the carrier's own error body.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol

import httpx

from bot.carriers.errors import CarrierError, CarrierUnavailable
from bot.carriers.karrio.sdk import lib

TOKEN_MARGIN = 60.0  # seconds: a token this close to expiry is fetched anew


class KarrioHttp(Protocol):
    """What the adapter needs of a carrier's proxy: tracking and (return) shipments."""

    def get_tracking(self, request: Any) -> Any: ...

    def create_shipment(self, request: Any) -> Any: ...

    def close(self) -> None: ...


class _Http:
    """One adapter's HTTP: its server, our timeout; unavailable answers raised, all others returned as text."""

    def __init__(self, name: str, server_url: str, timeout: float, transport: httpx.BaseTransport | None) -> None:
        self.name = name
        self.server_url = server_url.rstrip("/")
        self._http = httpx.Client(timeout=httpx.Timeout(timeout), transport=transport,
                                  headers={"User-Agent": "doorstep-karrio-adapter/1"})

    def close(self) -> None:
        self._http.close()

    def send(self, method: str, path: str, *, headers: dict[str, str], content: str | bytes | None = None) -> httpx.Response:
        try:
            response = self._http.request(method, self.server_url + path, headers=headers, content=content)
        except httpx.TimeoutException as exc:
            raise CarrierUnavailable(f"{self.name}: timed out") from exc
        except httpx.TransportError as exc:
            raise CarrierUnavailable(f"{self.name}: {type(exc).__name__}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise CarrierUnavailable(f"{self.name}: HTTP {response.status_code}")
        return response


class _Token:
    """An OAuth client-credentials token, kept per adapter until shortly before it expires."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value: str | None = None
        self._expires = 0.0

    def get(self, fetch: Callable[[], tuple[str, float]]) -> str:
        with self._lock:
            if self._value is None or time.monotonic() > self._expires:
                self._value, lifetime = fetch()
                self._expires = time.monotonic() + max(0.0, lifetime - TOKEN_MARGIN)
            return self._value


def _token_from(name: str, response: httpx.Response) -> tuple[str, float]:
    try:
        body = response.json()
        return str(body["access_token"]), float(body.get("expires_in") or 0)
    except (ValueError, KeyError, TypeError) as exc:
        raise CarrierError(f"{name} refused our credentials (HTTP {response.status_code})") from exc


class UpsHttp(_Http):
    """UPS's OAuth, Track API v1 and Shipping API v2409."""

    def __init__(self, settings: Any, timeout: float, transport: httpx.BaseTransport | None = None) -> None:
        super().__init__("ups", settings.server_url, timeout, transport)
        self._settings = settings
        self._token = _Token()

    def _bearer(self) -> str:
        def fetch() -> tuple[str, float]:
            response = self.send("POST", "/security/v1/oauth/token", content="grant_type=client_credentials", headers={
                "authorization": f"Basic {self._settings.authorization}",
                "content-type": "application/x-www-form-urlencoded"})
            return _token_from(self.name, response)

        return f"Bearer {self._token.get(fetch)}"

    def get_tracking(self, request: Any) -> Any:
        source = "karrio-test" if self._settings.test_mode else "karrio-prod"
        answers = []
        for number in request.serialize():
            response = self.send("GET", f"/api/track/v1/details/{number}?locale=en_US&returnSignature=true", headers={
                "authorization": self._bearer(), "content-type": "application/json",
                "transId": str(uuid.uuid4()), "transactionSrc": source})
            answers.append((number, response.text))
        return lib.Deserializable(answers, lambda res: [(n, lib.to_dict(data)) for n, data in res if data.strip()])

    def create_shipment(self, request: Any) -> Any:
        response = self.send("POST", "/api/shipments/v2409/ship", content=lib.to_json(request.serialize()), headers={
            "authorization": self._bearer(), "content-type": "application/json"})
        return lib.Deserializable(response.text, lib.to_dict, request.ctx)


class FedexHttp(_Http):
    """FedEx's OAuth (one token for tracking, one for shipping), Track API and Ship API."""

    def __init__(self, settings: Any, timeout: float, transport: httpx.BaseTransport | None = None) -> None:
        super().__init__("fedex", settings.server_url, timeout, transport)
        self._settings = settings
        self._tokens = {"track_auth": _Token(), "shipping_auth": _Token()}

    def _bearer(self, request: Any) -> str:
        kind = (request.ctx or {}).get("auth_type", "shipping_auth")
        settings = self._settings
        client_id, secret = ((settings.track_api_key, settings.track_secret_key) if kind == "track_auth"
                             else (settings.api_key, settings.secret_key))
        if not client_id or not secret:
            raise CarrierError(f"fedex: no credentials for {kind}")

        def fetch() -> tuple[str, float]:
            form = httpx.QueryParams({"grant_type": "client_credentials", "client_id": client_id,
                                      "client_secret": secret})
            response = self.send("POST", "/oauth/token", content=str(form),
                                 headers={"content-type": "application/x-www-form-urlencoded"})
            return _token_from(self.name, response)

        return f"Bearer {self._tokens[kind].get(fetch)}"

    def _post(self, path: str, request: Any) -> str:
        response = self.send("POST", path, content=lib.to_json(request.serialize()), headers={
            "x-locale": "en_US", "content-type": "application/json", "authorization": self._bearer(request)})
        return response.text

    def get_tracking(self, request: Any) -> Any:
        return lib.Deserializable(self._post("/track/v1/trackingnumbers", request), lib.to_dict)

    def create_shipment(self, request: Any) -> Any:
        return lib.Deserializable(self._post("/ship/v1/shipments", request), lib.to_dict, request.ctx)


class DhlExpressHttp(_Http):
    """DHL Express XML-PI: every request is an XML document posted to one servlet."""

    def __init__(self, settings: Any, timeout: float, transport: httpx.BaseTransport | None = None) -> None:
        super().__init__("dhl_express", settings.server_url, timeout, transport)

    def _post(self, request: Any) -> str:
        return self.send("POST", "/XMLShippingServlet", content=request.serialize(),
                         headers={"Content-Type": "application/xml"}).text

    def get_tracking(self, request: Any) -> Any:
        return lib.Deserializable(self._post(request), lib.to_element)

    def create_shipment(self, request: Any) -> Any:
        return lib.Deserializable(self._post(request), lib.to_element, request.ctx)


PROXIES: dict[str, type[UpsHttp] | type[FedexHttp] | type[DhlExpressHttp]] = {
    "ups": UpsHttp, "fedex": FedexHttp, "dhl_express": DhlExpressHttp,
}


def http_for(carrier: str, settings: Any, timeout: float, transport: httpx.BaseTransport | None = None) -> KarrioHttp:
    """The proxy for one karrio carrier; a carrier we have no proxy for cannot be switched on."""
    proxy = PROXIES.get(carrier)
    if proxy is None:
        raise ValueError(f"karrio carrier {carrier!r} is not supported (one of {', '.join(sorted(PROXIES))})")
    return proxy(settings, timeout, transport)
