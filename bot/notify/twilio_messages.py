"""Creating a Twilio message on the hot path: one form-encoded POST to the Messages resource
(`POST /2010-04-01/Accounts/{AccountSid}/Messages.json`), the request the Twilio SDK makes, without
its per-call layers.

Why not the SDK here: a morning wave sends thousands of messages a second from two workers, and
profiling one worker (py-spy) put a third of its time in the SDK's request path (its parameter
mapping, aiohttp's form builder, the message resource parsed field by field) for a call whose answer
we read one field of, the message SID. Everything else (the message list that reconciles a lost send,
WhatsApp) still goes through the SDK.

Twilio's answer is outside input: an error is classified from its status and Twilio's error body
(`{"code", "message", "more_info", "status"}`) when there is one; a success without a well-formed
SID is not taken for a send we can name, and goes to reconciliation.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlencode

import aiohttp
from twilio.base.exceptions import TwilioRestException

KEEPALIVE_SECONDS = 4.0
SID = re.compile(r"^(SM|MM)[0-9a-fA-F]{32}$")


class MessageUnreadable(Exception):
    """Twilio answered 2xx, but not with a message resource we can name (no SID): it may have the message."""


class TwilioMessages:
    """The Messages resource of one account, over one pooled aiohttp session (opened on first use,
    in the running event loop)."""

    def __init__(self, *, account_sid: str, auth_token: str, api_base: str) -> None:
        self.url = f"{api_base.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self._headers = {
            "Authorization": aiohttp.encode_basic_auth(account_sid, auth_token),
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
            "User-Agent": "doorstep-notify",
        }
        self._session: aiohttp.ClientSession | None = None

    async def create(self, form: list[tuple[str, str]]) -> str:
        """Send one message (`form`: Twilio's parameters, `MediaUrl` repeatable); its SID.

        Raises TwilioRestException for an error answer, MessageUnreadable for a 2xx without a SID,
        aiohttp/OS errors as they come (the caller tells a refused connection from a lost answer)."""
        if self._session is None:
            # A pooled connection idle longer than the server keeps it may already be closed on its side
            # (uvicorn: 5 s); a POST on it fails with the request half-written and the message in doubt.
            # The event loop can sit in a batch's database work for seconds, so idle connections are
            # dropped after KEEPALIVE_SECONDS, judged when one is taken from the pool.
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(
                limit=0, ttl_dns_cache=300, keepalive_timeout=KEEPALIVE_SECONDS))
        async with self._session.post(self.url, data=urlencode(form).encode(), headers=self._headers,
                                      allow_redirects=False) as response:
            raw = await response.read()
            status = response.status
        payload = _json(raw)
        if status >= 400 or status < 200:
            code = payload.get("code")
            message = payload.get("message")
            raise TwilioRestException(status, self.url, msg=str(message)[:500] if message else f"HTTP {status}",
                                      code=code if isinstance(code, int) and not isinstance(code, bool) else None,
                                      method="POST")
        sid = payload.get("sid")
        if not isinstance(sid, str) or not SID.match(sid):
            raise MessageUnreadable(f"twilio {status} without a message SID: {raw[:200]!r}")
        return sid

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _json(raw: bytes) -> dict[str, Any]:
    """The answer's JSON object; {} for anything else (an HTML error page from a proxy, garbage)."""
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return {}
    return payload if isinstance(payload, dict) else {}
