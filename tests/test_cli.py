"""The command line end to end on small real slices: import, labels, train, evaluate, predict."""

from __future__ import annotations

import json
import lzma
import re
from itertools import islice
from pathlib import Path

import pytest
from click.testing import CliRunner

from bugsift.cli import main


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("BUGSIFT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("BUGSIFT_DATABASE_URL", raising=False)
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True):
        result = runner.invoke(main, [str(a) for a in args], catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output + (result.stderr or "")
        return result

    return invoke


@pytest.fixture
def mozilla(shared_data: Path, tmp_path: Path) -> dict[str, Path]:
    """300 real Mozilla bugs split by age: the older 250 to learn from, the newest 50 to predict."""
    with lzma.open(shared_data / "bugzilla-mozilla/bugs_full_add08f170.jsonl.xz", "rt") as handle:
        bugs = [json.loads(line) for line in islice(handle, 300)]
    bugs.sort(key=lambda bug: bug["creation_time"])
    old, new = tmp_path / "old.jsonl", tmp_path / "new.jsonl"
    old.write_text("".join(json.dumps(bug) + "\n" for bug in bugs[:250]))
    new.write_text("".join(json.dumps(bug) + "\n" for bug in bugs[250:]))
    return {"old": old, "new": new, "labels": shared_data / "bugzilla-mozilla/bugs_compact_labeled.jsonl"}


def test_every_command_has_help(run) -> None:
    for command in ([], ["import"], ["labels", "import"], ["train"], ["evaluate"], ["predict"], ["models"],
                    ["db", "status"], ["settings"], ["demo"], ["encode"]):  # fmt: skip
        result = run(*command, "--help")
        assert "Usage:" in result.output and len(result.output.splitlines()) > 3


def test_import_train_evaluate_predict_on_real_bugs(run, mozilla: dict[str, Path], tmp_path: Path) -> None:
    assert "imported 250" in run("import", "bugzilla", mozilla["old"]).output
    labelled = run("labels", "import", mozilla["labels"], "--name", "is_bug", "--column", "is_bug_derived")
    assert "stored 250 labels" in labelled.output

    trained = run("train", "defect", "--label", "is_bug", "--mode", "backlog").output
    assert "saved defect model v1 (label is_bug, mode backlog)" in trained
    assert "baseline" in trained and "uncertain below" in trained
    chosen = r"settings chosen on .*: small-store settings 0\.\d+, plain TF-IDF \+ LR 0\.\d+"
    assert re.search(chosen, trained)

    evaluation = json.loads(run("evaluate", "defect", "--label", "is_bug", "--json").output)
    assert evaluation["split"] == "time" and evaluation["mode"] == "filing"
    assert 0.0 <= evaluation["metrics"]["accuracy"] <= 1.0
    assert evaluation["data"]["n_train"] + evaluation["data"]["n_test"] == 250
    assert evaluation["data"]["train_dates"][1] <= evaluation["data"]["test_dates"][0]

    out = tmp_path / "predictions.jsonl"
    run("predict", "defect", "--mode", "backlog", "--input", mozilla["new"], "--output", out, "--top-k", "2")
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    new_ids = [str(json.loads(line)["id"]) for line in mozilla["new"].read_text().splitlines()]
    assert [line["id"] for line in lines] == new_ids  # reports that are not in the database
    for line in lines:
        assert set(line) == {"id", "prediction", "probability", "candidates", "uncertain", "explanation"}
        assert line["prediction"] in {"defect", "not_defect"}
        assert line["candidates"][0] == {"label": line["prediction"], "probability": line["probability"]}
        assert abs(sum(c["probability"] for c in line["candidates"]) - 1) < 1e-3
        assert isinstance(line["uncertain"], bool) and line["explanation"]

    report = tmp_path / "defect.html"
    run("evaluate", "defect", "--label", "is_bug", "--mode", "backlog", "--report", report)
    html = report.read_text()
    assert html.count("<img") >= 8 and "data:image/png;base64," in html
    assert "http://" not in html and "https://" not in html  # self-contained: opens offline
    assert "Learning curve" in html and "previous" in html.lower()  # v1 of this model exists to compare with

    models = run("models").output
    assert "defect" in models and "is_bug" in models and "backlog" in models


def test_type_task_on_github_issues(run, shared_data: Path, tmp_path: Path) -> None:
    with open(shared_data / "github-issues/nlbse24_train.csv", encoding="utf-8", newline="") as handle:
        import csv
        import sys

        csv.field_size_limit(sys.maxsize)
        rows = list(csv.DictReader(handle))
    react = [row for row in rows if row["repo"] == "facebook/react"]
    path = tmp_path / "react.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(react)
    run("import", "github", path)
    result = json.loads(run("evaluate", "type", "--split", "kfold", "--folds", "3", "--json").output)
    assert set(result["metrics"]["per_class"]) == {"bug", "feature", "question"}
    # Three balanced classes: chance is 1/3; a model that learned something is far above it.
    assert result["metrics"]["macro_f1"] > 0.6 > result["baseline"]["macro_f1"]


def test_clear_errors(run, tmp_path: Path) -> None:
    missing_model = run("predict", "type", "--input", __file__, "--format", "csv", ok=False)
    assert missing_model.exit_code != 0 and "bugsift train type" in missing_model.output
    no_reports = run("train", "defect", ok=False)
    assert no_reports.exit_code != 0 and "two classes" in no_reports.output
    labels = tmp_path / "labels.csv"
    labels.write_text("bug,verdict\n1,True\n")
    bad_labels = run("labels", "import", labels, "--name", "is_bug", ok=False)
    assert "cannot tell which column is the id" in bad_labels.output


@pytest.mark.usefixtures("sentence_model")
def test_encode_ahead_fills_the_cache_once(
    run, mozilla: dict[str, Path], tmp_path: Path, monkeypatch
) -> None:
    from bugsift.learn.embeddings import clear_cache
    from bugsift.learn.encoding_store import EncodingStore, use_disk_cache

    clear_cache()  # other tests of this process may have encoded the same bugs
    few = tmp_path / "few.jsonl"
    few.write_text("".join(mozilla["old"].read_text().splitlines(keepends=True)[:12]))
    run("import", "bugzilla", few)
    try:
        assert "BUGSIFT_EMBEDDINGS is off" in run("encode", ok=False).output  # the tests' default
        monkeypatch.setenv("BUGSIFT_EMBEDDINGS", "on")
        first = run("encode").output
        encoded = int(first.split("kind views: ")[1].split()[0])
        assert first.startswith("12 reports.") and encoded > 12 and "0 already cached" in first
        cache = tmp_path / "home" / "cache" / "encodings.sqlite3"
        assert len(EncodingStore(cache, 384)) == encoded
        again = run("encode", "--tracker", "bugzilla").output
        assert f"kind views: 0 texts encoded, {encoded} already cached" in again
        nothing = run("encode", "--tracker", "jira", ok=False)
        assert nothing.exit_code != 0 and "no stored reports for tracker 'jira'" in nothing.output
    finally:
        use_disk_cache(None)


def test_an_import_lists_some_rejected_records_and_says_how_many_more(
    run, mozilla: dict[str, Path], tmp_path: Path
) -> None:
    path = tmp_path / "some_broken.jsonl"
    good = mozilla["old"].read_text().splitlines(keepends=True)[:5]
    path.write_text("".join(good) + "".join(f'{{"id": {n}, "summary": \n' for n in range(4)))
    result = run("import", "bugzilla", path, "--show-rejected", "2")
    assert "imported 5, updated 0, unchanged 0, rejected 4" in result.output
    rejected = [line for line in result.stderr.splitlines() if line.startswith("rejected ")]
    assert [line.split(": ")[0] for line in rejected] == [f"rejected {path}:6", f"rejected {path}:7"]
    assert "... and 2 more rejected lines (--show-rejected N lists more)" in result.stderr
