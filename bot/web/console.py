"""The agent console at /agent: login, the live queue, one conversation (claim, reply, changes, close).

Every route but the login form needs a session (`CurrentAgent`); every POST also its CSRF token.
Agent messages and the hand-back go through Rasa's tracker events API on the customer's own channel.
"""

from __future__ import annotations

import contextlib
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from bot.changes.hold import active_holds
from bot.conversation.rasa_api import RasaAPI, RasaUnavailable, UnaddressableConversation, bot_attempts, slot_value, transcript
from bot.core.models import Agent, Customer, Handoff
from bot.core.runtime import Runtime
from bot.desk import handoff_desk as desk
from bot.desk.agents import authenticate, end_session, start_session
from bot.notify import agent_reply as wa
from bot.notify import goodwill
from bot.profile.agent_view import agent_view
from bot.text import N_, language_of, t
from bot.text.timefmt import window
from bot.web.auth import (
    AgentContext,
    CurrentAgent,
    clear_session_cookie,
    client_address,
    load_agent,
    login_throttle,
    policy,
    set_device_cookie,
    set_session_cookie,
    trusted_device,
)
from bot.web.console_changes import ChangeFailed, change_options, make_change
from bot.web.deps import RuntimeDep, SessionDep
from bot.web.inputs import RowId
from bot.web.pages import render
from bot.web.streams import event_stream

router = APIRouter(prefix="/agent")
LOGIN_CSRF_COOKIE = "doorstep_login_csrf"
MAX_REPLY = 1600
NO_STORE = {"Cache-Control": "no-store"}
BACK_WITH_THE_BOT = N_("You're back with the Doorstep assistant. Ask me anything about your delivery.")


def _safe_next(target: str | None) -> str:
    """Only our own console pages: never an open redirect."""
    if target and target.startswith("/agent") and not target.startswith("//") and "\\" not in target:
        return target
    return "/agent"


def _login_page(request: Request, error: str | None, next_url: str, status_code: int = 200) -> Response:
    """The form; its CSRF token is also in a cookie only our pages can set (double submit)."""
    current = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    token = current if 20 <= len(current) <= 64 and current.replace("-", "").replace("_", "").isalnum() \
        else secrets.token_urlsafe(24)
    response = render("agent_login.html", status_code=status_code, error=error, csrf_token=token, next=next_url)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/agent", max_age=3600)
    response.headers.update(NO_STORE)
    return response


@router.get("/login")
def login_form(request: Request, session: SessionDep, next: str | None = None) -> Response:
    if load_agent(request, session) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _login_page(request, None, _safe_next(next))


@router.post("/login")
def login(
    request: Request, runtime: RuntimeDep, session: SessionDep,
    email: Annotated[str, Form(max_length=254)], password: Annotated[str, Form(max_length=200)],
    csrf_token: Annotated[str, Form(max_length=100)] = "", next: Annotated[str, Form(max_length=300)] = "/agent",
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not csrf_token or not secrets.compare_digest(expected, csrf_token):
        raise HTTPException(status_code=403, detail="missing or wrong CSRF token")
    throttle, client = login_throttle(request), client_address(request)
    device = trusted_device(request, session, runtime.settings, email)
    attempt = throttle.admit(email=email, client=client, device=device)
    if attempt is None:
        return _login_page(request, "Too many attempts. Wait a few minutes and try again.", _safe_next(next), 429)
    agent = authenticate(session, email=email, password=password)
    if agent is None:
        return _login_page(request, "Wrong email or password.", _safe_next(next), 401)
    throttle.succeeded(attempt)
    row = start_session(session, agent, policy(runtime.settings))
    desk.audit(session, agent, "agent.login", "-")
    session.commit()
    response = RedirectResponse(_safe_next(next), status_code=303)
    set_session_cookie(response, runtime.settings, row.id)
    set_device_cookie(response, runtime.settings, agent)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/agent")
    return response


@router.post("/logout")
def logout(me: CurrentAgent, runtime: RuntimeDep, session: SessionDep) -> Response:
    end_session(session, me.session_id)
    desk.audit(session, me.agent, "agent.logout", "-")
    session.commit()
    response = RedirectResponse("/agent/login", status_code=303)
    clear_session_cookie(response, runtime.settings)
    return response


# -- the queue -------------------------------------------------------------------------------------

@router.get("")
def queue_page(me: CurrentAgent, session: SessionDep, msg: str | None = None) -> Response:
    response = render("agent_queue.html", me=me, items=desk.queue(session), msg=msg)
    response.headers.update(NO_STORE)
    return response


@router.get("/queue.json")
def queue_json(me: CurrentAgent, session: SessionDep) -> JSONResponse:
    return JSONResponse(desk.queue(session), headers=NO_STORE)


def _still_in(runtime: Runtime, session_id: str) -> bool:
    from bot.desk.agents import current_session

    with runtime.sessions() as db, db.begin():
        return current_session(db, session_id, policy(runtime.settings)) is not None


@router.get("/queue/stream")
async def queue_stream(me: CurrentAgent, request: Request, runtime: RuntimeDep) -> Response:
    """Server-sent events: the whole queue whenever it changes (and the waiting times every few seconds)."""

    def snapshot() -> Any:
        if not _still_in(runtime, me.session_id):
            return None
        with runtime.sessions() as db:
            return desk.queue(db)

    return event_stream(request, lambda: run_in_threadpool(snapshot), interval=1.0)


# -- one conversation ------------------------------------------------------------------------------

def _handoff(session: Session, handoff_id: int) -> Handoff:
    handoff = session.get(Handoff, handoff_id)
    if handoff is None:
        raise HTTPException(status_code=404, detail="no such handoff")
    return handoff


def _mine(handoff: Handoff, agent: Agent) -> None:
    if not desk.may_work_on(handoff, agent):
        raise HTTPException(status_code=409, detail="claim this conversation first")


@router.get("/handoffs/{handoff_id}")
async def conversation_page(handoff_id: RowId, me: CurrentAgent, runtime: RuntimeDep, session: SessionDep,
                            msg: str | None = None) -> Response:
    handoff = _handoff(session, handoff_id)
    shipment = desk.parcel_for(session, handoff)
    try:
        events = await RasaAPI(runtime.settings).events(handoff.sender_id)
        rasa_error = None
    except RasaUnavailable as exc:
        events, rasa_error = [], str(exc)
    lines = transcript(events)
    options = await run_in_threadpool(change_options, runtime, shipment.id) if shipment and \
        desk.may_work_on(handoff, me.agent) else None
    now = await run_in_threadpool(runtime.clock.now)
    customer = session.get(Customer, handoff.customer_id) if handoff.customer_id else None
    holds = active_holds(session, customer.id, now=now) if customer else []  # away from home (issue 16)
    # The language the bot speaks in this conversation now (its `language` slot), else the one it spoke at handoff.
    language = language_of(slot_value(events, "language") or desk.conversation_language(handoff.summary, customer))
    response = render(
        "agent_conversation.html", me=me, handoff=handoff, shipment=shipment, lines=lines, customer=customer,
        goodwill=goodwill.grant_for(session, shipment.id) if shipment else None,
        language=desk.LANGUAGE_LABEL[language],
        asked=[line["text"] for line in lines if line["who"] == "customer"][-5:], tried=bot_attempts(events),
        rasa_error=rasa_error, mine=desk.may_work_on(handoff, me.agent), options=options, msg=msg, holds=holds,
        channel=desk.channel_label(handoff.channel, handoff.sender_id),
        reason=desk.REASON_LABEL.get(handoff.reason, handoff.reason), now=now,
        not_delivered=desk.undeliverable_because(session, handoff),
        agent_name=(session.get(Agent, handoff.agent_id).name if handoff.agent_id else None),  # type: ignore[union-attr]
        eta_text=window(shipment.eta_start, shipment.eta_end, now, shipment.customer.time_zone, "en", dash="–")
        if shipment and shipment.eta_start and shipment.eta_end else None,
        profile=agent_view(session, customer.id) if customer is not None else None,  # issue 16
        after_window=_after_window(session, handoff), max_template_text=wa.MAX_TEMPLATE_TEXT,
    )
    response.headers.update(NO_STORE)
    return response


def _after_window(session: Session, handoff: Handoff) -> dict[str, str] | None:
    """The last reply that went after WhatsApp's window closed, and what became of it."""
    result = wa.latest_outcome(session, handoff) if wa.is_whatsapp(handoff.channel, handoff.sender_id) else None
    return {"how": result.how, "said": wa.said(result)} if result is not None else None


@router.get("/handoffs/{handoff_id}/stream")
async def conversation_stream(handoff_id: RowId, me: CurrentAgent, request: Request, runtime: RuntimeDep,
                              session: SessionDep) -> Response:
    """Server-sent events: the transcript and the handoff's state whenever either changes."""
    sender_id = _handoff(session, handoff_id).sender_id
    rasa = RasaAPI(runtime.settings, timeout=5)

    def state() -> dict[str, Any] | None:
        if not _still_in(runtime, me.session_id):
            return None
        with runtime.sessions() as db:
            handoff = db.get(Handoff, handoff_id)
            return {"status": handoff.status, "agent_id": handoff.agent_id} if handoff else None

    async def produce() -> Any:
        handoff_state = await run_in_threadpool(state)
        if handoff_state is None:
            return None
        try:
            lines = transcript(await rasa.events(sender_id))
        except RasaUnavailable:
            lines = None
        return {**handoff_state, "lines": lines}

    return event_stream(request, produce, interval=1.0)


@router.post("/handoffs/{handoff_id}/claim")
def claim(handoff_id: RowId, me: CurrentAgent, session: SessionDep) -> Response:
    _handoff(session, handoff_id)
    won = desk.claim(session, handoff_id=handoff_id, agent=me.agent)
    session.commit()
    if not won:
        return RedirectResponse("/agent?msg=taken", status_code=303)
    return RedirectResponse(f"/agent/handoffs/{handoff_id}", status_code=303)


@router.post("/handoffs/{handoff_id}/reply")
async def reply(handoff_id: RowId, me: CurrentAgent, runtime: RuntimeDep, session: SessionDep,
                text: Annotated[str, Form(max_length=MAX_REPLY)]) -> Response:
    handoff = _handoff(session, handoff_id)
    _mine(handoff, me.agent)
    text = text.strip()
    if not text:
        raise HTTPException(status_code=400, detail="empty reply")
    rasa = RasaAPI(runtime.settings)
    why = desk.undeliverable_because(session, handoff)
    if why is not None:  # nothing may go out; the transcript still shows what the agent wrote, marked
        desk.audit(session, me.agent, "handoff.reply_not_delivered", handoff_id, reason=why, length=len(text))
        session.commit()
        with contextlib.suppress(RasaUnavailable):  # if Rasa is down, the audit log has it
            await rasa.note_undelivered(handoff.sender_id, f"{me.agent.name}: {text}", agent=me.agent.name, why=why)
        return RedirectResponse(f"/agent/handoffs/{handoff_id}?msg=not-delivered", status_code=303)
    if wa.is_whatsapp(handoff.channel, handoff.sender_id) and not await wa.window_open(runtime.settings,
                                                                                        handoff.sender_id):
        return await _reply_after_window(handoff, me, runtime, session, rasa, text)
    try:
        await rasa.say(handoff.sender_id, handoff.channel, f"{me.agent.name}: {text}", agent=me.agent.name)
    except RasaUnavailable as exc:
        desk.audit(session, me.agent, "handoff.reply_failed", handoff_id, error=str(exc))
        session.commit()
        problem = "unaddressable" if isinstance(exc, UnaddressableConversation) else "not-sent"
        return RedirectResponse(f"/agent/handoffs/{handoff_id}?msg={problem}", status_code=303)
    desk.audit(session, me.agent, "handoff.reply", handoff_id, length=len(text))
    session.commit()
    return RedirectResponse(f"/agent/handoffs/{handoff_id}", status_code=303)


async def _reply_after_window(handoff: Handoff, me: AgentContext, runtime: Runtime, session: Session, rasa: RasaAPI,
                              text: str) -> Response:
    """WhatsApp refuses free text now: the approved template with the agent's words, else SMS (see
    bot/notify/agent_reply.py); the agent and the transcript are told which."""
    page = f"/agent/handoffs/{handoff.id}"
    if len(text) > wa.MAX_TEMPLATE_TEXT:  # nothing is planned: the agent shortens it
        return RedirectResponse(f"{page}?msg=window-too-long", status_code=303)
    customer = session.get(Customer, handoff.customer_id) if handoff.customer_id else None
    locale = desk.conversation_language(handoff.summary, customer)
    now = await run_in_threadpool(runtime.clock.now)
    session.commit()  # let go of the database: the dispatcher writes
    result = await wa.reply_after_window(runtime, handoff_id=handoff.id, agent_id=me.agent.id,
                                         agent_name=me.agent.name, text=text, locale=locale, now=now)
    desk.audit(session, me.agent, "handoff.reply_after_window", handoff.id, how=result.how, detail=result.detail,
               length=len(text))
    session.commit()
    mark = {"sent_as": wa.said(result)} if result.how != "not_delivered" else {"not_delivered": wa.said(result)}
    with contextlib.suppress(RasaUnavailable):  # the console's notice and the audit log have it anyway
        await rasa.note(handoff.sender_id, f"{me.agent.name}: {text}", {"agent": me.agent.name, **mark})
    return RedirectResponse(f"{page}?msg=window-{result.how}", status_code=303)


@router.post("/handoffs/{handoff_id}/change")
async def change(handoff_id: RowId, request: Request, me: CurrentAgent, runtime: RuntimeDep,
                 session: SessionDep) -> Response:
    """A self-service change made for the customer (reschedule, locker, return), told to them on their channel."""
    handoff = _handoff(session, handoff_id)
    _mine(handoff, me.agent)
    shipment = desk.parcel_for(session, handoff)
    if shipment is None:
        raise HTTPException(status_code=409, detail="this conversation has no verified parcel")
    form = {k: str(v)[:300] for k, v in (await request.form()).multi_items() if k != "csrf_token"}
    items = [str(v)[:40] for v in (await request.form()).getlist("items")]
    locale = shipment.customer.locale
    try:
        done = await run_in_threadpool(make_change, runtime, shipment.id, form, items, locale)
    except ChangeFailed as failed:
        desk.audit(session, me.agent, "handoff.change_refused", handoff_id, kind=form.get("kind"), reason=failed.reason)
        session.commit()
        return RedirectResponse(f"/agent/handoffs/{handoff_id}?msg=refused", status_code=303)
    desk.audit(session, me.agent, f"handoff.{done.kind}", handoff_id, shipment=shipment.id, **done.detail)
    session.commit()
    why = desk.undeliverable_because(session, handoff)
    if why is not None:
        with contextlib.suppress(RasaUnavailable):
            await RasaAPI(runtime.settings).note_undelivered(handoff.sender_id, done.message, agent=me.agent.name, why=why)
        return RedirectResponse(f"/agent/handoffs/{handoff_id}?msg=changed-not-delivered", status_code=303)
    try:
        await RasaAPI(runtime.settings).say(handoff.sender_id, handoff.channel, done.message, agent=me.agent.name)
    except RasaUnavailable:
        return RedirectResponse(f"/agent/handoffs/{handoff_id}?msg=changed-not-told", status_code=303)
    return RedirectResponse(f"/agent/handoffs/{handoff_id}?msg=changed", status_code=303)


@router.post("/handoffs/{handoff_id}/close")
async def close(handoff_id: RowId, me: CurrentAgent, runtime: RuntimeDep, session: SessionDep,
                note: Annotated[str, Form(max_length=desk.MAX_NOTE)] = "") -> Response:
    handoff = _handoff(session, handoff_id)
    _mine(handoff, me.agent)
    closed = desk.close(session, handoff_id=handoff_id, agent=me.agent, note=note.strip())
    if closed is None:
        raise HTTPException(status_code=409, detail="not yours to close")
    session.commit()
    customer = session.get(Customer, closed.customer_id) if closed.customer_id else None
    locale = customer.locale if customer else "en"
    try:
        await RasaAPI(runtime.settings).resume(closed.sender_id, closed.channel, t(language_of(locale), BACK_WITH_THE_BOT))
    except RasaUnavailable as exc:
        desk.reopen(session, handoff_id=handoff_id, agent=me.agent, reason=str(exc))
        session.commit()
        return RedirectResponse(f"/agent/handoffs/{handoff_id}?msg=not-resumed", status_code=303)
    return RedirectResponse("/agent?msg=closed", status_code=303)
