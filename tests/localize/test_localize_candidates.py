"""Candidate files: replaying the delta-encoded file lists."""

from __future__ import annotations

import json
import lzma
from pathlib import Path

import pytest

from bugsift.learn.files.candidates import DeltaCandidates, FileLists, load_candidates
from bugsift.sources.base import Report


def test_localize_file_added_removed_and_added_again() -> None:
    lists = FileLists.from_lines(
        [
            {"commit": "c0", "added": ["a/A.java", "a/B.java"], "removed": [], "n_java": 2},
            {"commit": "c1", "added": ["a/C.java"], "removed": ["a/B.java"], "n_java": 2},
            {"commit": "c2", "added": [], "removed": [], "n_java": 2},
            {"commit": "c3", "added": ["a/B.java"], "removed": ["a/A.java"], "n_java": 2},
        ]
    )
    assert lists.files_at("c0") == ["a/A.java", "a/B.java"]
    assert lists.files_at("c1") == ["a/A.java", "a/C.java"]
    assert lists.files_at("c2") == ["a/A.java", "a/C.java"]
    assert sorted(lists.files_at("c3")) == ["a/B.java", "a/C.java"]


def test_localize_delta_rejects_removing_a_missing_file() -> None:
    with pytest.raises(ValueError, match="not there"):
        FileLists.from_lines([{"commit": "c0", "added": [], "removed": ["x.java"]}])


def test_localize_real_delta_replay_matches_plain_replay(shared_data: Path) -> None:
    path = shared_data / "eclipse-localization" / "aspectj_buggy_version_java_filelists.delta.jsonl.xz"
    with lzma.open(path, "rt") as handle:
        lines = [json.loads(line) for line in handle]
    lists = FileLists.load(path)
    current: set[str] = set()
    removed_once: str | None = None
    for k, line in enumerate(lines):
        current -= set(line["removed"])
        current |= set(line["added"])
        if k % 37 == 0 or k == len(lines) - 1:
            files = {lists.paths[i] for i in lists.ids_at(k)}
            assert files == current
            assert len(files) == line["n_java"]
        if line["removed"] and removed_once is None:
            removed_once, removed_at = line["removed"][0], k
    # a file removed at some version is not a candidate there (and was one just before)
    assert removed_once is not None
    assert removed_once not in lists.files_at(lines[removed_at]["commit"])
    assert removed_once in lists.files_at(lines[removed_at - 1]["commit"])


def test_localize_delta_candidates_of_a_real_bug(shared_data: Path) -> None:
    source = load_candidates(shared_data / "eclipse-localization", "AspectJ")
    assert isinstance(source, DeltaCandidates)
    report = Report(tracker="bugzilla", external_id="423257", project="AspectJ")
    paths = source.paths_for(report)
    assert paths is not None and len(paths) > 5000
    assert "org.aspectj.ajdt.core/src/org/aspectj/ajdt/internal/core/builder/AjState.java" in paths
    # files the fix added are not candidates at the buggy version
    assert "tests/bugs175/pr423257/AspectX.java" not in paths
    assert source.fix_time(report) == 1386354828
    assert source.paths_for(Report(tracker="bugzilla", external_id="1", project="AspectJ")) is None
