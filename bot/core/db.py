"""Engine and sessions. One engine per process, built from settings at start, never at import."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Engine, any_, bindparam, create_engine, event
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import Insert as PostgresqlInsert
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import QueryableAttribute, Session, sessionmaker


def make_engine(url: str) -> Engine:
    """SQLite gets WAL and a busy timeout, since web, actions and scheduler write to one file."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


T = TypeVar("T")


def among(session: Session, column: ColumnElement[T] | QueryableAttribute[T], values: Iterable[T]) -> ColumnElement[bool]:
    """`column IN (values)`; on PostgreSQL written `column = ANY(:array)`, one parameter whatever the
    count. A dispatch batch asks about a thousand ids at a time: as IN, each query is rendered with a
    thousand placeholders and parsed again by the driver (a quarter of a worker's time, py-spy)."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(list(values))


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with factory() as session, session.begin():
        yield session


def insert_or_skip(session: Session, table: Any, index_elements: list[str]) -> PostgresqlInsert | SqliteInsert:
    """INSERT … ON CONFLICT (index_elements) DO NOTHING in the session's dialect: a row another
    writer inserted meanwhile is skipped by the database instead of failing the transaction."""
    insert_fn = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    return insert_fn(table).on_conflict_do_nothing(index_elements=index_elements)
