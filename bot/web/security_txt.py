"""/.well-known/security.txt (RFC 9116): where to report a vulnerability, when a contact is configured."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, HTTPException
from fastapi.responses import PlainTextResponse

from bot.core.models import utcnow
from bot.web.deps import RuntimeDep

router = APIRouter()
VALID_FOR = timedelta(days=365)


@router.get("/.well-known/security.txt", response_class=PlainTextResponse)
def security_txt(runtime: RuntimeDep) -> PlainTextResponse:
    settings = runtime.settings
    if not settings.security_contact:
        raise HTTPException(404, "no security contact configured (SECURITY_CONTACT)")
    expires = (utcnow() + VALID_FOR).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    body = (f"Contact: {settings.security_contact}\n"
            f"Expires: {expires}\n"
            f"Canonical: {settings.public_base_url.rstrip('/')}/.well-known/security.txt\n"
            "Preferred-Languages: en, de, nl\n")
    return PlainTextResponse(body)
