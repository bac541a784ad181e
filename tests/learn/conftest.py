"""Fixtures of the kind-model tests: small real slices of ../shared/data (never copied into the repo)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bugsift.sources import read_reports
from bugsift.sources.base import Report

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared real data; skipped when absent, except in CI (CI=true) where it must be there."""
    path = Path(os.environ.get("BUGSIFT_SHARED_DATA", REPO.parent / "shared" / "data"))
    if not path.is_dir():
        message = f"shared data not found at {path} (set BUGSIFT_SHARED_DATA)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def mozilla(data_dir: Path) -> list[Report]:
    """The 1,014 Mozilla bugs (full records), label ``is_bug_derived`` (defect / not_defect), oldest first."""
    base = data_dir / "bugzilla-mozilla"
    labels = {}
    with open(base / "bugs_compact_labeled.jsonl", encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            labels[str(d["id"])] = "defect" if d["is_bug_derived"] else "not_defect"
    out = []
    for r in read_reports("bugzilla", base / "bugs_full_add08f170.jsonl.xz"):
        if isinstance(r, Report) and r.external_id in labels:
            r.labels["is_bug_derived"] = labels[r.external_id]
            out.append(r)
    out.sort(key=lambda r: r.created_at)
    return out


@pytest.fixture(scope="session")
def github(data_dir: Path) -> list[Report]:
    """The 300 NLBSE'24 issues of microsoft/vscode (bug / feature / question), oldest first."""
    reports = [
        r
        for r in read_reports("github", data_dir / "github-issues" / "nlbse24_train.csv")
        if isinstance(r, Report) and r.project == "microsoft/vscode"
    ]
    reports.sort(key=lambda r: r.created_at)
    return reports


@pytest.fixture(scope="session")
def two_projects(data_dir: Path) -> list[Report]:
    """The 40 oldest NLBSE'24 issues of facebook/react and of microsoft/vscode each (project set)."""
    out = []
    for project in ("facebook/react", "microsoft/vscode"):
        reports = [
            r
            for r in read_reports("github", data_dir / "github-issues" / "nlbse24_train.csv")
            if isinstance(r, Report) and r.project == project
        ]
        out += sorted(reports, key=lambda r: r.created_at)[:40]
    return out
