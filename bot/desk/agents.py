"""Support agents: accounts (argon2 password hashes, roles) and their login sessions."""

from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from bot.core.models import Agent, AgentSession, AuditLog, utcnow

ROLES = ("agent", "supervisor")
MIN_PASSWORD = 10
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verifying against this when the email is unknown takes as long as a real check: no timing oracle.
    Made on first use, not at import (a hash takes a deliberate ~0.1-0.4 s, and every process imports this)."""
    return _hasher.hash(secrets.token_hex(16))


class AgentError(ValueError):
    """Bad input for an agent account (the message says what)."""


def create_agent(session: Session, *, email: str, name: str, password: str, role: str) -> Agent:
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise AgentError("an email address is required")
    if role not in ROLES:
        raise AgentError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise AgentError(f"the password needs at least {MIN_PASSWORD} characters")
    if session.scalar(select(Agent).where(func.lower(Agent.email) == email)) is not None:
        raise AgentError(f"an agent with email {email} exists already")
    agent = Agent(email=email, name=name.strip() or email.split("@")[0], role=role,
                  password_hash=_hasher.hash(password), active=True)
    session.add(agent)
    session.flush()
    session.add(AuditLog(actor="cli", action="agent.create", entity="agent", entity_id=str(agent.id),
                         detail={"email": email, "role": role}))
    return agent


def authenticate(session: Session, *, email: str, password: str) -> Agent | None:
    """The active agent with this email and password, else None (same time either way)."""
    agent = session.scalar(select(Agent).where(func.lower(Agent.email) == email.strip().lower()))
    try:
        _hasher.verify(agent.password_hash if agent else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return None
    if agent is None or not agent.active:
        return None
    if _hasher.check_needs_rehash(agent.password_hash):
        agent.password_hash = _hasher.hash(password)
    return agent


@dataclass(frozen=True)
class SessionPolicy:
    lifetime: timedelta
    idle: timedelta


def start_session(session: Session, agent: Agent, policy: SessionPolicy, *, now: datetime | None = None) -> AgentSession:
    now = now or utcnow()
    row = AgentSession(id=secrets.token_urlsafe(32), agent_id=agent.id, csrf_token=secrets.token_urlsafe(32),
                       created_at=now, last_seen_at=now, expires_at=now + policy.lifetime)
    session.add(row)
    # Old sessions of anyone are swept here, so the table stays small without a job.
    session.execute(delete(AgentSession).where(AgentSession.expires_at < now))
    session.flush()
    return row


def current_session(session: Session, session_id: str, policy: SessionPolicy,
                    *, now: datetime | None = None) -> AgentSession | None:
    """The live session with this id (not expired, not idle too long, agent still active)."""
    now = now or utcnow()
    row = session.get(AgentSession, session_id)
    if row is None:
        return None
    if row.expires_at <= now or row.last_seen_at + policy.idle <= now or not row.agent.active:
        session.delete(row)
        session.flush()
        return None
    if now - row.last_seen_at > timedelta(minutes=1):  # one write a minute, not one per request
        row.last_seen_at = now
    return row


def end_session(session: Session, session_id: str) -> None:
    session.execute(delete(AgentSession).where(AgentSession.id == session_id))
