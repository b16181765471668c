"""Dependencies as `Annotated` aliases, so routes read like prose."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from bot.core.runtime import Runtime
from bot.core.settings import Settings


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.runtime.settings


def get_session(request: Request) -> Iterator[Session]:
    """A session per request; a route that writes commits before it answers."""
    with request.app.state.runtime.sessions() as session:
        yield session


def require_outbox(request: Request) -> None:
    """The outbox's Twilio-compatible API exists only while the outbox is the SMS provider."""
    if not request.app.state.runtime.settings.outbox_enabled:
        raise HTTPException(status_code=404)


def require_demo(request: Request) -> None:
    """Pages that show every customer's messages without a login exist only when all of it is the demo."""
    if not request.app.state.runtime.settings.demo_enabled:
        raise HTTPException(status_code=404)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
SessionDep = Annotated[Session, Depends(get_session)]
OutboxOnly = Depends(require_outbox)
DemoOnly = Depends(require_demo)
