"""What a process needs, built once at its start from settings: engine, sessions, carriers."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.carriers import Carrier, UnsupportedOperation, build_carriers
from bot.core.clock import Clock, SharedClock
from bot.core.db import make_engine, make_session_factory
from bot.core.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock
    carriers: dict[str, Carrier] = field(default_factory=dict)

    @classmethod
    def build(cls, settings: Settings, *, clock: Clock | None = None) -> Runtime:
        """The process's runtime; `clock` replaces the shared business clock (tests)."""
        engine = make_engine(settings.database_url)
        sessions = make_session_factory(engine)
        clock = clock or SharedClock(sessions)
        carriers = build_carriers(sessions, clock=clock, sandbox_faults=settings.sandbox_faults, settings=settings)
        return cls(settings=settings, engine=engine, sessions=sessions, clock=clock, carriers=carriers)

    def carrier(self, name: str) -> Carrier:
        try:
            return self.carriers[name]
        except KeyError:
            raise UnsupportedOperation(f"no adapter for carrier {name!r}") from None

    def link_for(self, shipment_id: int) -> str:
        from bot.conversation.identity import make_link_token

        return f"{self.settings.public_base_url}/t/{make_link_token(self.settings.link_secret, shipment_id)}"
