"""Database schema (Alembic) and the demo world, set up idempotently."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from bot.core.settings import ROOT

if TYPE_CHECKING:
    from bot.core.runtime import Runtime

REVISION = re.compile(r"^(down_)?revision(?::[^=]*)?=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)


def head_revision() -> str:
    """The newest migration, read from migrations/versions without importing Alembic (it is slow to import)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (ROOT / "migrations" / "versions").glob("*.py"):
        for down, value in REVISION.findall(path.read_text(encoding="utf-8")):
            (parents if down else revisions).add(value)
    heads = revisions - parents
    if len(heads) != 1:
        raise RuntimeError(f"migrations/versions has {len(heads)} heads: {sorted(heads)}")
    return heads.pop()


def is_ready(database_url: str, *, needs_world: bool) -> bool:
    """The database is at the newest migration and, when it needs one, has its demo world: a second start
    has nothing to set up and skips loading Alembic and the sandbox."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
            if version != head_revision():
                return False
            return not needs_world or connection.execute(text("SELECT 1 FROM shipments LIMIT 1")).first() is not None
    except SQLAlchemyError:
        return False
    finally:
        engine.dispose()


def migrate(database_url: str) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["database_url"] = database_url
    command.upgrade(config, "head")


def ensure_demo(runtime: Runtime) -> bool:
    """Build the sandbox world when the database has none; True when it was built now."""
    from bot.carriers.sandbox.proofs import DropPolicy
    from bot.carriers.sandbox.world import build_world, world_exists

    if runtime.settings.carrier != "sandbox":
        return False
    with runtime.sessions() as session, session.begin():
        if world_exists(session):
            return False
        build_world(session, seed=runtime.settings.sandbox_seed, speed=runtime.settings.sandbox_speed,
                    drops=DropPolicy.from_settings(runtime.settings))
    return True
