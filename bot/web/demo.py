"""The embedded outbox: a Twilio-compatible Messages API, the demo phone, and the outbox as JSON.

The Messages API answers 404 unless the outbox is the SMS provider (the embedded default); the demo
pages (phone, /api/outbox, /api/demo) unless the whole deployment is the demo (`Settings.demo_enabled`).
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated

import httpx
from fastapi import APIRouter, BackgroundTasks, Form, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from bot.conversation.identity import normalise_phone
from bot.core.models import Customer, OutboxMessage
from bot.core.runtime import Runtime
from bot.core.settings import Settings
from bot.demo.demo_report import demo_report
from bot.demo.outbox import WHATSAPP, as_dict, conversation, is_sms_opted_out, record, whatsapp_window_open
from bot.demo.sms_sim import send_as_customer
from bot.notify.whatsapp import OUTSIDE_WINDOW
from bot.notify.whatsapp_templates import cached_templates
from bot.parcels import register
from bot.parcels.sandbox_arrival import sandbox_parcel
from bot.web.deps import DemoOnly, OutboxOnly, RuntimeDep, SessionDep, SettingsDep
from bot.web.inputs import AfterId
from bot.web.pages import render

router = APIRouter(dependencies=[DemoOnly])
twilio_api = APIRouter(dependencies=[OutboxOnly])
MAX_SMS_BODY = 1600  # Twilio's limit for one message body


def _twilio_error(status: int, code: int, message: str) -> JSONResponse:
    """Errors in the shape Twilio's REST API uses (the SDK turns them into TwilioRestException)."""
    return JSONResponse(
        {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
         "status": status},
        status_code=status,
    )


def _basic_auth_ok(header: str | None, sid: str, token: str) -> bool:
    if not header or not header.startswith("Basic "):
        return False
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return secrets.compare_digest(user, sid) and secrets.compare_digest(password, token)


def _message_json(m: OutboxMessage, account_sid: str, status: str) -> dict[str, object]:
    """A message resource as Twilio's API returns it."""
    created = m.created_at.strftime("%a, %d %b %Y %H:%M:%S +0000")
    return {
        "sid": m.sid, "account_sid": account_sid, "to": m.to_address, "from": m.from_address,
        "messaging_service_sid": None, "body": m.body, "status": status,
        "num_segments": str(max(1, -(-len(m.body) // 153))), "num_media": str(len((m.meta or {}).get("media", []))),
        "direction": "inbound" if m.direction == "inbound" else "outbound-api", "api_version": "2010-04-01",
        "price": None, "price_unit": "USD",
        "error_code": None, "error_message": None, "date_created": created, "date_updated": created,
        "date_sent": created, "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/{m.sid}.json",
        "subresource_uris": {},
    }


async def _report_status(callback: str, token: str, params: dict[str, str], statuses: list[str]) -> None:
    """Post Twilio-style status callbacks, signed as Twilio signs them (demo and tests)."""
    validator = RequestValidator(token)
    async with httpx.AsyncClient(timeout=5.0) as client:
        for status in statuses:
            form = {**params, "MessageStatus": status, "SmsStatus": status}
            if status == "undelivered":
                form["ErrorCode"] = "30003"
            try:
                await client.post(callback, data=form, headers={"X-Twilio-Signature": validator.compute_signature(callback, form)})
            except httpx.HTTPError:
                return


@twilio_api.get("/outbox/twilio/2010-04-01/Accounts/{account_sid}/Messages.json")
def list_messages(
    account_sid: str, session: SessionDep, settings: SettingsDep,
    authorization: Annotated[str | None, Header()] = None,
    to: Annotated[str | None, Query(alias="To", max_length=64)] = None,
    from_: Annotated[str | None, Query(alias="From", max_length=64)] = None,
    sent_after: Annotated[str | None, Query(alias="DateSent>", max_length=40)] = None,
    page_size: Annotated[int, Query(alias="PageSize", ge=1, le=1000)] = 50,
) -> JSONResponse:
    """Twilio's message list, filtered by To (what a dispatcher asks after a crash), From (a WhatsApp
    customer's last message: is the 24-hour window open?) and DateSent>; pages of 1 to 1000."""
    if account_sid != settings.outbox_account_sid or not _basic_auth_ok(
        authorization, settings.outbox_account_sid, settings.outbox_auth_token
    ):
        return _twilio_error(401, 20003, "Authenticate")
    query = select(OutboxMessage).where(OutboxMessage.channel.in_(("sms", "whatsapp")))
    if to:
        query = query.where(OutboxMessage.to_address == to)
    if from_:
        query = query.where(OutboxMessage.from_address == from_)
    if sent_after:
        try:
            since = datetime.fromisoformat(sent_after.replace("Z", "+00:00"))
        except ValueError:
            return _twilio_error(400, 20001, "DateSent must be an ISO 8601 date or date and time")
        query = query.where(OutboxMessage.created_at >= (since if since.tzinfo else since.replace(tzinfo=UTC)))
    rows = session.scalars(query.order_by(OutboxMessage.id.desc()).limit(page_size)).all()
    uri = f"/2010-04-01/Accounts/{account_sid}/Messages.json?PageSize={page_size}&Page=0"
    return JSONResponse({"messages": [_message_json(m, account_sid, m.status) for m in rows], "end": len(rows) - 1,
                         "first_page_uri": uri, "next_page_uri": None, "page": 0, "page_size": page_size,
                         "previous_page_uri": None, "start": 0, "uri": uri})


@twilio_api.post("/outbox/twilio/2010-04-01/Accounts/{account_sid}/Messages.json")
async def create_message(
    account_sid: str, request: Request, session: SessionDep, settings: SettingsDep, background: BackgroundTasks,
    authorization: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    if account_sid != settings.outbox_account_sid or not _basic_auth_ok(
        authorization, settings.outbox_account_sid, settings.outbox_auth_token
    ):
        return _twilio_error(401, 20003, "Authenticate")
    form = await request.form()
    to, body = str(form.get("To") or ""), str(form.get("Body") or "")
    sender = str(form.get("From") or form.get("MessagingServiceSid") or "")
    channel = "whatsapp" if to.startswith(WHATSAPP) else "sms"
    phone = to.removeprefix(WHATSAPP)
    media = [str(url) for url in form.getlist("MediaUrl")][:10]
    content_sid = str(form.get("ContentSid") or "")
    if normalise_phone(phone) != phone:
        return _twilio_error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
    if not sender:
        return _twilio_error(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required")
    if form.get("From") and str(form.get("From")).startswith(WHATSAPP) != (channel == "whatsapp"):
        return _twilio_error(400, 21910, "Invalid From and To pair. From and To should be of the same channel")
    if content_sid:
        rendered = _render_content(settings, content_sid, str(form.get("ContentVariables") or "{}"))
        if isinstance(rendered, JSONResponse):
            return rendered
        body, media = rendered, []
    if any(not url.startswith(("https://", "http://")) or len(url) > 2048 for url in media):
        return _twilio_error(400, 21620, "Invalid media URL(s).")
    if not body and not media:
        return _twilio_error(400, 21602, "Message body is required.")
    if len(body) > MAX_SMS_BODY:
        return _twilio_error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
    if channel == "whatsapp" and not content_sid and not whatsapp_window_open(session, to):
        return _twilio_error(400, OUTSIDE_WINDOW, "Failed to send freeform message because you are outside the "
                                                  "allowed window. If you are using WhatsApp, please use a "
                                                  "Message Template.")
    if channel == "sms" and is_sms_opted_out(session, to):
        return _twilio_error(400, 21610, "Attempt to send to unsubscribed recipient")
    undeliverable = phone in {n.strip() for n in settings.outbox_undeliverable.split(",") if n.strip()}
    from_address = settings.outbox_whatsapp_from if channel == "whatsapp" else settings.outbox_from_number
    message = record(session, channel=channel, to=to, sender=from_address, body=body)
    message.status = "undelivered" if undeliverable else "delivered"
    callback = str(form.get("StatusCallback") or "")
    message.meta = {key: value for key, value in (("status_callback", callback), ("media", media),
                                                   ("content_sid", content_sid)) if value}
    session.commit()
    if callback:
        params = {"MessageSid": message.sid, "SmsSid": message.sid, "AccountSid": account_sid, "To": to,
                  "From": from_address, "ApiVersion": "2010-04-01"}
        background.add_task(_report_status, callback, settings.outbox_auth_token, params,
                            ["sent", "undelivered" if undeliverable else "delivered"])
    return JSONResponse(_message_json(message, account_sid, "queued"), status_code=201)


def _render_content(settings: Settings, content_sid: str, raw_variables: str) -> str | JSONResponse:
    """A Content API template rendered with its variables, as Twilio renders it (or Twilio's error)."""
    template = cached_templates(settings.whatsapp_templates).by_sid(content_sid)
    if template is None:
        return _twilio_error(400, 21655, "The ContentSid is Invalid.")
    try:
        variables = json.loads(raw_variables)
    except ValueError:
        variables = None
    if not isinstance(variables, dict) or not all(isinstance(v, str) and v.strip() for v in variables.values()) \
            or any(str(n) not in variables for n in range(1, len(template.variables) + 1)):
        return _twilio_error(400, 21656, "The ContentVariables Parameter is invalid.")
    return template.render(variables)


@router.get("/api/outbox")
def outbox_json(session: SessionDep, to: Annotated[str | None, Query(max_length=254)] = None,
                after: AfterId = 0) -> JSONResponse:
    rows: Sequence[OutboxMessage]
    if to:
        rows = conversation(session, to, after_id=after)
    else:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.id > after).order_by(OutboxMessage.id)).all()
    return JSONResponse([as_dict(m) for m in rows])


@router.get("/api/demo")
def demo_json(session: SessionDep, runtime: RuntimeDep) -> JSONResponse:
    return JSONResponse(demo_report(session, runtime.clock.now()))


@router.get("/demo/phone")
def phone_index(session: SessionDep):
    customers = session.scalars(select(Customer).order_by(Customer.id)).all()
    return render("phone_index.html", customers=customers)


def _phone_page(phone: str, session: Session, settings: Settings, *, whatsapp: bool) -> HTMLResponse:
    address = f"{WHATSAPP}{phone}" if whatsapp else phone
    customer = session.scalar(select(Customer).where(Customer.phone == phone))
    messages = conversation(session, address)
    return render("phone.html", phone=phone, address=address, customer=customer, messages=messages,
                  last_id=messages[-1].id if messages else 0, whatsapp=whatsapp,
                  whatsapp_on=bool(settings.whatsapp_from), window_open=whatsapp_window_open(session, address),
                  bot_number=settings.whatsapp_from.removeprefix(WHATSAPP) if whatsapp else settings.sms_from)


async def _send_from(address: str, runtime: Runtime, text: str) -> JSONResponse | None:
    if text.strip():
        try:
            await run_in_threadpool(send_as_customer, runtime, address, text.strip(), wait_seconds=0.0)
        except httpx.HTTPError:
            return JSONResponse({"detail": "the bot is not reachable (is Rasa running?); try again"}, status_code=503)
    return None


@router.get("/demo/phone/{phone}")
def phone(phone: str, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    return _phone_page(phone, session, settings, whatsapp=False)


@router.post("/demo/phone/{phone}")
async def phone_send(phone: str, runtime: RuntimeDep, text: Annotated[str, Form(max_length=1600)]) -> Response:
    if normalise_phone(phone) != phone:
        return JSONResponse({"detail": "not an E.164 phone number"}, status_code=400)
    return await _send_from(phone, runtime, text) or RedirectResponse(f"/demo/phone/{phone}", status_code=303)


@router.get("/demo/whatsapp/{phone}")
def whatsapp_phone(phone: str, session: SessionDep, settings: SettingsDep) -> Response:
    """The same customer's phone as a WhatsApp phone: its own conversation, templates marked."""
    if normalise_phone(phone) != phone or not settings.whatsapp_from:
        return JSONResponse({"detail": "not an E.164 phone number, or WhatsApp is off"}, status_code=404)
    return _phone_page(phone, session, settings, whatsapp=True)


@router.post("/demo/whatsapp/{phone}")
async def whatsapp_send(phone: str, runtime: RuntimeDep, text: Annotated[str, Form(max_length=1600)]) -> Response:
    if normalise_phone(phone) != phone or not runtime.settings.whatsapp_from:
        return JSONResponse({"detail": "not an E.164 phone number, or WhatsApp is off"}, status_code=400)
    return await _send_from(f"{WHATSAPP}{phone}", runtime, text) or \
        RedirectResponse(f"/demo/whatsapp/{phone}", status_code=303)


@router.post("/demo/phone/{phone}/new-parcel")
async def new_parcel(phone: str, runtime: RuntimeDep) -> Response:
    """Issue 16: a new sandbox parcel for this demo customer, through the intake (their profile applies)."""
    if normalise_phone(phone) != phone:
        return JSONResponse({"detail": "not an E.164 phone number"}, status_code=400)

    def arrive() -> bool:
        now = runtime.clock.now()
        with runtime.sessions() as session:
            customer = session.scalar(select(Customer).where(Customer.phone == phone))
            if customer is None:
                return False
            parcel = sandbox_parcel(session, customer, now)
        register(runtime, parcel, now=now)
        return True

    if not await run_in_threadpool(arrive):
        return JSONResponse({"detail": "no demo customer with that number"}, status_code=404)
    return RedirectResponse(f"/demo/phone/{phone}", status_code=303)
