"""INSERT ... ON CONFLICT for the two supported backends (SQLite and PostgreSQL share the syntax), and the
bulk path for rows that are new: one multi-row INSERT per batch on SQLite, COPY on PostgreSQL."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Dialect, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

Row = dict[str, Any]
# Rows per multi-row INSERT on SQLite: the whole default batch of 500 in one statement (see insert_new_rows).
SQLITE_ROWS_PER_STATEMENT = 500


def insert_for(session: Session, model: Any) -> Any:
    """The dialect-specific Core INSERT (on the model's table, or a Table) with ``on_conflict_do_update``.

    Core on the table, not the ORM entity: the ORM's bulk path splits an executemany into many
    small statements, which made imports several times slower.
    """
    table = getattr(model, "__table__", model)
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise ValueError(f"unsupported database {dialect!r}: bugsift runs on SQLite or PostgreSQL")


def insert_new_rows(
    session: Session, model: Any, rows: Sequence[Row], key: Sequence[str], keep: Sequence[str] = ()
) -> None:
    """Insert rows that a lookup just found missing (all with the same columns), in bulk.

    A row whose ``key`` (a unique constraint's columns) a concurrent writer inserted meanwhile updates
    that row instead, every column but those in ``keep``, as INSERT ... ON CONFLICT DO UPDATE does.

    SQLite: one multi-row INSERT ... ON CONFLICT per batch instead of an executemany. The full-text
    index is maintained by an FTS5 trigger, and FTS5 writes its pending terms out as a new index segment
    at the end of every statement: one statement per row made a segment per row and merging them cost
    two thirds of the import. PostgreSQL: COPY, in a savepoint; on a unique-key conflict the savepoint is
    rolled back and the rows go through the INSERT ... ON CONFLICT executemany.
    """
    if not rows:
        return
    table: Table = model.__table__
    connection = session.connection()
    columns = tuple(rows[0])
    update = tuple(name for name in columns if name not in keep and name not in key)
    dialect = connection.dialect
    if dialect.name == "sqlite":
        _sqlite_insert(connection, table, rows, columns, tuple(key), update)
    elif dialect.name == "postgresql" and dialect.driver == "psycopg":
        _postgres_copy(session, table, rows, columns, tuple(key), update)
    else:
        _executemany(session, table, rows, tuple(key), update)


def _executemany(
    session: Session, table: Table, rows: Sequence[Row], key: tuple[str, ...], update: tuple[str, ...]
) -> None:
    insert = insert_for(session, table)
    insert = insert.on_conflict_do_update(
        index_elements=list(key), set_={name: insert.excluded[name] for name in update}
    )
    # executemany, not one giant multi-VALUES Core statement: compiling that costs more than the rows.
    session.connection().execute(insert, list(rows))


def _processors(
    table: Table, dialect: Dialect, columns: tuple[str, ...]
) -> list[Callable[[Any], Any] | None]:
    """Each column type's own bind processor, so that the values stored are those Core would store."""
    return [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns]


def _bound(rows: Sequence[Row], columns: tuple[str, ...], processors: list[Any]) -> list[Any]:
    """The rows' values in column order, each through its column's bind processor, as one flat list."""
    pairs = list(zip(columns, processors, strict=True))
    return [process(row[name]) if process else row[name] for row in rows for name, process in pairs]


def _sqlite_insert(
    connection: Connection,
    table: Table,
    rows: Sequence[Row],
    columns: tuple[str, ...],
    key: tuple[str, ...],
    update: tuple[str, ...],
) -> None:
    driver = connection.connection.driver_connection
    limit = driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) if driver is not None else 999
    per_statement = max(1, min(SQLITE_ROWS_PER_STATEMENT, limit // len(columns)))
    processors = _processors(table, connection.dialect, columns)
    quote = connection.dialect.identifier_preparer.quote
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        sql = _sqlite_sql(quote(table.name), tuple(map(quote, columns)), key, update, len(chunk))
        connection.exec_driver_sql(sql, tuple(_bound(chunk, columns, processors)))


@lru_cache(maxsize=32)
def _sqlite_sql(
    table: str, columns: tuple[str, ...], key: tuple[str, ...], update: tuple[str, ...], n: int
) -> str:
    one = "(" + ", ".join("?" * len(columns)) + ")"
    conflict = ", ".join(key)
    sets = ", ".join(f"{name} = excluded.{name}" for name in update)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([one] * n)} "
        f"ON CONFLICT ({conflict}) DO UPDATE SET {sets}"
    )


def _postgres_copy(
    session: Session,
    table: Table,
    rows: Sequence[Row],
    columns: tuple[str, ...],
    key: tuple[str, ...],
    update: tuple[str, ...],
) -> None:
    connection = session.connection()
    import psycopg  # here only: this path runs with the psycopg driver alone

    processors = _processors(table, connection.dialect, columns)
    quote = connection.dialect.identifier_preparer.quote
    sql = f"COPY {quote(table.name)} ({', '.join(map(quote, columns))}) FROM STDIN"
    width = len(columns)
    values = _bound(rows, columns, processors)
    savepoint = connection.begin_nested()
    try:
        cursor = connection.connection.driver_connection.cursor()
        with cursor, cursor.copy(sql) as copy:
            for start in range(0, len(values), width):
                copy.write_row(values[start : start + width])
    except psycopg.errors.UniqueViolation:
        savepoint.rollback()
    except psycopg.Error as error:
        savepoint.rollback()
        # as SQLAlchemy would have raised it: callers tell a database problem by DBAPIError
        raise DBAPIError.instance(sql, None, error, psycopg.Error) from error
    else:
        savepoint.commit()
        return
    # A concurrent writer stored some of the keys since the lookup: upsert the batch instead.
    _executemany(session, table, rows, key, update)
