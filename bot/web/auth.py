"""Agent login for the console and every page behind it (`require_agent`, `require_supervisor`).

The session cookie holds only a random session id, signed with the app's session secret; the session
itself (agent, CSRF token, expiry) lives in the database, so logout and expiry really end it. Every
state-changing request must carry the session's CSRF token (form field `csrf_token` or header
`X-CSRF-Token`). Without a session a page answers 303 to the login form; JSON (`*.json`, or a client
that accepts JSON and not HTML), event streams and every other method 401.

Login attempts are limited per account and per client address (`LoginThrottle`); the client address
is the connecting one unless it is a trusted proxy (TRUSTED_PROXIES, applied by uvicorn). A browser
that has logged in gets a long-lived signed device cookie naming the agent; with it, that agent's
logins skip the per-account count (which anyone can use up), within the device's own allowance.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request, Response
from itsdangerous import BadSignature, Signer, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.core.models import Agent
from bot.core.settings import Settings
from bot.desk.agents import SessionPolicy, current_session
from bot.web.deps import SessionDep
from bot.web.ratelimit import Limiter, Limits, RateLimiter, app_limits

COOKIE = "doorstep_agent"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
LOGIN_WINDOW_SECONDS = 15 * 60
DEVICE_COOKIE = "doorstep_device"
DEVICE_COOKIE_PATH = "/agent/login"
DEVICE_COOKIE_SECONDS = 90 * 24 * 3600


@dataclass(frozen=True)
class AgentContext:
    agent: Agent
    session_id: str
    csrf_token: str

    @property
    def is_supervisor(self) -> bool:
        return self.agent.role == "supervisor"


def policy(settings: Settings) -> SessionPolicy:
    return SessionPolicy(lifetime=timedelta(hours=settings.agent_session_hours),
                         idle=timedelta(minutes=settings.agent_idle_minutes))


@dataclass(frozen=True)
class LoginAttempt:
    """What one admitted attempt was counted against: the account, or instead a trusted device; and the client."""
    account: str | None
    device: str | None
    client: str


class LoginThrottle:
    """Login attempts in a sliding window, per account (the email typed, known or not) and per client.

    An attempt is counted before the password is checked, so parallel guesses count too, and a
    successful login gives its attempt back: only failures use the allowance up. Spraying one password
    over many accounts from one client runs out on the client's count; guessing one account's password
    from many clients runs out on the account's. Either way the next try is refused before any password
    check, for a known and an unknown email alike.

    Anyone can use up an account's count, so an attempt from a device that logged in to that account
    before (`device`, from its device cookie) is counted on the device instead, until the device has
    used up its own allowance; it still counts for the client.
    """

    def __init__(self, *, per_account: int, per_client: int, per_device: int,
                 window_seconds: float = LOGIN_WINDOW_SECONDS, limits: Limits | None = None) -> None:
        """`limits`: counted in Redis, shared by every web replica; None: in this process."""
        def limiter(name: str, limit: int) -> Limiter:
            return limits.limiter(name, limit, window_seconds) if limits else RateLimiter(limit, window_seconds)

        self.accounts = limiter("login-account", per_account)
        self.clients = limiter("login-client", per_client)
        self.devices = limiter("login-device", per_device)

    def admit(self, *, email: str, client: str, device: str | None = None) -> LoginAttempt | None:
        """The attempt as counted, or None when it must wait."""
        if device is not None and self.devices.allow(device):
            attempt = LoginAttempt(account=None, device=device, client=client)
        else:
            account = email.strip().lower()
            if not self.accounts.allow(account):
                return None
            attempt = LoginAttempt(account=account, device=None, client=client)
        if not self.clients.allow(client):
            self._give_back_key(attempt)
            return None
        return attempt

    def succeeded(self, attempt: LoginAttempt) -> None:
        self._give_back_key(attempt)
        self.clients.give_back(attempt.client)

    def _give_back_key(self, attempt: LoginAttempt) -> None:
        if attempt.device is not None:
            self.devices.give_back(attempt.device)
        if attempt.account is not None:
            self.accounts.give_back(attempt.account)


def login_throttle(request: Request) -> LoginThrottle:
    """The app's one throttle: shared by every web replica through Redis when REDIS_URL is set."""
    state = request.app.state
    if not hasattr(state, "login_throttle"):
        settings: Settings = state.runtime.settings
        state.login_throttle = LoginThrottle(per_account=settings.login_attempts_per_account,
                                             per_client=settings.login_attempts_per_client,
                                             per_device=settings.login_attempts_per_device,
                                             limits=app_limits(state))
    return state.login_throttle


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _signer(settings: Settings) -> Signer:
    return Signer(settings.session_secret, salt="agent-session")


def set_session_cookie(response: Response, settings: Settings, session_id: str) -> None:
    response.set_cookie(
        COOKIE, _signer(settings).sign(session_id).decode(), max_age=int(settings.agent_session_hours * 3600),
        httponly=True, samesite="strict", secure=settings.public_base_url.startswith("https://"), path="/",
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict",
                           secure=settings.public_base_url.startswith("https://"))


def session_id_from(request: Request, settings: Settings) -> str | None:
    raw = request.cookies.get(COOKIE)
    if not raw or len(raw) > 200:
        return None
    try:
        return _signer(settings).unsign(raw).decode()
    except BadSignature:
        return None


def _device_serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.session_secret, salt="agent-login-device")


def set_device_cookie(response: Response, settings: Settings, agent: Agent) -> None:
    """Mark this browser as one `agent` logged in from (a fresh random device id on every login)."""
    value = _device_serializer(settings).dumps({"agent": agent.id, "device": secrets.token_urlsafe(16)})
    response.set_cookie(
        DEVICE_COOKIE, value, max_age=DEVICE_COOKIE_SECONDS, httponly=True, samesite="strict",
        secure=settings.public_base_url.startswith("https://"), path=DEVICE_COOKIE_PATH,
    )


def trusted_device(request: Request, db: Session, settings: Settings, email: str) -> str | None:
    """The device id from a valid, unexpired device cookie naming the agent with this email, else None."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw or len(raw) > 300:
        return None
    try:
        claim: Any = _device_serializer(settings).loads(raw, max_age=DEVICE_COOKIE_SECONDS)
    except BadSignature:
        return None
    if not isinstance(claim, dict) or not isinstance(claim.get("device"), str) or not isinstance(claim.get("agent"), int):
        return None
    agent_id = db.scalar(select(Agent.id).where(func.lower(Agent.email) == email.strip().lower()))
    return claim["device"] if agent_id == claim["agent"] else None


def _wants_page(request: Request) -> bool:
    """A browser asking for an HTML page (sent to the login form); JSON, streams and the rest get 401."""
    accept = request.headers.get("accept", "")
    if request.method not in SAFE_METHODS or "text/event-stream" in accept or request.url.path.endswith(".json"):
        return False
    return not ("application/json" in accept and "text/html" not in accept)


def _refuse(request: Request) -> HTTPException:
    if _wants_page(request):
        target = quote(request.url.path, safe="/")
        return HTTPException(status_code=303, headers={"Location": f"/agent/login?next={target}"})
    return HTTPException(status_code=401, detail="login required")


def load_agent(request: Request, db: Session) -> AgentContext | None:
    settings: Settings = request.app.state.runtime.settings
    session_id = session_id_from(request, settings)
    if session_id is None:
        return None
    row = current_session(db, session_id, policy(settings))
    if row is None:
        db.commit()  # an expired session was removed
        return None
    db.commit()
    return AgentContext(agent=row.agent, session_id=row.id, csrf_token=row.csrf_token)


async def require_agent(request: Request, db: SessionDep) -> AgentContext:
    """A logged-in agent; for POST/PUT/PATCH/DELETE also a matching CSRF token."""
    context = load_agent(request, db)
    if context is None:
        raise _refuse(request)
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER)
        if sent is None and "form" in request.headers.get("content-type", ""):
            sent = str((await request.form()).get(CSRF_FIELD) or "")
        if not sent or not secrets.compare_digest(sent, context.csrf_token):
            raise HTTPException(status_code=403, detail="missing or wrong CSRF token")
    return context


async def require_supervisor(context: Annotated[AgentContext, Depends(require_agent)]) -> AgentContext:
    if not context.is_supervisor:
        raise HTTPException(status_code=403, detail="supervisors only")
    return context


CurrentAgent = Annotated[AgentContext, Depends(require_agent)]
Supervisor = Annotated[AgentContext, Depends(require_supervisor)]
