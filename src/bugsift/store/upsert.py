"""INSERT ... ON CONFLICT for the two supported backends (SQLite and PostgreSQL share the syntax)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_for(session: Session, model: Any) -> Any:
    """The dialect-specific Core INSERT (on the model's table) that offers ``on_conflict_do_update``.

    Core on the table, not the ORM entity: the ORM's bulk path splits an executemany into many
    small statements, which made imports several times slower.
    """
    table = model.__table__
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise ValueError(f"unsupported database {dialect!r}: bugsift runs on SQLite or PostgreSQL")
