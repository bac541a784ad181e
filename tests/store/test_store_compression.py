"""``raw`` and ``comments`` stored zlib-compressed (migration 0010), on SQLite and PostgreSQL, real rows."""

from __future__ import annotations

import zlib
from itertools import islice
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa

from bugsift.sources import read_reports
from bugsift.sources.base import Report
from bugsift.store.compressed import CompressedValueError, pack, unpack
from bugsift.store.db import Database
from bugsift.store.jsoncodec import json_bytes
from bugsift.store.labels import upsert_labels
from bugsift.store.migrate import current_revision, downgrade, head_revision, upgrade
from bugsift.store.models import JSONType, LabelRow, ReportRow, utcnow
from bugsift.store.reports import _row_values, iter_reports, upsert_reports

BIG = ("raw", "comments")


@pytest.fixture(scope="module")
def real_reports(shared_data: Path) -> list[Report]:
    """Real records of two trackers: Jira flat lines (comments as text) and Bugzilla REST bugs (history,
    comment objects, non-ASCII), plus one with an empty record."""
    jira = islice(read_reports("jira", shared_data / "apache-jira/jira_issues.jsonl.xz"), 150)
    mozilla = islice(
        read_reports("bugzilla", shared_data / "bugzilla-mozilla/bugs_full_add08f170.jsonl.xz"), 30
    )
    reports = [r for r in [*jira, *mozilla] if isinstance(r, Report)]
    assert len(reports) == 180 and sum(bool(r.comments) for r in reports) > 100
    return [*reports, Report(tracker="csv", external_id="1", title="no raw record kept")]


def legacy_reports_table() -> sa.Table:
    """``reports`` as migration 0009 left it: ``raw`` and ``comments`` were JSON (JSONB on PostgreSQL)."""
    columns = [
        sa.Column(c.name, JSONType if c.name in BIG else c.type, primary_key=c.primary_key)
        for c in ReportRow.__table__.columns
    ]
    return sa.Table("reports", sa.MetaData(), *columns)


def store_at_0009(database: Database, reports: list[Report]) -> None:
    downgrade(database.engine, "0009")
    now = utcnow()
    with database.engine.begin() as connection:
        connection.execute(
            legacy_reports_table().insert(),
            [{**_row_values(r), "imported_at": now, "updated_at": now} for r in reports],
        )


def stored_bytes(database: Database) -> dict[str, tuple[bytes, bytes]]:
    with database.engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT external_id, raw, comments FROM reports"))
        return {e: (bytes(r), bytes(c)) for e, r, c in rows}


def test_upgrade_compresses_real_rows_and_reads_back_the_same(
    database: Database, real_reports: list[Report]
) -> None:
    store_at_0009(database, real_reports)
    with database.session() as session:
        first = session.scalar(sa.select(ReportRow.id).order_by(ReportRow.id).limit(1))
        upsert_labels(session, [(first, "triage", "defect")], source="human")

    upgrade(database.engine)

    assert current_revision(database.engine) == head_revision(database.engine)
    with database.session() as session:
        back = {r.external_id: r for _, r in iter_reports(session)}
        assert session.scalar(sa.select(sa.func.count()).select_from(LabelRow)) == 1  # no cascade
    assert len(back) == len(real_reports)
    for report in real_reports:
        assert back[report.external_id].raw == report.raw
        assert back[report.external_id].comments == report.comments
    stored = stored_bytes(database)
    jira = real_reports[0]
    raw, comments = stored[jira.external_id]
    # Plain zlib over JSON, readable without bugsift (JSONB had not kept the key order: compare values).
    assert (
        orjson.loads(zlib.decompress(raw)) == jira.raw
        and orjson.loads(zlib.decompress(comments)) == jira.comments
    )
    text = sum(len(json_bytes(r.raw)) + len(json_bytes(r.comments)) for r in real_reports)
    assert sum(len(r) + len(c) for r, c in stored.values()) < text / 3

    # The content hashes did not change: the same dump again leaves every row alone.
    with database.session() as session:
        counts = upsert_reports(session, real_reports)
    assert (counts.imported, counts.updated, counts.unchanged) == (0, 0, len(real_reports))


def test_downgrade_gives_the_json_back(database: Database, real_reports: list[Report]) -> None:
    with database.session() as session:
        upsert_reports(session, real_reports)
    downgrade(database.engine, "0009")
    legacy = legacy_reports_table()
    with database.engine.connect() as connection:
        rows = {e: (r, c) for e, r, c in connection.execute(sa.select(legacy.c.external_id, *legacy.c[BIG]))}
    for report in real_reports:
        assert rows[report.external_id] == (report.raw, report.comments)
    upgrade(database.engine)
    with database.session() as session:
        assert {r.external_id: r.raw for _, r in iter_reports(session)} == {
            r.external_id: r.raw for r in real_reports
        }


def test_new_and_changed_rows_are_stored_compressed(database: Database, real_reports: list[Report]) -> None:
    with database.session() as session:
        upsert_reports(session, real_reports[:20])
        changed = Report(**{**real_reports[3].__dict__, "comments": ["One more comment, é and ✓"]})
        counts = upsert_reports(session, [changed])
    assert counts.updated == 1
    raw, comments = stored_bytes(database)[changed.external_id]
    assert unpack(comments) == ["One more comment, é and ✓"] and unpack(raw) == changed.raw


def test_the_full_text_index_still_follows_the_reports_after_the_upgrade(
    sqlite_db: Database, real_reports: list[Report]
) -> None:
    store_at_0009(sqlite_db, real_reports[:50])
    upgrade(sqlite_db.engine)
    with sqlite_db.session() as session:
        upsert_reports(session, [Report(tracker="jira", external_id="NEW-1", title="zyxwvut crash")])
    with sqlite_db.engine.connect() as connection:
        found = connection.execute(
            sa.text("SELECT count(*) FROM reports_fts WHERE reports_fts MATCH 'zyxwvut'")
        ).scalar()
        indexed = connection.execute(sa.text("SELECT count(*) FROM reports_fts")).scalar()
    assert found == 1 and indexed == 51


def test_a_row_that_is_not_json_stops_the_upgrade_naming_it(database: Database) -> None:
    downgrade(database.engine, "0009")
    broken = {**_row_values(Report(tracker="jira", external_id="X-1")), "imported_at": utcnow()}
    broken["updated_at"] = broken["imported_at"]
    with database.engine.begin() as connection:
        connection.execute(legacy_reports_table().insert(), [broken])
        if database.engine.dialect.name == "sqlite":  # JSONB refuses bad JSON itself, SQLite keeps any text
            connection.execute(sa.text("UPDATE reports SET comments = '[unclosed'"))
    if database.engine.dialect.name == "sqlite":
        with pytest.raises(ValueError, match=r"reports row id=\d+: column comments is not valid JSON"):
            upgrade(database.engine)
        assert current_revision(database.engine) == "0009"  # the failed upgrade left nothing half done
    else:
        upgrade(database.engine)
        assert current_revision(database.engine) == head_revision(database.engine)


def test_bytes_that_are_not_compressed_json_are_refused_clearly() -> None:
    assert unpack(pack({"k": ["é"]})) == {"k": ["é"]} and unpack(pack(None)) is None
    with pytest.raises(CompressedValueError, match="12 bytes that are not zlib data"):
        unpack(b"not zlib at all"[:12])
    with pytest.raises(CompressedValueError, match=r"got text '\{\}': is the store migrated to 0010\?"):
        unpack("{}")
