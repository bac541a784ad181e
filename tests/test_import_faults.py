"""Imports into a real SQLite store that meet hostile records and a full disk (SQLITE_FULL, provoked with
``PRAGMA max_page_count``): good records are stored, bad ones reported, failed batches rolled back."""

from __future__ import annotations

import json
import lzma
from itertools import islice
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from bugsift.ingest import ImportStopped, import_reports
from bugsift.settings import Settings
from bugsift.sources.io import MAX_FIELD_CHARS
from bugsift.store.db import Database, open_database
from bugsift.store.models import ReportRow

DEEP = "[" * 10_000 + "]" * 10_000


def mozilla_lines(shared_data: Path, n: int) -> list[str]:
    with lzma.open(
        shared_data / "bugzilla-mozilla/bugs_full_add08f170.jsonl.xz", "rt", encoding="utf-8"
    ) as fh:
        return [line.rstrip("\n") for line in islice(fh, n)]


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def stored_ids(database: Database) -> list[str]:
    with database.session() as session:
        return list(session.scalars(select(ReportRow.external_id).order_by(ReportRow.id)))


def limit_pages(database: Database, extra_pages: int) -> None:
    """Let the database grow by ``extra_pages`` pages only: past that, SQLite fails with SQLITE_FULL."""
    with database.engine.connect() as connection:
        limit = connection.exec_driver_sql("PRAGMA page_count").scalar_one() + extra_pages

    @event.listens_for(database.engine, "connect")
    def _max_pages(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA max_page_count = {limit}")

    database.engine.dispose()  # pooled connections were opened without the limit


def test_a_deeply_nested_line_mid_batch_loses_nothing_else(
    sqlite_db: Database, shared_data: Path, tmp_path: Path
) -> None:
    lines = mozilla_lines(shared_data, 12)
    path = write(tmp_path / "bugs.jsonl", [*lines[:5], DEEP, *lines[5:]])

    summary = import_reports(sqlite_db, "bugzilla", [path], batch_size=4)

    assert summary.line() == "imported 12, updated 0, unchanged 0, rejected 1"
    assert [str(r) for r in summary.rejected] == [f"{path}:6: JSON nested deeper than 100 levels"]
    assert stored_ids(sqlite_db) == [str(json.loads(line)["id"]) for line in lines]


def test_a_full_disk_rolls_back_the_batch_and_keeps_the_committed_ones(
    sqlite_db: Database, shared_data: Path, tmp_path: Path
) -> None:
    lines = mozilla_lines(shared_data, 220)
    first = write(tmp_path / "first.jsonl", lines[:20])
    rest = write(tmp_path / "rest.jsonl", lines[20:])
    limit_pages(sqlite_db, 600)  # room for a few batches of 25 real bugs, not for 220

    with pytest.raises(ImportStopped) as stopped:
        import_reports(sqlite_db, "bugzilla", [first, rest], batch_size=25)

    stored = len(stored_ids(sqlite_db)) - 20
    assert 0 < stored < 200 and stored % 25 == 0  # whole batches only: the failed one left nothing
    message = str(stopped.value)
    assert message.splitlines() == [
        f"{rest}: the disk or database is full (database or disk is full); the import stopped here.",
        f"{stored:,} records of this file ({stored + 20:,} in all) were stored before it; the failed batch "
        "was rolled back. Run the same import again once the problem is fixed.",
    ]
    with sqlite_db.engine.connect() as connection:  # the full-text index matches the rows exactly
        connection.exec_driver_sql("INSERT INTO reports_fts (reports_fts) VALUES ('integrity-check')")

    roomy = open_database(Settings(home=sqlite_db.settings.home))  # space again: the same import finishes
    try:
        rerun = import_reports(roomy, "bugzilla", [rest], batch_size=25)
        assert (rerun.counts.imported, rerun.counts.unchanged) == (200 - stored, stored)
    finally:
        roomy.dispose()


def test_surrogates_and_a_huge_field_are_stored_as_the_docs_say(
    sqlite_db: Database, shared_data: Path, tmp_path: Path
) -> None:
    lines = mozilla_lines(shared_data, 3)
    bug = json.loads(lines[1])
    bug["comments"][0]["text"] = "x" * (MAX_FIELD_CHARS + 5)
    bug["summary"] = "Crash in \\ud800 layout"
    text = json.dumps(bug).replace("\\\\ud800", "\\ud800")  # a real lone-surrogate escape
    path = write(tmp_path / "bugs.jsonl", [lines[0], text, lines[2]])

    summary = import_reports(sqlite_db, "bugzilla", [path])

    assert summary.counts.imported == 3 and not summary.rejected
    cut = f"cut from {MAX_FIELD_CHARS + 5:,} to {MAX_FIELD_CHARS:,} characters"
    assert summary.warnings == [f"{path}:2: field 'comments[0].text' {cut}"]
    with sqlite_db.session() as session:
        row = session.scalar(select(ReportRow).where(ReportRow.external_id == str(bug["id"])))
        assert row is not None and row.title == "Crash in  layout"
        assert len(row.description) == MAX_FIELD_CHARS == len(row.raw["comments"][0]["text"])
        assert session.scalar(select(func.count()).select_from(ReportRow)) == 3
