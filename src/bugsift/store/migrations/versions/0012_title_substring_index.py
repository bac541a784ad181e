"""An index for the triage queue's "title contains": substrings, not words, so trigrams.

"title contains" is a case-insensitive substring match. Without an index a search that matches little
reads every title: 1.5 s at a million reports (docs/performance.md, "Triage queue"). SQLite gets an
FTS5 table with the trigram tokenizer over the titles (external content, kept by triggers, no
positions: the queue asks only which titles match); PostgreSQL a GIN index with `pg_trgm`, which its
planner uses for ILIKE by itself. Where neither is available (SQLite before 3.34, a PostgreSQL role
that may not create the extension), nothing is created and the queue reads every title, as before.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

SQLITE_UPGRADE = [
    "CREATE VIRTUAL TABLE reports_title_trigrams USING fts5("
    "title, content='reports', content_rowid='id', tokenize='trigram', detail='none')",
    """
    CREATE TRIGGER reports_title_trigrams_insert AFTER INSERT ON reports BEGIN
        INSERT INTO reports_title_trigrams (rowid, title) VALUES (new.id, new.title);
    END
    """,
    """
    CREATE TRIGGER reports_title_trigrams_delete AFTER DELETE ON reports BEGIN
        INSERT INTO reports_title_trigrams (reports_title_trigrams, rowid, title)
        VALUES ('delete', old.id, old.title);
    END
    """,
    """
    CREATE TRIGGER reports_title_trigrams_update AFTER UPDATE OF title ON reports BEGIN
        INSERT INTO reports_title_trigrams (reports_title_trigrams, rowid, title)
        VALUES ('delete', old.id, old.title);
        INSERT INTO reports_title_trigrams (rowid, title) VALUES (new.id, new.title);
    END
    """,
    "INSERT INTO reports_title_trigrams (reports_title_trigrams) VALUES ('rebuild')",
]

SQLITE_DOWNGRADE = [
    "DROP TRIGGER IF EXISTS reports_title_trigrams_update",
    "DROP TRIGGER IF EXISTS reports_title_trigrams_delete",
    "DROP TRIGGER IF EXISTS reports_title_trigrams_insert",
    "DROP TABLE IF EXISTS reports_title_trigrams",
]


def _sqlite_has_trigrams(bind: sa.Connection) -> bool:
    version = tuple(
        int(part) for part in bind.exec_driver_sql("SELECT sqlite_version()").scalar_one().split(".")
    )
    return version >= (3, 34)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        if _sqlite_has_trigrams(bind):
            for statement in SQLITE_UPGRADE:
                op.execute(statement)
    elif bind.dialect.name == "postgresql":
        savepoint = bind.begin_nested()
        try:  # pg_trgm is a trusted extension (PostgreSQL 13+): a database owner may create it
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except sa.exc.DBAPIError:
            savepoint.rollback()
            return
        savepoint.commit()
        op.execute("CREATE INDEX ix_reports_title_trigrams ON reports USING gin (title gin_trgm_ops)")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in SQLITE_DOWNGRADE:
            op.execute(statement)
    elif bind.dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_reports_title_trigrams")
