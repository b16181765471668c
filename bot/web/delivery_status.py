"""Delivery status from the providers: Twilio's status callbacks and SendGrid's signed event webhook.

Both are checked before anything is read (403 and no change otherwise). A status only moves a
message forward (queued → sent → delivered | failed); a late "sent" after "delivered" changes nothing.
An SMS that ends undelivered falls back to email, as a refused send does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from twilio.request_validator import RequestValidator

from bot.core.models import Notification, NotificationEvent
from bot.notify.planner import plan_fallback
from bot.notify.rules import cached_rules
from bot.notify.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, timestamp_is_fresh, verify_event_webhook
from bot.web.deps import RuntimeDep, SessionDep, SettingsDep
from bot.web.inputs import load_json, row_id

router = APIRouter()
MAX_BODY = 256 * 1024
# Where each status stands; a message never moves to a lower rank.
RANK = {"planned": 0, "sending": 1, "queued": 1, "accepted": 1, "sent": 2, "processed": 2, "deferred": 2,
        "delivered": 3, "undelivered": 3, "failed": 3, "bounced": 3, "dropped": 3,
        "read": 3}  # WhatsApp's "read" comes after "delivered": taken (204), the status stays delivered
TWILIO_FINAL_FAILURES = {"undelivered", "failed"}
SENDGRID_STATUS = {"processed": "sent", "deferred": "sent", "delivered": "delivered", "bounce": "bounced",
                   "dropped": "dropped"}


def _advance(session: Any, row: Notification, status: str, at: datetime, detail: str) -> bool:
    if RANK.get(status, -1) <= RANK.get(row.status, 0):
        return False
    row.status = status
    if RANK[status] >= RANK["sent"] and row.sent_at is None:
        # The provider has it before the dispatcher recorded its own answer (a fast callback, or a
        # dispatcher stopped in between): it was sent, and is no longer "in flight".
        row.sent_at = at
    if status == "delivered":
        row.delivered_at = at
    if status in ("undelivered", "failed", "bounced", "dropped"):
        row.error = detail
    session.add(NotificationEvent(notification_id=row.id, at=at, status=status, detail=detail))
    return True


@router.post("/webhooks/twilio/status")
async def twilio_status(request: Request, session: SessionDep, settings: SettingsDep, runtime: RuntimeDep) -> Response:
    body = await request.body()
    if len(body) > MAX_BODY:
        return JSONResponse({"detail": "too large"}, status_code=413)
    form = await request.form()
    params = {k: str(v) for k, v in form.items()}
    query = request.url.query
    url = settings.twilio_status_callback_url + (f"?{query}" if query else "")
    signature = request.headers.get("X-Twilio-Signature", "")
    if not RequestValidator(settings.sms_auth_token).validate(url, params, signature):
        return JSONResponse({"detail": "invalid signature"}, status_code=403)
    sid, status = params.get("MessageSid", ""), params.get("MessageStatus", "")
    notification_id = row_id(request.query_params.get("n", ""))
    if not sid or status not in RANK or notification_id is None:
        return JSONResponse({"detail": "MessageSid, a known MessageStatus and n are required"}, status_code=400)
    row = session.get(Notification, notification_id)
    if row is None or (row.provider_id and row.provider_id != sid):
        return JSONResponse({"detail": "unknown message"}, status_code=404)
    now = runtime.clock.now()  # the clock the dispatcher plans by (the sandbox's, in the demo)
    if row.provider_id is None:
        row.provider_id = sid
    detail = f"twilio {status}" + (f" error {params['ErrorCode']}" if params.get("ErrorCode") else "")
    if _advance(session, row, status, now, detail) and status in TWILIO_FINAL_FAILURES:
        rules = cached_rules(settings.notification_rules)
        plan_fallback(session, row, rules, now, f"fallback after {'WhatsApp' if row.channel == 'whatsapp' else 'SMS'} {status}")
    session.commit()
    return Response(status_code=204)


@router.post("/webhooks/sendgrid/events")
async def sendgrid_events(request: Request, session: SessionDep, settings: SettingsDep, runtime: RuntimeDep) -> Response:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        return JSONResponse({"detail": "too large"}, status_code=413)
    try:
        body = raw.decode()
    except UnicodeDecodeError:
        return JSONResponse({"detail": "not UTF-8"}, status_code=400)
    timestamp = request.headers.get(TIMESTAMP_HEADER, "")
    if not verify_event_webhook(settings.email_webhook_public_key, body, request.headers.get(SIGNATURE_HEADER, ""),
                                timestamp):
        return JSONResponse({"detail": "invalid signature"}, status_code=403)
    if not timestamp_is_fresh(timestamp, max_age_seconds=settings.sendgrid_event_max_age_seconds):
        return JSONResponse({"detail": "stale or future timestamp: a replayed event is refused"}, status_code=403)
    try:
        events = load_json(body)
    except ValueError:
        return JSONResponse({"detail": "not JSON"}, status_code=400)
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        return JSONResponse({"detail": "a JSON array of events is expected"}, status_code=400)
    now = runtime.clock.now()  # the clock the dispatcher plans by (the sandbox's, in the demo)
    for event in events:
        status = SENDGRID_STATUS.get(str(event.get("event", "")))
        notification_id = row_id(str(event.get("notification_id", "")))
        if status is None or notification_id is None:
            continue  # opens, clicks and events of mail we did not send: nothing to update
        row = session.get(Notification, notification_id)
        if row is None or row.channel != "email":
            continue
        if not row.provider_id and event.get("sg_message_id"):
            row.provider_id = str(event["sg_message_id"]).split(".")[0][:64]
        _advance(session, row, status, now, f"sendgrid {event.get('event')}: {str(event.get('reason', ''))[:200]}")
    session.commit()
    return Response(status_code=200)
