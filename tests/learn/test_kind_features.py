"""The fast counting of CompactTfidfVectorizer and the filing/backlog fields added for accuracy."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from bugsift.learn.features import ReportFeatures, clean_text
from bugsift.learn.vectorizers import CompactTfidfVectorizer, char_wb_ngrams
from bugsift.sources.base import Report

ODD = ["", "a", "  x\ty \u00a0 Zz\x1c q", "ünïcödé wörds", "a" * 40]


def texts(reports: list[Report]) -> list[str]:
    return [clean_text(r.title, 500) + " | " + clean_text(r.description)[:300] for r in reports] + ODD


@pytest.mark.parametrize(
    "params",
    [
        {"analyzer": "char_wb", "ngram_range": (2, 5), "min_df": 2, "sublinear_tf": True},
        {"analyzer": "char_wb", "ngram_range": (1, 3), "dtype": np.float32},
        {"ngram_range": (1, 2), "min_df": 2, "max_df": 0.9, "max_features": 3000},
        {"analyzer": "char", "ngram_range": (3, 4), "lowercase": False},
    ],
)
def test_fast_counting_gives_scikit_learns_matrix(mozilla, params) -> None:
    docs = texts(mozilla[:300])
    ours, theirs = CompactTfidfVectorizer(**params), TfidfVectorizer(**params)
    a, b = ours.fit_transform(docs[:200]), theirs.fit_transform(docs[:200])
    assert ours.vocabulary_ == theirs.vocabulary_
    assert abs(a - b).max() == 0 and a.dtype == b.dtype
    new = docs[200:]
    assert abs(ours.transform(new) - theirs.transform(new)).max() == 0


def test_char_wb_ngrams_match_scikit_learn() -> None:
    reference = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5))
    for word in ("a", "ab", "abc", "abcd", "abcdefgh"):
        assert sorted(char_wb_ngrams(word, 2, 5)) == sorted(reference._char_wb_ngrams(word))


def test_clean_text_markers_survive_the_shortcuts() -> None:
    text = "C:\\a\\b\\c and /usr/lib/x/y.so\t\tsee WWW.example.org 0xdeadbeef java.io.IOException"
    assert clean_text(text) == " xxpath and xxpath see xxurl xxhex IOException "
    assert clean_text("no url, no path: www or 0x1 Error") == "no url, no path: www or 0x1 Error"


def test_report_shape_and_filing_hour_fields(mozilla) -> None:
    features = ReportFeatures(char_ngrams=None, filing_hour=True).fit(mozilla[:200])
    report = copy.deepcopy(mozilla[0])
    report.title, report.description = "How do I set the proxy?", "Is it a bug?\nline 2\nline 3"
    report.created_at = datetime(2017, 5, 1, 22, 30, tzinfo=UTC)
    names = features.get_feature_names_out()
    row = features.transform([report]).toarray()[0]
    value = dict(zip(names, row, strict=True))
    assert value["field:title_question"] > 0 and value["field:log_question_marks"] > 0
    assert value["field:log_lines"] > 0
    assert value.get("field:filed_hour=21", 0.0) > 0
    # excluded on request, and by default ("auto") on small training sets
    quiet = ReportFeatures(char_ngrams=None, filing_hour=True, exclude_fields=("created_at",))
    for features in (quiet.fit(mozilla[:200]), ReportFeatures(char_ngrams=None).fit(mozilla[:200])):
        assert not any(n.startswith("field:filed_hour=") for n in features.get_feature_names_out())


def test_style_fields_count_code_names_and_first_person_words(mozilla) -> None:
    features = ReportFeatures(char_ngrams=None, style_fields=True).fit(mozilla[:200])
    names = list(features.get_feature_names_out())
    report = copy.deepcopy(mozilla[0])
    report.filed = None  # else filing mode reads the filing-time title from the history
    report.title = "NPE in DistributedFileSystem.close()"
    report.description = "We see it when conf.get and getFileStatus() run; our DataNode logs it. I think"
    value = dict(zip(names, features.transform([report]).toarray()[0], strict=True))
    assert value["field:title_camel_case"] > 0 and value["field:title_identifier"] > 0
    for name in ("log_camel_case", "log_dotted_names", "log_calls", "log_i_my", "log_we_our"):
        assert value[f"field:{name}"] > 0, name
    # real Mozilla reports: some name the code, some do not
    camel = features.transform(mozilla[200:400])[:, names.index("field:log_camel_case")].toarray()
    assert 0 < np.mean(camel > 0) < 1
    plain = copy.deepcopy(report)
    plain.title, plain.description = "Crash on start", "it crashes"
    value = dict(zip(names, features.transform([plain]).toarray()[0], strict=True))
    assert value["field:title_camel_case"] == 0 and value["field:log_calls"] == 0
    # off by default ("auto") on small training sets
    small = ReportFeatures(char_ngrams=None).fit(mozilla[:200])
    assert "field:log_camel_case" not in set(small.get_feature_names_out())


def test_backlog_reads_release_flags_filing_does_not(mozilla) -> None:
    backlog = ReportFeatures(mode="backlog", char_ngrams=None).fit(mozilla[:400])
    names = set(backlog.get_feature_names_out())
    assert any(n.startswith("field:release_status=") for n in names)
    filing = ReportFeatures(char_ngrams=None).fit(mozilla[:400])
    assert not any(n.startswith("field:release_") for n in filing.get_feature_names_out())


def test_auto_char_range_follows_the_training_set_size(mozilla) -> None:
    small = ReportFeatures(char_ngrams="auto", char_weight=1.0).fit(mozilla[:100])
    assert small.char_vectorizer_.ngram_range == (2, 5)


def test_vocabulary_file_stays_small_and_round_trips(tmp_path) -> None:
    from bugsift.learn.persist import load_model, save_model

    docs = ["x" * 400 + " ünïcödé 名前 crash", "tab crash again", "a\tb c"] + [
        f"word{i} crash" for i in range(3000)
    ]
    vectorizer = CompactTfidfVectorizer(token_pattern=r"\S+").fit(docs)
    path = save_model(vectorizer, tmp_path / "v.skops")
    # A fixed-width str array would hold 4 x 400 bytes per term (about 5 MB here).
    assert path.stat().st_size < 200_000
    loaded = load_model(path)
    assert loaded.vocabulary_ == vectorizer.vocabulary_ and "名前" in loaded.vocabulary_
    assert abs(loaded.transform(docs[:50]) - vectorizer.transform(docs[:50])).max() == 0


def _jira(key: str, day: int, versions: list[str], project: str = "HIVE") -> Report:
    return Report(
        tracker="jira",
        external_id=key,
        title=f"query {key} fails",
        description="select fails",
        project=project,
        created_at=datetime(2018, 1, day, tzinfo=UTC),
        extra={"versions": versions},
    )


def test_version_lag_compares_with_the_newest_version_named_before() -> None:
    train = [
        _jira("H-1", 1, ["1.2.0"]),
        _jira("H-2", 2, ["2.1.0-beta"]),
        _jira("H-3", 3, []),
        _jira("H-4", 4, ["2.3.1", "2.2.0"]),
    ]
    features = ReportFeatures(mode="backlog", char_ngrams=None).fit(train)  # filing mode: not read
    assert features.version_newest_["HIVE"].tolist() == [[1, 2, 0], [2, 1, 0], [2, 3, 1]]

    # (the fields a report gets, before the field vectorizer keeps only the ones seen in training)
    def fields(report: Report) -> set[str]:
        found: dict[str, float] = {}
        features._version_fields(report, set(), features.version_times_, found)
        return {f"field:{name}" for name in found if name.startswith("version")}

    assert "field:version_lag=newer" in features.get_feature_names_out()

    # filed after all of the training reports: the newest named version is 2.3.1
    assert fields(_jira("H-5", 9, ["2.3.0"])) == {"field:version_lag=same_line"}
    assert fields(_jira("H-6", 9, ["2.1.0"])) == {"field:version_lag=near"}
    assert fields(_jira("H-7", 9, ["1.2.0"])) == {"field:version_lag=behind"}
    assert fields(_jira("H-8", 9, ["3.0.0-alpha1"])) == {"field:version_lag=newer"}
    assert fields(_jira("H-9", 9, [])) == {"field:version_none"}
    # a feature-branch version named after an issue is not a release number
    assert fields(_jira("H-11", 9, ["HADOOP-13345"])) == {"field:version_none"}
    # at filing time only earlier reports count: on day 2 the newest was 1.2.0
    assert fields(_jira("H-10", 2, ["1.2.0"])) == {"field:version_lag=same_line"}
    # no earlier report of the project named a version: no lag
    assert fields(_jira("Y-1", 9, ["2.3.0"], project="YARN")) == set()
    # nothing to compare with (no versions in training, e.g. GitHub): no version fields at all
    plain = ReportFeatures(char_ngrams=None).fit([_jira("H-1", 1, []), _jira("H-2", 2, [])])
    assert not any(n.startswith("field:version") for n in plain.get_feature_names_out())


def test_affected_versions_are_not_read_at_filing(monkeypatch: pytest.MonkeyPatch) -> None:
    # Today's "Affects Version/s", which Jira's triagers fill in while confirming a bug.
    dump = [_jira(f"H-{i}", i, ["2.1.0"] if i % 2 else []) for i in range(1, 9)]
    filing = ReportFeatures(char_ngrams=None).fit(dump)
    read = ("field:versions=", "field:version_lag", "field:log_versions")
    assert not any(n.startswith(read) for n in filing.get_feature_names_out())
    # today's values are what backlog mode reads
    backlog = ReportFeatures(mode="backlog", char_ngrams=None).fit(dump)
    assert "field:versions=2.1.0" in backlog.get_feature_names_out()
    # a model fitted before 0.15 read them at filing too, and keeps reading them as it was fitted
    with monkeypatch.context() as patched:
        patched.setattr("bugsift.learn.features.TRIAGED_AFTER_FILING", frozenset())
        older = ReportFeatures(char_ngrams=None).fit([_jira(f"H-{i}", i, ["2.1.0"]) for i in range(1, 5)])
    del older.triaged_fields_excluded_  # what a file saved before holds
    row = older.transform([_jira("H-9", 9, ["2.1.0"])])
    assert row[0, list(older.get_feature_names_out()).index("field:versions=2.1.0")] > 0
