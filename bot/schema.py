"""Database schema (Alembic) and the demo world, set up idempotently."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from bot.carriers.sandbox.proofs import DropPolicy
from bot.carriers.sandbox.world import build_world, world_exists
from bot.runtime import Runtime
from bot.settings import ROOT


def migrate(database_url: str) -> None:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["database_url"] = database_url
    command.upgrade(config, "head")


def ensure_demo(runtime: Runtime) -> bool:
    """Build the sandbox world when the database has none; True when it was built now."""
    if runtime.settings.carrier != "sandbox":
        return False
    with runtime.sessions() as session, session.begin():
        if world_exists(session):
            return False
        build_world(session, seed=runtime.settings.sandbox_seed, speed=runtime.settings.sandbox_speed,
                    drops=DropPolicy.from_settings(runtime.settings))
    return True
