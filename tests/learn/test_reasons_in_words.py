"""Explanations a person reads: real models on real reports give 3-6 reasons, never a feature id,
a char n-gram or a bare stop word, always ``{"text", "weight", "kind"}``."""

from __future__ import annotations

import re
import time

import pytest

from bugsift.learn.explain import explain_reasons, explain_reasons_batch
from bugsift.learn.kind.model import build_kind_model
from bugsift.learn.predict import predict_reports
from bugsift.learn.reasons import STOP_WORDS, from_features, texts
from bugsift.sources.base import Report

INTERNAL = re.compile(r"^(field|title|text|word|chars|comments|emb)[:_]")
KINDS = {"words", "field", "product", "similar", "history", "note"}


def assert_readable(explanation: list) -> None:
    """Every reason has text/weight/kind; no text is a feature name, a fragment or a stop word."""
    assert isinstance(explanation, list)
    for item in explanation:
        assert set(item) == {"text", "weight", "kind"}, item
        text = item["text"]
        assert isinstance(text, str) and text.strip(), item
        assert isinstance(item["weight"], float) and item["kind"] in KINDS, item
        assert not INTERNAL.match(text.lower()), item
        assert text.strip().lower() not in STOP_WORDS, item
        assert "=" not in text and "xx" not in text.lower(), item
        if item["kind"] == "words":
            assert text.startswith(("words: ", "in the comments: "))
            for shown in re.findall(r"\*([^*]+)\*", text):
                assert not set(shown.split()) & STOP_WORDS, item
                assert all(len(w) >= 3 for w in shown.split()), item


def labels(reports: list[Report]) -> list[str]:
    return [r.labels["is_bug_derived"] for r in reports]


@pytest.fixture(scope="module")
def models(mozilla: list[Report]) -> dict[str, object]:
    train = mozilla[:700]
    return {  # char n-grams on in one, so that their mapping to whole words is exercised
        "filing": build_kind_model(cv=3).fit(train, labels(train)),
        "backlog": build_kind_model(mode="backlog", char_ngrams=None, cv=3).fit(train, labels(train)),
    }


@pytest.mark.parametrize("mode", ["filing", "backlog"])
def test_kind_reasons_are_words_a_person_reads(models, mozilla: list[Report], mode: str) -> None:
    model, reports = models[mode], mozilla[700:760]
    out = predict_reports(model, reports, threshold=0.6)
    counts = []
    for result, report in zip(out, reports, strict=True):
        why = result["explanation"]
        assert_readable(why)
        assert 1 <= len(why) <= 6
        counts.append(len(why))
        weights = [r["weight"] for r in why]
        assert weights == sorted(weights, reverse=True)
        text = f"{report.title} {report.description}".lower()
        for item in why:  # the shown words are the report's own
            if item["text"].startswith("words: "):
                for shown in re.findall(r"\*([^*]+)\*", item["text"]):
                    assert all(w in text for w in shown.split()), (shown, report.external_id)
    # three quarters get 3 or more: tracker defaults ("severity normal", "priority --") no longer count
    assert sum(c >= 3 for c in counts) >= 0.75 * len(counts)
    # the batch path says what one by one says
    assert [o["explanation"] for o in out[:10]] == [explain_reasons(model, r) for r in reports[:10]]


def test_fields_become_phrases() -> None:
    report = Report(tracker="bugzilla", external_id="1", title="Crash on start", description="log\n" * 80)
    items = [
        {"feature": "field:log_lines", "weight": 0.9},
        {"feature": "field:product=Firefox", "weight": 0.5},
        {"feature": "field:has_stack", "weight": 0.4},
        {"feature": "word:the", "weight": 0.3},
        {"feature": "word:to a", "weight": 0.3},
        {"feature": "title:crash", "weight": 0.35},
        {"feature": "chars:b ", "weight": 0.2},
        {"feature": "chars:tart", "weight": 0.1},
        {"feature": "emb:17", "weight": 0.1},
    ]
    why = from_features(items, report)
    assert_readable(why)
    shown = texts(why)
    assert "a long log is pasted (81 lines)" in shown
    assert "filed under Firefox" in shown and "a stack trace is pasted" in shown
    words = next(r["text"] for r in why if r["kind"] == "words")
    assert words == "words: *crash*, *start*"


def test_reasons_cost_little(models, mozilla: list[Report]) -> None:
    model, reports = models["filing"], mozilla[700:900]
    matrix = model.features_.transform(reports)
    predicted = model.model_.predict_proba(matrix).argmax(axis=1)
    explain_reasons_batch(model, matrix[:5], predicted[:5], reports[:5])  # warm the caches
    start = time.perf_counter()
    explain_reasons_batch(model, matrix, predicted, reports)
    per_report = (time.perf_counter() - start) / len(reports)
    assert per_report < 0.002, per_report


def test_duplicate_answers_by_the_cli_read_as_reasons(data_dir, tmp_path, monkeypatch) -> None:
    import json
    import lzma
    from itertools import islice

    from click.testing import CliRunner

    from bugsift.cli import main

    with lzma.open(data_dir / "apache-jira/jira_issues.jsonl.xz", "rt", encoding="utf-8") as handle:
        lines = [line.rstrip("\n") for line in islice(handle, 800)]
    (tmp_path / "old.jsonl").write_text("\n".join(lines[:-3]) + "\n")
    (tmp_path / "new.jsonl").write_text("\n".join(lines[-3:]) + "\n")
    monkeypatch.setenv("BUGSIFT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("BUGSIFT_DATABASE_URL", raising=False)
    runner = CliRunner()
    assert runner.invoke(main, ["import", "jira", str(tmp_path / "old.jsonl")]).exit_code == 0
    result = runner.invoke(
        main, ["duplicates", "--input", str(tmp_path / "new.jsonl")], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    answers = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert len(answers) == 3
    for answer in answers:
        assert_readable(answer["explanation"])
        assert 1 <= len(answer["explanation"]) <= 6
        assert answer["explanation"][-1]["kind"] == "note"
    found = [a for a in answers if a["prediction"]]
    assert found and all(any(r["kind"] == "similar" for r in a["explanation"]) for a in found)


def test_component_answers_read_as_reasons(data_dir) -> None:
    from itertools import islice

    from bugsift.learn.component.task import fit_scoped, predict_components
    from bugsift.sources import read_reports

    path = data_dir / "apache-jira" / "jira_issues.jsonl.xz"
    reports = [r for r in islice(read_reports("jira", path), 900) if isinstance(r, Report) and r.components]
    for r in reports:
        r.comments = []
    scoped = fit_scoped(reports[:-20])[0]
    stranger = Report(tracker="jira", external_id="ZOO-1", project="ZOO", title="x")
    results = predict_components(scoped, [*reports[-20:], stranger], top_k=3)
    for result in results:
        assert_readable(result["explanation"])
        assert 1 <= len(result["explanation"]) <= 6
    assert results[-1]["explanation"][0]["kind"] == "note"


def test_forms_of_do_and_contraction_stems_are_never_reasons() -> None:
    report = Report(
        tracker="bugzilla",
        external_id="1",
        title="Bookmarks toolbar does not come back",
        description="It doesn't stay after a restart; I did check Customize.",
    )
    items = [
        {"feature": f"text:{word}", "weight": weight}
        for word, weight in (("does", 3.0), ("doesn", 2.5), ("did", 2.0), ("toolbar", 1.0), ("restart", 0.5))
    ]
    shown = " ".join(r["text"] for r in from_features(items, report, 6))
    assert "*toolbar*" in shown and "*restart*" in shown
    assert not {"does", "doesn", "did"} & set(re.findall(r"\*([^*]+)\*", shown)), shown
