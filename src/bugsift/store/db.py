"""Engines and sessions: SQLite by default (WAL, busy timeout, foreign keys), PostgreSQL by URL."""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from bugsift.settings import Settings
from bugsift.store.jsoncodec import json_text

_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()


def _forget_inherited_connections() -> None:
    """In a forked child, drop the parent's pooled connections without closing them.

    A Celery prefork child (or any fork) inherits the pool: its next query would share a socket with the
    parent's sweeper thread, and PostgreSQL drops the connection mid-job ("server closed the connection
    unexpectedly"). ``close=False`` leaves the sockets to the parent, as SQLAlchemy advises for fork.
    """
    for engine in list(_ENGINES):
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_inherited_connections)


def make_engine(url: str, sqlite_busy_timeout_ms: int = 30_000) -> Engine:
    """Create an engine; SQLite connections get WAL, a busy timeout and enforced foreign keys."""
    engine = _make_engine(url, sqlite_busy_timeout_ms)
    _ENGINES.add(engine)
    return engine


def _make_engine(url: str, sqlite_busy_timeout_ms: int) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:" and not path.startswith("file:"):
            _create_private(Path(path))
        engine = create_engine(
            url,
            connect_args={"timeout": sqlite_busy_timeout_ms / 1000},
            json_serializer=json_text,
            json_deserializer=orjson.loads,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={int(sqlite_busy_timeout_ms)}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; commits survive a process crash
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, json_serializer=json_text, json_deserializer=orjson.loads)


def _create_private(path: Path) -> None:
    """Create the SQLite file readable by its owner only (it holds every report, users and token hashes);
    SQLite gives its -wal and -shm files the same mode. An existing file keeps the mode it has."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


class Database:
    """An engine plus a session factory, created from Settings; the schema is migrated on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = settings.resolved_database_url
        self.engine = make_engine(self.url, settings.sqlite_busy_timeout_ms)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (idempotent)."""
        from bugsift.store.migrate import upgrade

        upgrade(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error."""
        with self._sessions() as session, session.begin():
            yield session

    def refresh_statistics(self) -> None:
        """Let the query planner see the rows a bulk write added.

        PostgreSQL plans the duplicate search from table statistics; until autovacuum gets round to a
        freshly imported table it guesses, and picks sequential scans. SQLite samples at most 1,000 rows
        per index (`analysis_limit`) so that this stays well under a second on a large store.
        """
        with self.engine.begin() as connection:
            if self.engine.dialect.name == "sqlite":
                connection.exec_driver_sql("PRAGMA analysis_limit = 1000")
            connection.exec_driver_sql("ANALYZE")

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(settings: Settings) -> Database:
    """Open (and migrate) the database the settings point at."""
    if settings.database_url is None:
        settings.ensure_home()
    database = Database(settings)
    database.migrate()
    return database
