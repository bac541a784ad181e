"""Where a report's bytes go in the SQLite store: tables, indexes and the full-text index, per report.

    python bench/store_size.py [--data ../shared/data] [--dataset jira] [--postgres URL]

Imports one shared dataset into a fresh store (the Apache Jira reports by default) and prints, from
SQLite's `dbstat`, the bytes of every table and index (FTS5 shadow tables grouped as one), their share,
and bytes per report; then what the `reports` row itself holds, column by column (average stored length;
the zlib-compressed columns `raw` and `comments` also with their length as JSON), and the store without
its raw records, which issue 20's target (<= 6 KB per report plus the raw record compressed) counts.
With ``--postgres`` the same import also goes into a scratch database on that server, and the bench prints
its tables' ``pg_total_relation_size`` (TOAST and indexes included) and the ``pg_column_size`` of the
report columns.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import uuid
import zlib
from collections import defaultdict
from pathlib import Path

from sqlalchemy import create_engine, text

from bugsift.ingest import import_reports
from bugsift.settings import Settings
from bugsift.store.db import open_database

ROOT = Path(__file__).resolve().parents[1]
DATASETS = {
    "jira": ("jira", "apache-jira/jira_issues.jsonl.xz"),
    "bugzilla": ("bugzilla", "bugzilla-mozilla/bugs_full_add08f170.jsonl.xz"),
    "eclipse": ("csv", "eclipse-localization/bug_reports.jsonl.xz"),
}
TEXT_COLUMNS = ("title", "description", "comments", "raw", "extra", "keywords", "components", "fixed_files")


def object_sizes(db: sqlite3.Connection) -> dict[str, int]:
    """Bytes per table or index; the FTS5 shadow tables (reports_fts_data, _idx, ...) count as one."""
    sizes: dict[str, int] = defaultdict(int)
    for name, size in db.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"):
        group = "reports_fts (all shadow tables)" if name.startswith("reports_fts") else name
        sizes[group] += int(size)
    return dict(sizes)


def column_bytes(db: sqlite3.Connection) -> dict[str, tuple[float, float | None]]:
    """Average stored length of the report columns that hold text or JSON, and for the compressed (BLOB)
    ones also the average length of the JSON they hold."""
    declared = {row[1]: row[2].upper() for row in db.execute("PRAGMA table_info(reports)")}
    columns = [c for c in TEXT_COLUMNS if c in declared]
    averages = ", ".join(f"avg(length(CAST({c} AS BLOB)))" for c in columns)
    row = db.execute(f"SELECT {averages} FROM reports").fetchone()
    sizes: dict[str, tuple[float, float | None]] = {}
    for name, stored in zip(columns, row, strict=True):
        as_json = None
        if declared[name] == "BLOB":
            lengths = [len(zlib.decompress(v)) for (v,) in db.execute(f"SELECT {name} FROM reports")]
            as_json = sum(lengths) / max(len(lengths), 1)
        sizes[name] = (float(stored or 0), as_json)
    return sizes


def postgres_sizes(admin_url: str, source: str, path: Path) -> None:
    """Import into a scratch database on the server, print what its tables and columns take, drop it."""
    name = f"store_size_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        with tempfile.TemporaryDirectory() as home:
            url = admin_url.rsplit("/", 1)[0] + f"/{name}"
            database = open_database(Settings(home=Path(home), database_url=url))
            import_reports(database, source, [path])
            with database.engine.connect() as connection:
                n = connection.execute(text("SELECT count(*) FROM reports")).scalar_one()
                tables = connection.execute(
                    text(
                        "SELECT relname, pg_total_relation_size(oid) FROM pg_class WHERE relkind = 'r' "
                        "AND relnamespace = 'public'::regnamespace ORDER BY 2 DESC"
                    )
                ).all()
                averages = ", ".join(f"avg(pg_column_size({c}))" for c in TEXT_COLUMNS)
                columns = connection.execute(text(f"SELECT {averages} FROM reports")).one()
                total = connection.execute(text(f"SELECT pg_database_size('{name}')")).scalar_one()
            database.dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    print()
    print(f"PostgreSQL: {n:,} reports")
    print(f"{'table (with TOAST and indexes)':40} {'MB':>9} {'B/report':>9}")
    for table, size in tables:
        if size >= 0.001 * total:
            print(f"{table:40} {size / 1e6:9.1f} {size / n:9,.0f}")
    print(f"{'the whole database':40} {total / 1e6:9.1f} {total / n:9,.0f}")
    print(f"{'reports column (pg_column_size)':40} {'B/report':>9}")
    column_sizes = {column: float(size or 0) for column, size in zip(TEXT_COLUMNS, columns, strict=True)}
    for column, size in sorted(column_sizes.items(), key=lambda item: -item[1]):
        print(f"{column:40} {size:9,.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="jira")
    parser.add_argument("--postgres", help="also measure on this PostgreSQL server URL (scratch db)")
    args = parser.parse_args()
    source, relative = DATASETS[args.dataset]
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home))
        database = open_database(settings)
        summary = import_reports(database, source, [args.data / relative])
        database.dispose()
        path = Path(settings.resolved_database_url.split("///", 1)[1])
        with sqlite3.connect(path) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            n = db.execute("SELECT count(*) FROM reports").fetchone()[0]
            sizes = object_sizes(db)
            columns = column_bytes(db)
        total = sum(sizes.values())
        print(f"{args.dataset}: {n:,} reports ({summary.counts.imported:,} imported)")
        print(f"{'table or index':40} {'MB':>9} {'share':>7} {'B/report':>9}")
        for name, size in sorted(sizes.items(), key=lambda item: -item[1]):
            if size / total >= 0.001:  # the empty tables of the web app and the job queue are left out
                print(f"{name:40} {size / 1e6:9.1f} {size / total:7.1%} {size / n:9,.0f}")
        print(f"{'all':40} {total / 1e6:9.1f} {1:7.1%} {total / n:9,.0f}")
        print()
        print(f"{'reports column (average bytes)':40} {'B/report':>9} {'as JSON':>9}")
        for name, (stored, as_json) in sorted(columns.items(), key=lambda item: -item[1][0]):
            shown = "" if as_json is None else f"{as_json:9,.0f}"
            print(f"{name:40} {stored:9,.0f} {shown:>9}{'   zlib' if as_json is not None else ''}")
        raw = columns.get("raw", (0.0, None))[0]
        print()
        print(f"{'all but the raw record (stored)':40} {total / n - raw:9,.0f}   (target <= 6,000)")
        print(f"{'raw record (stored)':40} {raw:9,.0f}")
    if args.postgres:
        postgres_sizes(args.postgres, source, args.data / relative)


if __name__ == "__main__":
    main()
