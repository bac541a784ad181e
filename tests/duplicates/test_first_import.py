"""Duplicate search right after an import, with no trained model: real Jira and Mozilla slices, real SQLite.

The query HADOOP-2477 ("Unit test fails on Windows: TestCopyFiles.testCopyFromLocal...") is a real
duplicate of HADOOP-2476 (duplicate_pairs.csv); both are among the first 1,500 Jira issues.
"""

from __future__ import annotations

import json
import lzma
from itertools import islice
from pathlib import Path

import pytest
from click.testing import CliRunner

from bugsift.cli import main
from bugsift.duplicates.similarity import NO_STORED_REPORT, RANKER
from bugsift.duplicates.task import DuplicatesTask, learned_beats_text
from bugsift.learn.tasks import TaskOptions
from bugsift.sources.base import Report
from bugsift.store.db import Database

QUERY, ORIGINAL = "HADOOP-2477", "HADOOP-2476"


def jira_lines(shared_data: Path, n: int = 1500) -> list[str]:
    with lzma.open(shared_data / "apache-jira/jira_issues.jsonl.xz", "rt", encoding="utf-8") as handle:
        return [line.rstrip("\n") for line in islice(handle, n)]


@pytest.fixture
def jira_files(shared_data: Path, tmp_path: Path) -> dict[str, Path]:
    """The first 1,500 real Jira issues but the query (to import), and the query alone (to ask about)."""
    lines = jira_lines(shared_data)
    stored = [line for line in lines if json.loads(line)["key"] != QUERY]
    [query] = [line for line in lines if json.loads(line)["key"] == QUERY]
    (tmp_path / "old.jsonl").write_text("\n".join(stored) + "\n")
    (tmp_path / "new.jsonl").write_text(query + "\n")
    return {"old": tmp_path / "old.jsonl", "new": tmp_path / "new.jsonl"}


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("BUGSIFT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("BUGSIFT_DATABASE_URL", raising=False)
    runner = CliRunner()

    def invoke(*args: object) -> str:
        result = runner.invoke(main, [str(a) for a in args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    return invoke


def answers(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_duplicates_answer_by_text_similarity_right_after_an_import(run, jira_files: dict[str, Path]) -> None:
    run("import", "jira", jira_files["old"])
    for command in (["duplicates"], ["predict", "duplicates"]):
        [answer] = answers(run(*command, "--input", jira_files["new"]))
        assert answer["ranker"] == RANKER and answer["id"] == QUERY
        labels = [c["label"] for c in answer["candidates"]]
        assert ORIGINAL in labels[:3], labels
        assert set(answer) >= {"prediction", "probability", "candidates", "uncertain", "explanation", "score"}
        best = answer["candidates"][0]
        assert {"tracker", "title", "status", "canonical", "matched_terms", "score"} <= set(best)
        assert 0.0 <= best["score"] <= 1.0 and 0.0 <= answer["probability"] <= 1.0
        reasons = answer["explanation"]
        assert any(r["kind"] == "similar" and r["text"].startswith(("title ", "text ")) for r in reasons)
        assert answer["uncertain"] or answer["calibrated"]  # never confident on an uncalibrated similarity


def test_training_with_too_few_links_keeps_text_similarity_answering(
    run, shared_data: Path, tmp_path: Path
) -> None:
    """The Mozilla sample holds 9 duplicate links between its bugs: too few for the learned re-ranker."""
    run("import", "bugzilla", shared_data / "bugzilla-mozilla/bugs_full_add08f170.jsonl.xz")
    out = run("train", "duplicates")
    assert "need at least 20" in out and "keeps answering by text similarity" in out
    assert "no models yet" in run("models")
    with lzma.open(shared_data / "bugzilla-mozilla/bugs_full_add08f170.jsonl.xz", "rt") as handle:
        bugs = [json.loads(line) for line in islice(handle, 1014)]
    duplicate = next(b for b in bugs if b.get("dupe_of") in {o["id"] for o in bugs})
    (tmp_path / "q.jsonl").write_text(json.dumps(duplicate) + "\n")
    [answer] = answers(run("duplicates", "--input", tmp_path / "q.jsonl"))
    assert answer["ranker"] == RANKER
    assert str(duplicate["dupe_of"]) in [c["label"] for c in answer["candidates"]]


def test_an_empty_store_answers_no_stored_report(sqlite_db: Database) -> None:
    predictor = DuplicatesTask().predictor(sqlite_db, TaskOptions())
    [answer] = predictor.predict([Report(tracker="jira", external_id="X-1", title="NPE on start")], 5)
    assert answer["candidates"] == [] and answer["prediction"] is None and answer["uncertain"]
    assert answer["explanation"] == [NO_STORED_REPORT] and answer["ranker"] == RANKER


def test_the_learned_ranker_must_not_lose_to_text_similarity_on_validation() -> None:
    def evaluation(learned: float, text: float) -> dict:
        return {
            "validation": {
                "learned": {"rr@10": learned, "mrr": learned},
                "text_similarity": {"rr@10": text, "mrr": text},
            }
        }

    assert learned_beats_text(evaluation(0.7, 0.6))
    assert not learned_beats_text(evaluation(0.55, 0.6))
