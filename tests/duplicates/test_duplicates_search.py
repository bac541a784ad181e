"""Duplicate search on SQLite and PostgreSQL: hostile queries, incremental index, canonical chains, replay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select

from bugsift.learn.duplicates import canonical, index, query, replay
from bugsift.sources.base import Report
from bugsift.store.db import Database
from bugsift.store.models import ReportRow
from bugsift.store.reports import upsert_reports

T0 = datetime(2015, 1, 1, tzinfo=UTC)


def report(key: str, title: str, description: str = "", days: int = 0, **more: object) -> Report:
    return Report(
        tracker="jira",
        external_id=key,
        project=key.split("-")[0],
        title=title,
        description=description,
        created_at=T0 + timedelta(days=days),
        **more,  # type: ignore[arg-type]
    )


def keys(database: Database, text: str, **kwargs: object) -> list[str]:
    with database.session() as session:
        hits = index.search(session, query.query_terms(text), 10, **kwargs)  # type: ignore[arg-type]
        ids = {r.id: r.external_id for r in session.scalars(select(ReportRow))}
    return [ids[h.row_id] for h in hits]


HOSTILE = [
    '"',
    "NEAR(foo bar",
    "NEAR(",
    "*",
    "-",
    "foo* -bar ^baz",
    "title: metastore",
    "a\x00b metastore\x00",
    "') OR 1=1 --",
    "!(&|:*)",
    "x" * 100_000,
    ("metastore deadlock " * 6000)[:100_000],
    "",
    "   ",
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_query_text_never_errors(database: Database, text: str) -> None:
    with database.session() as session:
        upsert_reports(session, [report("HIVE-1", "Metastore deadlock on drop table")])
    found = keys(database, text)
    assert found in ([], ["HIVE-1"])


def test_fts_syntax_in_user_text_is_quoted() -> None:
    assert query.fts5_query(['a"b', "near"]) == '"a""b" OR "near"'
    assert all(t.isalnum() for t in query.query_terms('NEAR( "quoted" * -minus col:umn'))
    assert query.tsquery_text(["ok", "bad|term", "x:y"]) == "ok"


def test_new_and_updated_reports_are_indexed_incrementally(database: Database) -> None:
    with database.session() as session:
        upsert_reports(session, [report("HDFS-1", "Datanode heartbeat lost after restart")])
    assert keys(database, "heartbeat datanode") == ["HDFS-1"]
    with database.session() as session:
        upsert_reports(session, [report("HDFS-2", "Balancer crashes with NullPointerException", days=1)])
    assert keys(database, "balancer nullpointerexception") == ["HDFS-2"]
    with database.session() as session:  # an edit: found by the new text, no longer by the old
        upsert_reports(session, [report("HDFS-1", "Namenode safemode never exits")])
    assert keys(database, "heartbeat datanode") == []
    assert keys(database, "safemode namenode") == ["HDFS-1"]
    with database.session() as session:  # a delete leaves the index consistent
        session.execute(delete(ReportRow).where(ReportRow.external_id == "HDFS-2"))
    assert keys(database, "balancer nullpointerexception") == []
    with database.session() as session:
        index.rebuild_index(session)
    assert keys(database, "safemode namenode") == ["HDFS-1"]


def test_replay_never_returns_a_later_report(database: Database) -> None:
    with database.session() as session:
        upsert_reports(
            session,
            [
                report(f"YARN-{n}", "ResourceManager leaks containers on failover", days=n)
                for n in range(1, 9)
            ],
        )
    found = keys(database, "resourcemanager containers failover", before=T0 + timedelta(days=4))
    assert sorted(found) == ["YARN-1", "YARN-2", "YARN-3"]


def test_replay_queries_use_the_later_report_and_strict_mode_keeps_direction() -> None:
    created = {"A-1": T0, "A-2": T0 + timedelta(days=2), "A-3": T0 + timedelta(days=3)}
    pairs = [("A-2", "A-1"), ("A-1", "A-3"), ("A-9", "A-1")]  # A-1 marked duplicate of a later one
    queries = replay.replay_queries(pairs, created)
    assert [(q.query, q.targets) for q in queries] == [("A-2", {"A-1"}), ("A-3", {"A-1"})]
    strict = replay.replay_queries(pairs, created, strict=True)
    assert [(q.query, q.targets) for q in strict] == [("A-1", {"A-3"}), ("A-2", {"A-1"})]
    assert replay.recall_rates([1, 3, None, 12]) == {
        "rr@1": 0.25,
        "rr@5": 0.5,
        "rr@10": 0.5,
        "mrr": (1 + 1 / 3 + 1 / 12) / 4,
        "n": 4,
    }


def test_canonical_follows_chains_and_prefers_open_reports(database: Database) -> None:
    with database.session() as session:
        upsert_reports(
            session,
            [
                report("HIVE-1", "root", status="Closed", resolution="Fixed"),
                report("HIVE-2", "middle", status="Open", duplicate_of="HIVE-1"),
                report("HIVE-3", "leaf", status="Resolved", resolution="Duplicate", duplicate_of="HIVE-2"),
                report("HIVE-4", "open root", status="Open"),
                report("HIVE-5", "dup", status="Closed", resolution="Duplicate", duplicate_of="HIVE-4"),
                report("HIVE-6", "cycle", status="Closed", resolution="Duplicate", duplicate_of="HIVE-7"),
                report("HIVE-7", "cycle", status="Closed", resolution="Duplicate", duplicate_of="HIVE-6"),
                report("HIVE-8", "dangling", status="Closed", resolution="Duplicate", duplicate_of="HIVE-99"),
            ],
        )
    with database.session() as session:
        found = canonical.canonical_ids(session, "jira", [f"HIVE-{n}" for n in range(1, 9)])
    assert found["HIVE-3"] == "HIVE-2"  # the root is closed, the middle one is open
    assert found["HIVE-5"] == "HIVE-4"
    assert found["HIVE-4"] == "HIVE-4"
    assert found["HIVE-1"] == "HIVE-1"
    assert found["HIVE-6"] in {"HIVE-6", "HIVE-7"}  # a cycle terminates
    assert found["HIVE-8"] == "HIVE-8"  # the original is not stored: the chain ends at the last known


def test_ranker_round_trips_through_skops(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    from bugsift.learn import persist
    from bugsift.learn.duplicates.features import FEATURE_NAMES, Doc
    from bugsift.learn.duplicates.ranker import DuplicateRanker, load_ranker, save_ranker

    # Until bugsift.learn.duplicates.ranker is listed in persist.TRUSTED_TYPE_MODULES.
    if "bugsift.learn.duplicates.ranker" not in persist.TRUSTED_TYPE_MODULES:
        extended = (*persist.TRUSTED_TYPE_MODULES, "bugsift.learn.duplicates.ranker")
        monkeypatch.setattr(persist, "TRUSTED_TYPE_MODULES", extended)
    docs = [Doc(1, "A-1", "hive metastore deadlock", "drop table"), Doc(2, "A-2", "datanode", "lost")]
    ranker = DuplicateRanker(max_iter=5).fit_text(docs)
    rng = np.random.default_rng(0)
    X = rng.random((200, len(FEATURE_NAMES)))
    ranker.fit(X, rng.integers(0, 2, 200))
    loaded = load_ranker(save_ranker(ranker, tmp_path / "r.skops"))
    assert np.allclose(loaded.predict_proba(X), ranker.predict_proba(X))
    assert loaded.vectorizer_.vocabulary_ == ranker.vectorizer_.vocabulary_


@pytest.mark.parametrize(("project", "shown"), [("HIVE", "same project (HIVE)"), ("", None)])
def test_same_project_is_a_reason_only_when_there_is_a_project(project: str, shown: str | None) -> None:
    from bugsift.learn.duplicates.features import FEATURE_NAMES, Doc
    from bugsift.learn.duplicates.search import Candidate, Stored, explain

    features = dict.fromkeys(FEATURE_NAMES, 0.0) | {"same_project": 1.0, "cos_title": 0.5}
    row = Stored(Doc(7, "HIVE-7", "alter table rename loses partitions", "", project=project), "Open", None)
    texts = [r["text"] for r in explain(Candidate(row, 0.4, features, ["rename"]))]
    assert "title like HIVE-7 (0.50)" in texts
    assert [t for t in texts if t.startswith("same project")] == ([shown] if shown else [])
