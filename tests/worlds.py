"""Fresh SQLite databases for the tests, copied from templates. Migrating takes a few tenths of a second
and building the sandbox world over a second on the two-core machine; copying the file takes a
millisecond. Each test still gets a database file of its own, exactly what migrating (and building the
world) would have given it: the world is seeded (seed 7) and built at a fixed instant. Only the rows'
wall-clock stamps (created_at…) come from the template's build, so a template older than a minute is
built again: a copy is never staler than a world built on a busy machine."""

from __future__ import annotations

import shutil
import sqlite3
import time
from datetime import datetime
from pathlib import Path

from bot.carriers.sandbox.world import build_world
from bot.core.db import make_engine, make_session_factory
from bot.core.runtime import Runtime
from bot.core.schema import migrate

MAX_AGE_SECONDS = 60.0
WORLD_SEED = 7

# (world speed, built at) -> (template file, when it was built); (None, None): migrated, no world.
_templates: dict[tuple[float | None, datetime | None], tuple[Path, float]] = {}
_directory: list[Path] = []


def use_directory(directory: Path) -> None:
    """Where this session's templates live (tests/conftest.py gives one per session)."""
    _directory[:] = [directory]
    _templates.clear()


def fresh_sqlite(target: Path, *, world_speed: float | None = None, built_at: datetime | None = None) -> str:
    """A migrated database at `target`, with the sandbox world (seed 7, built at `built_at` with
    `world_speed`) when a speed is given; its URL. The caller starts the clock it needs, as before."""
    if (world_speed is None) != (built_at is None):
        raise ValueError("a world needs both its speed and the instant it is built at")
    template = _template(world_speed, built_at)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


def load_world(runtime: Runtime, *, world_speed: float, built_at: datetime) -> None:
    """Put the sandbox world (seed 7, built at `built_at` with `world_speed`) into the runtime's migrated,
    empty SQLite database, as `build_world` would: SQLite's online backup writes the template's pages into
    it through one of the runtime's own connections."""
    if runtime.engine.dialect.name != "sqlite":
        raise ValueError("load_world copies SQLite files; build the world on other engines")
    template = _template(world_speed, built_at)
    source = sqlite3.connect(template)
    target = runtime.engine.raw_connection()
    try:
        driver = target.driver_connection
        assert isinstance(driver, sqlite3.Connection)
        source.backup(driver)
    finally:
        target.close()
        source.close()


def _template(world_speed: float | None, built_at: datetime | None) -> Path:
    key = (world_speed, built_at)
    known = _templates.get(key)
    if known is not None and time.monotonic() - known[1] < MAX_AGE_SECONDS:
        return known[0]
    if not _directory:
        raise RuntimeError("tests/worlds.py: no template directory (tests/conftest.py sets one per session)")
    started = time.monotonic()
    path = _directory[0] / f"template-{time.monotonic_ns()}.db"
    url = f"sqlite:///{path}"
    migrate(url)
    if world_speed is not None and built_at is not None:
        engine = make_engine(url)
        try:
            with make_session_factory(engine)() as session, session.begin():
                build_world(session, seed=WORLD_SEED, speed=world_speed, now=built_at)
        finally:
            engine.dispose()
    # The last connection closed: SQLite has written its log back into the file, which is now complete.
    if Path(f"{path}-wal").exists():
        raise RuntimeError(f"{path}-wal is still there: the template is not complete without it")
    if known is not None:
        known[0].unlink(missing_ok=True)
    _templates[key] = (path, started)
    return path
