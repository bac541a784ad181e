"""The fast paths of duplicate search give the same answers as the plain ones, and the threshold is honest."""

from __future__ import annotations

import json
import lzma
import random
import re
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer
from sqlalchemy import text

from bugsift.learn.duplicates import evaluation as ev
from bugsift.learn.duplicates import index, query
from bugsift.learn.duplicates.features import (
    Doc,
    Vectors,
    _word_counts,
    make_vectorizer,
    mentions,
    plain_words,
)
from bugsift.learn.duplicates.query import lower_words
from bugsift.learn.duplicates.ranker import DuplicateRanker
from bugsift.learn.duplicates.search import doc_of_report, own_row_id, rank_doc
from bugsift.learn.duplicates.similarity import Scoring, fit_text_model
from bugsift.learn.duplicates.stems import porter_stems
from bugsift.learn.duplicates.text_choice import TextSettings
from bugsift.settings import Settings
from bugsift.sources.base import Report
from bugsift.sources.jira import from_record
from bugsift.store.db import Database
from bugsift.store.reports import upsert_reports

T0 = datetime(2015, 1, 1, tzinfo=UTC)


def report(key: str, title: str, days: int = 0, tracker: str = "jira") -> Report:
    return Report(
        tracker=tracker,
        external_id=key,
        project=key.split("-")[0],
        title=title,
        description="",
        created_at=T0 + timedelta(days=days),
    )


@pytest.mark.parametrize(
    ("text_", "key"),
    [
        ("see HIVE-12 for", "HIVE-12"),
        ("HIVE-123", "HIVE-12"),
        ("XHIVE-12", "HIVE-12"),
        ("-HIVE-12", "HIVE-12"),
        ("_HIVE-12", "HIVE-12"),
        ("HIVE-12a", "HIVE-12"),
        ("HIVE-123 and HIVE-12.", "HIVE-12"),
        ("bug 4711 again", "4711"),
        ("bug 47110", "4711"),
        ("", "HIVE-1"),
        ("HIVE-1\u0661", "HIVE-1"),  # an Arabic-Indic digit is a digit
    ],
)
def test_mentions_matches_the_regular_expression(text_: str, key: str) -> None:
    expected = re.search(rf"(?<![\w-]){re.escape(key)}(?!\d)", text_) is not None
    assert mentions(text_, key) is expected


def test_vectors_of_full_text_equal_the_vectorizer_on_the_joined_text() -> None:
    docs = [
        Doc(
            1, "A-1", "NameNode crashes on restart", "The NameNode crashes.\nStack: at org.Foo.bar(Foo.java)"
        ),
        Doc(2, "A-2", "Balancer hangs", "balancer balancer hangs forever"),
        Doc(3, "A-3", "", "only a body"),
    ]
    vectorizer = make_vectorizer().fit([d.text for d in docs])
    vectors = Vectors.of(vectorizer, docs)
    for field, texts in (
        ("title", [d.title for d in docs]),
        ("body", [d.description for d in docs]),
        ("full", [d.text for d in docs]),
    ):
        expected = vectorizer.transform(texts).toarray()
        assert np.array_equal(getattr(vectors, field).toarray(), expected), field


def test_porter_stems_are_those_of_the_index() -> None:
    assert porter_stems(["coded", "code", "running", "HDFS", "café"]) == [
        "code",
        "code",
        "run",
        "hdf",
        "cafe",
    ]


def test_select_terms_judges_rarity_by_stem_and_keeps_the_budget() -> None:
    # "coded" is a rare word but "code" is everywhere: the index would match every report for it.
    docs = [Doc(i, f"A-{i}", f"code path {i}", "") for i in range(40)]
    docs += [Doc(40, "A-40", "coded getfacl", ""), Doc(41, "A-41", "setfacl", "")]
    ranker = DuplicateRanker().fit_text(docs)
    assert ranker.select_terms(["coded", "getfacl", "setfacl"]) == ["getfacl", "setfacl"]
    assert ranker.select_terms(["getfacl", "setfacl"], max_postings=0.01) == ["getfacl"]  # the first always
    assert ranker.select_terms(["neverseen", "getfacl"]) == ["neverseen", "getfacl"]
    # a big index: the budget in rows binds before the share does (two terms in 2/43 of the reports
    # each: 4,651 rows of 50,000 pass the 5,000-row budget; 46,512 of a million do not)
    ranker.indexed_reports_ = 50_000
    assert ranker.select_terms(["getfacl", "setfacl"]) == ["getfacl", "setfacl"]
    ranker.indexed_reports_ = 1_000_000
    assert ranker.select_terms(["getfacl", "setfacl"]) == ["getfacl"]


def test_unseen_terms_count_against_the_budget_in_rows() -> None:
    # Terms the fitted reports never hold are the rarest, but not free: each counts as one report of the
    # 43 (1/43 of a million reports is over the 5,000-row budget, so only the first term goes in).
    docs = [Doc(i, f"A-{i}", f"code path {i}", "") for i in range(42)]
    ranker = DuplicateRanker().fit_text(docs)
    assert ranker._share("neverseen") == pytest.approx(1 / 43)
    ranker.indexed_reports_ = 50_000
    assert ranker.select_terms(["neverseen", "unheardof"]) == ["neverseen", "unheardof"]
    ranker.indexed_reports_ = 1_000_000
    assert ranker.select_terms(["neverseen", "unheardof"]) == ["neverseen"]


def test_word_statistics_sample_the_whole_store_not_the_newest_rows(sqlite_db: Database) -> None:
    # An import stores one project after another; the newest rows alone would make Hive's words unseen.
    hive = [report(f"HIVE-{i}", f"metastore partition pruning fails {i}", i) for i in range(60)]
    yarn = [report(f"YARN-{i}", f"resourcemanager container preemption {i}", i) for i in range(60)]
    with sqlite_db.session() as session:
        upsert_reports(session, hive + yarn)
        session.commit()
    with sqlite_db.session() as session:
        model = fit_text_model(session, sample=40)
    assert model is not None
    assert 0.3 < model._share("metastore") < 0.7
    assert 0.3 < model._share("resourcemanager") < 0.7


def test_predictors_know_how_many_reports_the_index_holds(sqlite_db: Database) -> None:
    from bugsift.learn.tasks import TaskOptions, get_task

    with sqlite_db.session() as session:
        upsert_reports(session, [report(f"HDFS-{i}", f"datanode block report {i}", i) for i in range(30)])
        session.commit()
    predictor = get_task("duplicates").predictor(sqlite_db, TaskOptions())
    assert predictor.model.indexed_reports_ == 30


def test_sqlite_index_keeps_positions(sqlite_db: Database) -> None:
    with sqlite_db.session() as session:
        sql = session.execute(text("SELECT sql FROM sqlite_master WHERE name = 'reports_fts'")).scalar_one()
    assert "detail='full'" in sql.replace('"', "'")


def keys(database: Database, words: str, limit: int = 10, **kwargs: object) -> list[str]:
    with database.session() as session:
        hits = index.search(session, query.query_terms(words), limit, **kwargs)  # type: ignore[arg-type]
        names = dict(session.execute(text("SELECT id, external_id FROM reports")).all())
    return [names[h.row_id] for h in hits]


def test_filters_fall_back_to_the_filtered_query(database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    # On SQLite the newest reports rank first (BM25: the oldest have the longest titles); with no margin,
    # the unfiltered best hits are all too new and the filtered query must run. (ts_rank ignores length.)
    with database.session() as session:
        upsert_reports(
            session,
            [report(f"YARN-{n}", "failover leak" + " word" * (30 - n), days=n) for n in range(1, 30)]
            + [report("GH-1", "failover leak", days=0, tracker="github")],
        )
    monkeypatch.setattr(index, "FILTER_MARGIN", 0)
    before = T0 + timedelta(days=3, hours=1)
    assert sorted(keys(database, "failover leak", 3, before=before, tracker="jira")) == [
        "YARN-1",
        "YARN-2",
        "YARN-3",
    ]
    assert sorted(keys(database, "failover leak", 4, before=before)) == ["GH-1", "YARN-1", "YARN-2", "YARN-3"]
    assert "GH-1" not in keys(database, "failover leak", 40, tracker="jira")
    assert keys(database, "failover leak", 40, tracker="github") == ["GH-1"]


def answers(top: list[float], correct: list[bool], negatives: list[float], weight: float) -> ev.Answers:
    n_dup, n_neg = len(top), len(negatives)
    return ev.Answers(
        top=np.array(top + negatives),
        correct=np.array(correct + [False] * n_neg),
        weight=np.array([1.0] * n_dup + [weight] * n_neg),
        duplicate=np.array([True] * n_dup + [False] * n_neg),
    )


def test_threshold_counts_non_duplicates_at_their_true_share(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ev, "MIN_CONFIDENT", 2)
    # 10 duplicates (top right above 0.5), 5 sampled non-duplicates standing for 4 reports each.
    a = answers(
        [0.9, 0.9, 0.8, 0.8, 0.7, 0.6, 0.6, 0.55, 0.3, 0.2],
        [True, True, True, True, True, True, False, True, False, False],
        [0.75, 0.4, 0.3, 0.2, 0.1],
        4.0,
    )
    at = ev.confident_at(a, 0.7)
    assert at["precision"] == pytest.approx(5 / (5 + 4))  # the one negative above counts 4 times
    assert at["coverage"] == pytest.approx(9 / 30)
    assert at["duplicates_found"] == pytest.approx(0.5)
    assert at["precision_duplicates_only"] == pytest.approx(5 / 5)
    chosen = ev.choose_uncertain(a, 0.9)
    assert chosen["met"] and chosen["threshold"] == pytest.approx(0.8)  # above the weighted negative
    assert ev.choose_uncertain(a, 0.99)["met"]  # 0.8 is already fully precise
    unreachable = answers([0.9, 0.8], [False, False], [0.95], 10.0)
    missed = ev.choose_uncertain(unreachable, 0.9)
    assert not missed["met"] and missed["threshold"] == 1.0  # nothing confident rather than a false promise


def test_negative_queries_skip_linked_reports_and_weigh_the_rest() -> None:
    docs = [Doc(i, f"A-{i}", "t", "", created_at=T0 + timedelta(days=i)) for i in range(10)]
    queries = [
        ev.replay.ReplayQuery("A-2", T0 + timedelta(days=2)),
        ev.replay.ReplayQuery("A-7", T0 + timedelta(days=7)),
    ]
    negatives = ev.negative_queries(docs, {"A-2", "A-7", "A-4"}, queries, per_query=1.0)
    pool = {"A-3", "A-5", "A-6"}  # filed within the period, in no duplicate link
    assert len(negatives.queries) == 2 and {q.query for q in negatives.queries} <= pool
    assert negatives.weight == pytest.approx(3 / 2)
    assert all(not q.targets for q in negatives.queries)


def test_training_chooses_the_uncertain_threshold_on_calibration_data(
    sqlite_db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bugsift.learn.duplicates.ranker import DuplicateRanker
    from bugsift.learn.duplicates.task import DuplicatesTask
    from bugsift.learn.tasks import TaskOptions

    monkeypatch.setattr(DuplicateRanker.__init__, "__defaults__", (20, 0.1, 7, 2, 1.0, 0))  # a tiny model
    monkeypatch.setattr(ev, "MIN_CONFIDENT", 2)
    words = [f"w{n:03d}x" for n in range(600)]
    reports = []
    for n in range(60):  # 30 pairs: the later one repeats the earlier's rare words; 60 unrelated reports
        topic = " ".join(words[5 * n : 5 * n + 5])
        reports.append(report(f"HIVE-{2 * n + 1}", f"{topic} crash", days=3 * n))
        if n % 2 == 0:
            later = report(f"HIVE-{2 * n + 2}", f"{topic} fails", days=3 * n + 1)
            later.duplicate_of = f"HIVE-{2 * n + 1}"
            reports.append(later)
    with sqlite_db.session() as session:
        upsert_reports(session, reports)
    outcome = DuplicatesTask().train(sqlite_db, settings, TaskOptions())
    thresholds, metrics = outcome.model.thresholds, outcome.model.metrics
    assert thresholds["chosen_on"].startswith("calibration")
    assert thresholds["uncertain"] == metrics["uncertain_calibration"]["threshold"]
    assert metrics["uncertain_test"]["n_negatives"] > 0  # non-duplicates are part of the measure
    predictor = DuplicatesTask().predictor(sqlite_db, TaskOptions())
    new = report("HIVE-999", " ".join(words[10:15]) + " again", days=400)
    [answer] = predictor.predict([new], 3)
    assert answer["prediction"] in {"HIVE-5", "HIVE-6"}
    assert 0.0 <= thresholds["uncertain"] <= 1.0 and isinstance(answer["uncertain"], bool)


TRICKY = [
    "İstanbul ÇAĞRI Straße ǅemal x² １２３ ΣΑΣ foo_bar\tnaïve café_au_lait",
    "NPE in FooBar.baz() at org.apache.Foo$1.run(Foo.java:42) -- HIVE-1234, ~~~",
    "",
    "UPPER lower MiXeD 0xDEADBEEF 3.14",
]


def test_lower_words_is_the_regular_expression_split() -> None:
    # ASCII separators, underscores, letters that lower-case to two characters, non-ASCII word and
    # non-word characters, in every mix
    alphabet = "aZ09 _-.\u00e9\u0130\u01c5\u00b2\uff11\u2026\u2192\u0660\u00df\u03a3\U0001f600\t\n"
    rng = random.Random(0)
    for _ in range(5000):
        text_ = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        assert lower_words(text_) == query._TOKEN.findall(text_.lower()), text_


def real_jira_docs(shared_data: Path, n: int = 1500) -> list[Doc]:
    with lzma.open(shared_data / "apache-jira/jira_issues.jsonl.xz", "rt", encoding="utf-8") as handle:
        reports = [from_record(json.loads(line)) for line in islice(handle, n)]
    return [doc_of_report(r, i) for i, r in enumerate(reports, start=1)]


def test_word_counts_are_scikit_learns_on_real_reports(shared_data: Path) -> None:
    docs = real_jira_docs(shared_data)
    vectorizer = make_vectorizer().fit([d.text for d in docs[:1000]])  # the rest hold unseen words
    assert plain_words(vectorizer)
    texts = [d.text for d in docs] + [d.title for d in docs] + TRICKY
    assert all(lower_words(t) == query._TOKEN.findall(t.lower()) for t in texts)
    fast, plain = _word_counts(vectorizer, texts), CountVectorizer.transform(vectorizer, texts)
    assert fast.dtype == plain.dtype
    for part in ("indptr", "indices", "data"):
        assert np.array_equal(getattr(fast, part), getattr(plain, part)), part
    vectors = Vectors.of(vectorizer, docs)  # the batched TF-IDF call gives each field's own rows
    for field, field_texts in (("title", [d.title for d in docs]), ("full", [d.text for d in docs])):
        expected = vectorizer.transform(field_texts)
        got = getattr(vectors, field)
        assert np.array_equal(got.indptr, expected.indptr) and np.array_equal(got.indices, expected.indices)
        assert np.array_equal(got.data, expected.data), field


def test_text_similarity_ranks_as_the_full_feature_matrix_does(
    sqlite_db: Database, shared_data: Path
) -> None:
    """words_only computes most pair features for the returned candidates only: the same candidates, in
    the same order, with the same scores, features and matched terms as the full matrix gives."""
    with lzma.open(shared_data / "apache-jira/jira_issues.jsonl.xz", "rt", encoding="utf-8") as handle:
        reports = [from_record(json.loads(line)) for line in islice(handle, 1500)]
    with sqlite_db.session() as session:
        upsert_reports(session, reports)
    with sqlite_db.session() as session:
        model = fit_text_model(session)
        assert model is not None
        for r in reports[::37]:
            doc = doc_of_report(r, own_row_id(session, r))
            ranked = []
            for words_only in (False, True):
                scoring = Scoring(TextSettings(lexical=0.4, cross=0.5), False)
                found, _ = rank_doc(
                    session, model, doc, r.tracker, 10, scorer=scoring.words, adjust=scoring.adjust,
                    words_only=words_only,
                )  # fmt: skip
                ranked.append(
                    [(c.row.external_id, c.probability, c.features, c.matched_terms) for c in found]
                )
            assert ranked[0] == ranked[1] and ranked[0], r.external_id
