"""Duplicate search: a full-text index of report titles and descriptions, kept current by triggers.

SQLite: an FTS5 external-content table ``reports_fts`` (rowid = reports.id, columns title and
description) plus three triggers on ``reports``.
PostgreSQL: a side table ``report_search`` (report_id, weighted tsvector: title A, description B) with a
GIN index, filled by a trigger function on ``reports``.

Both are maintained row by row inside the writing transaction: an import or a new report is searchable as
soon as it commits, an edited one is found by its new text, and nothing is ever rebuilt in full. Only the
first 60,000 characters of a description are indexed (PostgreSQL refuses tsvectors above 1 MB; huge logs
add nothing to a search).

Caution for later migrations: on SQLite, a batch ``alter_table("reports")`` recreates the table and drops
its triggers; such a migration must run ``SQLITE_TRIGGERS`` of this module again.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

INDEXED_DESCRIPTION_CHARS = 60_000

SQLITE_TRIGGERS = [
    f"""
    CREATE TRIGGER reports_fts_insert AFTER INSERT ON reports BEGIN
        INSERT INTO reports_fts (rowid, title, description)
        VALUES (new.id, new.title, substr(new.description, 1, {INDEXED_DESCRIPTION_CHARS}));
    END
    """,
    f"""
    CREATE TRIGGER reports_fts_delete AFTER DELETE ON reports BEGIN
        INSERT INTO reports_fts (reports_fts, rowid, title, description)
        VALUES ('delete', old.id, old.title, substr(old.description, 1, {INDEXED_DESCRIPTION_CHARS}));
    END
    """,
    f"""
    CREATE TRIGGER reports_fts_update AFTER UPDATE OF title, description ON reports BEGIN
        INSERT INTO reports_fts (reports_fts, rowid, title, description)
        VALUES ('delete', old.id, old.title, substr(old.description, 1, {INDEXED_DESCRIPTION_CHARS}));
        INSERT INTO reports_fts (rowid, title, description)
        VALUES (new.id, new.title, substr(new.description, 1, {INDEXED_DESCRIPTION_CHARS}));
    END
    """,
]

SQLITE_UPGRADE = [
    # External content: the text stays in `reports`; the index holds only the inverted lists.
    """
    CREATE VIRTUAL TABLE reports_fts USING fts5(
        title, description, content='reports', content_rowid='id',
        tokenize='porter unicode61 remove_diacritics 2', detail='column'
    )
    """,
    f"""
    INSERT INTO reports_fts (rowid, title, description)
    SELECT id, title, substr(description, 1, {INDEXED_DESCRIPTION_CHARS}) FROM reports
    """,
    *SQLITE_TRIGGERS,
]

SQLITE_DOWNGRADE = [
    "DROP TRIGGER IF EXISTS reports_fts_update",
    "DROP TRIGGER IF EXISTS reports_fts_delete",
    "DROP TRIGGER IF EXISTS reports_fts_insert",
    "DROP TABLE IF EXISTS reports_fts",
]

_PG_DOCUMENT = (
    "setweight(to_tsvector('english'::regconfig, coalesce({row}.title, '')), 'A') || "
    "setweight(to_tsvector('english'::regconfig, "
    f"left(coalesce({{row}}.description, ''), {INDEXED_DESCRIPTION_CHARS})), 'B')"
)

POSTGRES_UPGRADE = [
    """
    CREATE TABLE report_search (
        report_id integer PRIMARY KEY REFERENCES reports (id) ON DELETE CASCADE,
        document tsvector NOT NULL
    )
    """,
    "CREATE INDEX ix_report_search_document ON report_search USING gin (document)",
    f"""
    CREATE FUNCTION report_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO report_search (report_id, document)
        VALUES (NEW.id, {_PG_DOCUMENT.format(row="NEW")})
        ON CONFLICT (report_id) DO UPDATE SET document = EXCLUDED.document;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER report_search_insert AFTER INSERT ON reports
    FOR EACH ROW EXECUTE FUNCTION report_search_sync()
    """,
    """
    CREATE TRIGGER report_search_update AFTER UPDATE OF title, description ON reports
    FOR EACH ROW
    WHEN (OLD.title IS DISTINCT FROM NEW.title OR OLD.description IS DISTINCT FROM NEW.description)
    EXECUTE FUNCTION report_search_sync()
    """,
    f"""
    INSERT INTO report_search (report_id, document)
    SELECT r.id, {_PG_DOCUMENT.format(row="r")} FROM reports r
    """,
]

POSTGRES_DOWNGRADE = [
    "DROP TRIGGER IF EXISTS report_search_update ON reports",
    "DROP TRIGGER IF EXISTS report_search_insert ON reports",
    "DROP FUNCTION IF EXISTS report_search_sync()",
    "DROP TABLE IF EXISTS report_search",
]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    statements = {"sqlite": SQLITE_UPGRADE, "postgresql": POSTGRES_UPGRADE}.get(dialect)
    if statements is None:
        raise RuntimeError(f"duplicate search supports SQLite and PostgreSQL, not {dialect}")
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in {"sqlite": SQLITE_DOWNGRADE, "postgresql": POSTGRES_DOWNGRADE}.get(dialect, []):
        op.execute(statement)
