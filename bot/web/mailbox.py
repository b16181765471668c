"""The embedded email outbox: SendGrid's v3 Mail Send API, its signed event webhook, and a mailbox page.

The SendGrid library posts here when EMAIL_PROVIDER=outbox (the default); everything answers 404
once real SendGrid is configured, and the mailbox pages also unless the whole deployment is the demo.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, BackgroundTasks, Depends, Header, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import select

from bot.core.models import OutboxMessage
from bot.demo.outbox import record
from bot.notify.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, outbox_sign
from bot.web.deps import DemoOnly, SessionDep, SettingsDep
from bot.web.inputs import RowId, load_json
from bot.web.pages import render

MAX_MAIL = 512 * 1024


def require_email_outbox(request: Request) -> None:
    if request.app.state.runtime.settings.email_provider != "outbox":
        raise HTTPException(status_code=404)


router = APIRouter(dependencies=[Depends(require_email_outbox)])


def _errors(status: int, message: str, field: str | None = None) -> JSONResponse:
    """SendGrid's error body: {"errors": [{"message", "field", "help"}]}."""
    return JSONResponse({"errors": [{"message": message, "field": field, "help": None}]}, status_code=status)


def _first_address(mail: dict[str, Any]) -> str | None:
    try:
        return str(mail["personalizations"][0]["to"][0]["email"])
    except (KeyError, IndexError, TypeError):
        return None


async def _post_events(url: str, secret: str, events: list[dict[str, Any]]) -> None:
    body = json.dumps(events)
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: outbox_sign(secret, timestamp, body),
               TIMESTAMP_HEADER: timestamp}
    async with httpx.AsyncClient(timeout=5.0) as client:
        try:
            await client.post(url, content=body, headers=headers)
        except httpx.HTTPError:
            return


@router.post("/outbox/sendgrid/v3/mail/send")
async def mail_send(request: Request, session: SessionDep, settings: SettingsDep, background: BackgroundTasks,
                    authorization: Annotated[str | None, Header()] = None) -> Response:
    if not authorization or not secrets.compare_digest(authorization, f"Bearer {settings.outbox_auth_token}"):
        return _errors(401, "The provided authorization grant is invalid, expired, or revoked")
    raw = await request.body()
    if len(raw) > MAX_MAIL:
        return _errors(413, "The JSON payload is too large")
    try:
        mail = load_json(raw)
    except ValueError:
        return _errors(400, "Bad Request")
    to = _first_address(mail) if isinstance(mail, dict) else None
    if not to or "@" not in to:
        return _errors(400, "The to array is required for all personalization objects, and must have at least "
                            "one email object with a valid email address.", "personalizations.0.to")
    sender = (mail.get("from") or {}).get("email") if isinstance(mail.get("from"), dict) else None
    if not sender:
        return _errors(400, "The from object must be provided for every email send.", "from")
    contents = {c.get("type"): c.get("value", "") for c in mail.get("content") or [] if isinstance(c, dict)}
    if not mail.get("subject") or not contents:
        return _errors(400, "The subject and content are required.", "subject")
    message_id = secrets.token_urlsafe(16)
    custom_args = {k: str(v) for k, v in (mail.get("custom_args") or {}).items()}
    attachments = []
    for item in mail.get("attachments") or []:
        if not isinstance(item, dict) or not item.get("content") or not item.get("filename"):
            return _errors(400, "The attachment content and filename are required.", "attachments")
        try:
            size = len(base64.b64decode(str(item["content"]), validate=True))
        except (binascii.Error, ValueError):
            return _errors(400, "The attachment content must be base64 encoded.", "attachments.content")
        attachments.append({"filename": str(item["filename"])[:120], "type": str(item.get("type") or ""),
                            "bytes": size})
    message = record(session, channel="email", to=to, sender=sender, body=contents.get("text/plain", ""),
                     subject=str(mail["subject"])[:200], sid=f"SG{message_id}"[:40])
    message.html = contents.get("text/html")
    message.meta = {"custom_args": custom_args, "message_id": message_id, "attachments": attachments}
    session.commit()
    now = int(time.time())
    base = {"email": to, "timestamp": now, "sg_message_id": f"{message_id}.outbox", **custom_args}
    events = [{**base, "event": "processed", "sg_event_id": secrets.token_urlsafe(12)},
              {**base, "event": "delivered", "sg_event_id": secrets.token_urlsafe(12), "response": "250 OK"}]
    background.add_task(_post_events, f"{settings.web_internal_url}/webhooks/sendgrid/events",
                        settings.outbox_auth_token, events)
    return Response(status_code=202, headers={"X-Message-Id": message_id})


@router.get("/demo/mailbox", response_class=HTMLResponse, dependencies=[DemoOnly])
def mailbox(session: SessionDep, to: str | None = None) -> HTMLResponse:
    query = select(OutboxMessage).where(OutboxMessage.channel == "email")
    if to:
        query = query.where(OutboxMessage.to_address == to)
    mails = session.scalars(query.order_by(OutboxMessage.id.desc()).limit(200)).all()
    return render("mailbox.html", mails=mails, to=to)


@router.get("/demo/mailbox/{message_id}", response_class=HTMLResponse, dependencies=[DemoOnly])
def mail_html(message_id: RowId, session: SessionDep) -> HTMLResponse:
    mail = session.get(OutboxMessage, message_id)
    if mail is None or mail.channel != "email":
        raise HTTPException(status_code=404)
    return HTMLResponse(mail.html or "<p>(no HTML part)</p>",
                        headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})
