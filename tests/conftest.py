"""Shared fixtures: a fresh database per test, on SQLite and (when configured) on PostgreSQL; a real
browser (Debian's chromium driven by Playwright) for the pages."""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright
from sqlalchemy import create_engine, text
from xdist.scheduler import LoadScopeScheduling

from bot.core.runtime import Runtime
from bot.core.schema import migrate
from bot.core.settings import Settings
from bot.processes.devstack import PORT_RANGE
from tests import worlds

POSTGRES_URL = os.environ.get("DOORSTEP_TEST_POSTGRES_URL")
REQUIRE_POSTGRES = os.environ.get("DOORSTEP_REQUIRE_POSTGRES") == "1"
# A fixed instant for deterministic worlds: Tuesday 24 Nov 2026, 06:00 UTC (07:00 in Berlin).
T0 = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def make_settings(database_url: str, **overrides: object) -> Settings:
    return Settings(_env_file=None, database_url=database_url, **overrides)  # type: ignore[call-arg]


def _postgres_schema_url() -> Iterator[str]:
    if not POSTGRES_URL:
        if REQUIRE_POSTGRES:
            pytest.fail("DOORSTEP_REQUIRE_POSTGRES=1 but DOORSTEP_TEST_POSTGRES_URL is not set")
        pytest.skip("PostgreSQL not configured: set DOORSTEP_TEST_POSTGRES_URL (CI does)")
    schema = f"doorstep_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


# Files whose tests share one running stack (tests/e2e/conftest.py): one xdist worker takes them all.
SHARED_STACK = "tests/e2e/"


class _ByFile(LoadScopeScheduling):
    """pytest-xdist's scheduling by scope, with a file as the scope (so a module's fixture, such as a Rasa
    stack, starts once) and the end-to-end files as one (their session's stack starts once)."""

    def _split_scope(self, nodeid: str) -> str:
        path = nodeid.split("::", 1)[0]
        return SHARED_STACK if path.startswith(SHARED_STACK) else path


def pytest_configure(config: pytest.Config) -> None:
    """An xdist worker takes the ports of the processes it starts from a range of its own, below the
    kernel's ephemeral ports (32768 on): gw0 20000-21999, gw1 22000-23999, …"""
    worker = getattr(config, "workerinput", {}).get("workerid")
    if worker is not None:
        first = 20_000 + 2_000 * int(worker.removeprefix("gw"))
        os.environ[PORT_RANGE] = f"{first}-{first + 1_999}"


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> LoadScopeScheduling:
    return _ByFile(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test its own node id: schemathesis gives each operation's test the same one, and xdist,
    which hands tests out by node id, would run one of them. (NodeId is pytest's own, pinned.)"""
    named = Counter(item.nodeid for item in items)
    for item in items:
        if named[item.nodeid] > 1 and item.name.endswith("]") and "[" in item.name:
            item._id = item._id.with_params(item.name[item.name.index("[") + 1:-1])  # type: ignore[attr-defined]
    repeated = [nodeid for nodeid, count in Counter(item.nodeid for item in items).items() if count > 1]
    if repeated:
        raise pytest.UsageError(f"tests with the same node id would not all run under xdist: {repeated[:3]}")


@pytest.fixture(scope="session", autouse=True)
def _database_templates(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The session's migrated (and world-building) template databases, copied for each test (tests/worlds.py)."""
    worlds.use_directory(tmp_path_factory.mktemp("templates"))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database: the repository tests run on both engines."""
    if request.param == "sqlite":
        yield worlds.fresh_sqlite(tmp_path / "test.db")
    else:
        for url in _postgres_schema_url():
            migrate(url)
            yield url


@pytest.fixture
def runtime(database_url: str) -> Iterator[Runtime]:
    rt = Runtime.build(make_settings(database_url))
    yield rt
    rt.engine.dispose()


@pytest.fixture
def sqlite_runtime(tmp_path: Path) -> Iterator[Runtime]:
    """SQLite only: for tests about behaviour, not about the database engine."""
    rt = Runtime.build(make_settings(worlds.fresh_sqlite(tmp_path / "app.db")))
    yield rt
    rt.engine.dispose()


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's chromium driven by Playwright. While it is open, Playwright's sync API has its event loop
    marked as running in this thread: code that calls asyncio.run() must run before or after, not inside."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One chromium for a module's browser tests; each test gets its own context (cookies, storage)."""
    with chromium() as launched:
        yield launched


@pytest.fixture
def viewport() -> ViewportSize:
    """The window `page` opens with (Playwright's default); a module overrides it for its pages' layout."""
    return {"width": 1280, "height": 720}


@pytest.fixture
def page(browser: Browser, viewport: ViewportSize) -> Iterator[Page]:
    """A fresh page in a context of its own, closed after the test."""
    context = browser.new_context(viewport=viewport)
    yield context.new_page()
    context.close()
