""" "Title contains" through the trigram index (migration 0012) finds exactly what a plain ILIKE finds,
follows edits and deletions, and is what the database uses, on SQLite and PostgreSQL, on real bugs."""

from __future__ import annotations

import lzma
from itertools import islice
from pathlib import Path

import pytest
from sqlalchemy import delete, select, text, update

from bugsift.ingest import import_reports
from bugsift.store import title_search
from bugsift.store.db import Database
from bugsift.store.models import ReportRow
from bugsift.store.title_search import title_contains

NEEDLES = ["crash", "CRASH", "ash", "rash on", "Fire", "fox", "ab", "100%", "a_b", "é", "zzzz"]


def matching(database: Database, needle: str) -> set[int]:
    with database.session() as session:
        return set(session.scalars(select(ReportRow.id).where(title_contains(session, needle))))


def plain(database: Database, needle: str) -> set[int]:
    with database.session() as session:
        titles = session.execute(select(ReportRow.id, ReportRow.title))
        return {i for i, title in titles if needle.casefold() in title.casefold()}


def test_title_contains_finds_what_a_substring_match_finds(
    database: Database, shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "mozilla.jsonl"
    with lzma.open(shared_data / "bugzilla-mozilla/bugs_full_add08f170.jsonl.xz", "rt") as handle:
        path.write_text("".join(islice(handle, 200)))
    import_reports(database, "bugzilla", [path])
    with database.session() as session:
        first, second = session.scalars(select(ReportRow.id).order_by(ReportRow.id).limit(2))
        session.execute(update(ReportRow).where(ReportRow.id == first).values(title="Zzzz: a renamed bug"))
        session.execute(delete(ReportRow).where(ReportRow.id == second))
    for probe in (title_search.PROBE, 3):  # rare needles seek the index; common ones walk the titles
        monkeypatch.setattr(title_search, "PROBE", probe)
        for needle in NEEDLES:
            assert matching(database, needle) == plain(database, needle), (probe, needle)
    assert matching(database, "zzzz") == {first} and len(matching(database, "crash")) > 3


def test_the_database_seeks_the_trigram_index(database: Database) -> None:
    with database.session() as session:
        if database.engine.dialect.name == "sqlite":
            probe = f"SELECT rowid FROM {title_search.TRIGRAMS} WHERE title LIKE '%nullpointer%' LIMIT 10"
            plan = " ".join(row[-1] for row in session.execute(text(f"EXPLAIN QUERY PLAN {probe}")))
            assert f"{title_search.TRIGRAMS} VIRTUAL TABLE INDEX" in plan, plan
        else:
            indexes = session.scalars(text("SELECT indexname FROM pg_indexes WHERE tablename = 'reports'"))
            assert "ix_reports_title_trigrams" in set(indexes)
