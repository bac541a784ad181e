"""Where a report's bytes go in the SQLite store: tables, indexes and the full-text index, per report.

    python bench/store_size.py [--data ../shared/data] [--tracker jira]

Imports one shared dataset into a fresh store (the Apache Jira reports by default) and prints, from
SQLite's `dbstat`, the bytes of every table and index (FTS5 shadow tables grouped as one), their share,
and bytes per report; then what the `reports` row itself holds, column by column (average stored length).
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
from collections import defaultdict
from pathlib import Path

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


def column_bytes(db: sqlite3.Connection) -> dict[str, float]:
    """Average stored length of the report columns that hold text or JSON."""
    present = {row[1] for row in db.execute("PRAGMA table_info(reports)")}
    columns = [c for c in TEXT_COLUMNS if c in present]
    averages = ", ".join(f"avg(length(CAST({c} AS BLOB)))" for c in columns)
    row = db.execute(f"SELECT {averages} FROM reports").fetchone()
    return {c: float(v or 0) for c, v in zip(columns, row, strict=True)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="jira")
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
        print(f"{'reports column (average stored bytes)':40} {'B/report':>9}")
        for name, size in sorted(columns.items(), key=lambda item: -item[1]):
            print(f"{name:40} {size:9,.0f}")


if __name__ == "__main__":
    main()
