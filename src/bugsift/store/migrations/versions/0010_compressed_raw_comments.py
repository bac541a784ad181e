"""A report's ``raw`` record and ``comments`` are stored zlib-compressed (`bugsift.store.compressed`).

They were 87% of the store (9.9 KB and 8.3 KB of a Jira report's 21 KB) and compress to about a fifth.
Each column is replaced by a binary one (BLOB / bytea) filled in batches of `BATCH` rows, then the old
one is dropped and the new one renamed. Not ``batch_alter_table``: rebuilding ``reports`` on SQLite would
drop the full-text triggers and, with foreign keys on, cascade the drop of the old table to the labels.

SQLite keeps the freed pages in the file until ``VACUUM`` (docs/data-model.md). On PostgreSQL the new
columns get ``STORAGE EXTERNAL``: TOAST would only try to compress zlib's output again.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from collections.abc import Callable
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

from bugsift.store.compressed import pack, unpack
from bugsift.store.models import JSONType

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

COLUMNS = ("raw", "comments")
BATCH = 1000  # rows read, converted and written at a time: memory stays flat whatever the store's size


def upgrade() -> None:
    _replace(sa.LargeBinary(), {n: "x''" for n in COLUMNS}, _compress)
    if op.get_bind().dialect.name == "postgresql":
        for name in COLUMNS:
            op.execute(f"ALTER TABLE reports ALTER COLUMN {name} SET STORAGE EXTERNAL")


def downgrade() -> None:
    _replace(JSONType, {"raw": "'{}'", "comments": "'[]'"}, _decompress)


def _compress(report_id: int, name: str, value: Any) -> bytes:
    try:
        return pack(orjson.loads(value))
    except orjson.JSONDecodeError as error:
        raise ValueError(f"reports row id={report_id}: column {name} is not valid JSON ({error})") from None


def _decompress(report_id: int, name: str, value: Any) -> Any:
    try:
        return unpack(value)
    except ValueError as error:
        raise ValueError(f"reports row id={report_id}: column {name}: {error}") from None


def _replace(
    new_type: sa.types.TypeEngine[Any],
    sqlite_defaults: dict[str, str],
    convert: Callable[[int, str, Any], Any],
) -> None:
    """Add a ``<name>_new`` column of `new_type` per column, fill it, drop the old column, rename."""
    connection = op.get_bind()
    sqlite = connection.dialect.name == "sqlite"
    for name in COLUMNS:
        # SQLite adds a NOT NULL column only with a default; PostgreSQL gets NOT NULL once it is filled.
        default = sa.text(sqlite_defaults[name]) if sqlite else None
        op.add_column(
            "reports", sa.Column(f"{name}_new", new_type, nullable=not sqlite, server_default=default)
        )
    _fill(connection, new_type, convert)
    for name in COLUMNS:
        op.execute(f"ALTER TABLE reports DROP COLUMN {name}")
        op.execute(f"ALTER TABLE reports RENAME COLUMN {name}_new TO {name}")
        if not sqlite:
            op.execute(f"ALTER TABLE reports ALTER COLUMN {name} SET NOT NULL")


def _fill(
    connection: sa.Connection, new_type: sa.types.TypeEngine[Any], convert: Callable[[int, str, Any], Any]
) -> None:
    """Convert every row, `BATCH` at a time in id order; the old columns are read as stored (JSON as text)."""
    old = {n: sa.column(n) for n in COLUMNS}
    new = {n: sa.column(f"{n}_new", new_type) for n in COLUMNS}
    reports = sa.table("reports", sa.column("id"), *old.values(), *new.values())
    # JSONB comes back parsed from psycopg: read its text, as SQLite gives it, so one path parses it.
    postgres_json = connection.dialect.name == "postgresql" and isinstance(new_type, sa.LargeBinary)
    read = [sa.cast(c, sa.Text) if postgres_json else c for c in old.values()]
    write = (
        reports.update()
        .where(reports.c.id == sa.bindparam("report_id"))
        .values({f"{n}_new": sa.bindparam(f"value_{n}", type_=new_type) for n in COLUMNS})
    )
    last = 0
    while rows := connection.execute(
        sa.select(reports.c.id, *read).where(reports.c.id > last).order_by(reports.c.id).limit(BATCH)
    ).all():
        values = []
        for report_id, *stored in rows:
            converted = {f"value_{n}": convert(report_id, n, v) for n, v in zip(COLUMNS, stored, strict=True)}
            values.append({"report_id": report_id, **converted})
        connection.execute(write, values)
        last = rows[-1][0]
