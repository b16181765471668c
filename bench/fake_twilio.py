"""A local stand-in for Twilio's Messages API, for fault tests and the notification benchmark.

It answers as the real API does (form-encoded create, JSON message resources, Twilio's error body
with its codes) and counts what it received, so a test can say "each message exactly once". Faults
are scripted: `fail_next` answers the next requests with 500, 429 or a hang (a timeout for the
client), and `refuse` makes numbers answer 21610 (unsubscribed) or 21211 (invalid) for good.

Run alone (the benchmark does, on its own core):  python -m bench.fake_twilio --port 8765
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import secrets
import threading
from collections import Counter, deque
from typing import Any
from urllib.parse import parse_qs

ACCOUNT_SID = "ACfake00000000000000000000000000"
AUTH_TOKEN = "fake-auth-token"
ERRORS = {
    21211: (400, "The 'To' number is not a valid phone number."),
    21610: (400, "Attempt to send to unsubscribed recipient"),
    20003: (401, "Authenticate"),
    20429: (429, "Too Many Requests"),
    20500: (500, "Internal Server Error"),
}


async def read_body(receive: Any) -> bytes:
    """An ASGI request's whole body, however many messages it came in."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


class FakeTwilio:
    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN, hang_seconds: float = 30.0,
                 delay_seconds: float = 0.0, prefix: str = "") -> None:
        self.account_sid, self.prefix = account_sid, prefix
        self._auth = "Basic " + base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()
        self.received: Counter[tuple[str, str]] = Counter()  # (to, body) -> accepted count
        self.messages: list[dict[str, Any]] = []
        self.attempts = 0
        self.faults: deque[str] = deque()
        self.refuse: dict[str, int] = {}
        self.hang_seconds, self.delay_seconds = hang_seconds, delay_seconds
        self.hold_from: int | None = None  # see `hold_after`
        self.held = 0
        self._released = threading.Event()

    def hold_after(self, accepted: int) -> None:
        """Accept this many messages, then keep every later send waiting, unanswered and not stored,
        until `release` (called from any thread): a sender stuck mid-batch, for fault tests."""
        self.hold_from, self.held = accepted, 0
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    def fail_next(self, *faults: str) -> None:
        """Answer the next requests with these, in order: "500", "429", "hang" (then 500), "slow" (the
        message is accepted and stored, the answer comes only after `hang_seconds`)."""
        self.faults.extend(faults)

    @property
    def duplicates(self) -> int:
        return sum(count - 1 for count in self.received.values() if count > 1)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        status, payload = await self.handle(scope, body)
        data = json.dumps(payload).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]})
        await send({"type": "http.response.body", "body": data})

    def _error(self, code: int) -> tuple[int, dict[str, Any]]:
        status, message = ERRORS[code]
        return status, {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
                        "status": status}

    async def handle(self, scope: dict[str, Any], body: bytes) -> tuple[int, dict[str, Any]]:
        path, method = scope["path"], scope["method"]
        headers = dict(scope["headers"])
        if path == "/_stats":
            return 200, {"accepted": sum(self.received.values()), "unique": len(self.received),
                         "duplicates": self.duplicates, "attempts": self.attempts}
        expected = f"{self.prefix}/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        if path != expected:
            return 404, {"code": 20404, "message": "The requested resource was not found", "status": 404}
        if headers.get(b"authorization", b"").decode() != self._auth:
            return self._error(20003)
        if method == "GET":
            query = parse_qs(scope.get("query_string", b"").decode())
            to = (query.get("To") or [""])[0]
            found = [m for m in self.messages if not to or m["to"] == to]
            return 200, {"messages": found[-1000:], "page": 0, "page_size": 1000, "next_page_uri": None,
                         "previous_page_uri": None, "first_page_uri": expected, "uri": expected, "start": 0,
                         "end": max(len(found) - 1, 0)}
        self.attempts += 1
        if self.hold_from is not None and sum(self.received.values()) >= self.hold_from:
            self.held += 1
            while not self._released.is_set():
                await asyncio.sleep(0.01)
            self.held -= 1
        slow = bool(self.faults) and self.faults[0] == "slow"
        if self.faults and not slow:
            fault = self.faults.popleft()
            if fault == "hang":
                await asyncio.sleep(self.hang_seconds)
            return self._error(20429 if fault == "429" else 20500)
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        to, text = form.get("To", ""), form.get("Body", "")
        if not to.startswith("+") or not to[1:].isdigit():
            return self._error(21211)
        if to in self.refuse:
            return self._error(self.refuse[to])
        sid = "SM" + secrets.token_hex(16)
        message = {"sid": sid, "account_sid": self.account_sid, "to": to, "from": form.get("From"),
                   "messaging_service_sid": form.get("MessagingServiceSid"), "body": text, "status": "queued",
                   "num_segments": "1", "num_media": "0", "direction": "outbound-api", "api_version": "2010-04-01",
                   "price": None, "price_unit": "USD", "error_code": None, "error_message": None,
                   "date_created": None, "date_updated": None, "date_sent": None,
                   "uri": f"{expected[:-5]}/{sid}.json", "subresource_uris": {}}
        self.received[(to, text)] += 1
        self.messages.append(message)
        if slow:
            self.faults.popleft()
            await asyncio.sleep(self.hang_seconds)  # stored, but the client gives up waiting
        return 201, message


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--account-sid", default=ACCOUNT_SID)
    parser.add_argument("--auth-token", default=AUTH_TOKEN)
    parser.add_argument("--prefix", default="", help="path before /2010-04-01 (the outbox's is /outbox/twilio)")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds each send takes")
    args = parser.parse_args()
    fake = FakeTwilio(args.account_sid, args.auth_token, delay_seconds=args.delay, prefix=args.prefix)
    uvicorn.run(fake, host="127.0.0.1", port=args.port, log_level="warning", access_log=False,
                loop="uvloop", http="httptools")


if __name__ == "__main__":
    main()
