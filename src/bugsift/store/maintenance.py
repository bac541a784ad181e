"""`bugsift db vacuum`: give back the space that deleted and rewritten rows leave behind.

SQLite never shrinks its file by itself: after migration 0010 compressed every stored raw record, or after
reports were re-imported, the pages stay allocated until ``VACUUM`` rewrites the file. The full-text index
(FTS5) is merged into one segment first (``optimize``), which makes it smaller and its queries faster.
PostgreSQL reuses dead rows' space after a plain ``VACUUM``; only ``VACUUM FULL`` (which locks each table
while it rewrites it) returns it to the operating system.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, text

from bugsift.store.db import Database


@dataclass(frozen=True)
class VacuumResult:
    dialect: str
    bytes_before: int
    bytes_after: int
    seconds: float
    full: bool

    def line(self) -> str:
        saved = self.bytes_before - self.bytes_after
        what = "VACUUM FULL" if self.full else "VACUUM"
        return (
            f"{self.dialect} {what}: {_mb(self.bytes_before)} -> {_mb(self.bytes_after)} "
            f"({_mb(max(saved, 0))} given back) in {self.seconds:.1f} s"
        )


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def vacuum(database: Database, full: bool = False) -> VacuumResult:
    """Compact the database in place; ``full`` also returns PostgreSQL's free space to the system."""
    dialect = database.engine.dialect.name
    started = time.perf_counter()
    before = database_bytes(database)
    if dialect == "sqlite":
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            if _has_table(connection, "reports_fts"):
                connection.execute(text("INSERT INTO reports_fts (reports_fts) VALUES ('optimize')"))
            connection.execute(text("VACUUM"))
            connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    elif dialect == "postgresql":
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM (FULL, ANALYZE)" if full else "VACUUM (ANALYZE)"))
    else:
        raise ValueError(f"vacuum knows SQLite and PostgreSQL, not {dialect}")
    return VacuumResult(dialect, before, database_bytes(database), time.perf_counter() - started, full)


def database_bytes(database: Database) -> int:
    """The database's size on disk: SQLite's file with its write-ahead log, PostgreSQL's database."""
    if database.engine.dialect.name == "sqlite":
        path = Path(database.engine.url.database or "")
        return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
    with database.engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_database_size(current_database())")).scalar_one())


def _has_table(connection: Connection, name: str) -> bool:
    query = text("SELECT 1 FROM sqlite_master WHERE name = :name")
    return connection.execute(query, {"name": name}).first() is not None
