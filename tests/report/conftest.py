"""Real evaluations for the report tests, built from small slices of ../shared/data (never copied here).

The builders are plain functions so `tests/report/screenshots.py` can make the docs' screenshots from the
same evaluations.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from bugsift.learn.component.task import evaluate_reports
from bugsift.learn.files.candidates import load_candidates
from bugsift.learn.files.replay import replay
from bugsift.learn.targets import Dataset, defect_from_label
from bugsift.learn.training import evaluate_dataset
from bugsift.sources import read_reports
from bugsift.sources.base import Report

IN_CI = os.environ.get("CI", "").lower() == "true"
DEFAULT_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def data_dir() -> Path:
    """The shared data; skipped when absent, except under CI=true where it must be there."""
    path = Path(os.environ.get("BUGSIFT_SHARED_DATA", DEFAULT_DATA))
    if not (path / "README.md").is_file():
        message = f"shared data not found at {path} (set BUGSIFT_SHARED_DATA)"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return path


def defect_evaluation(data: Path, n: int = 300) -> dict[str, Any]:
    """`defect` on the oldest ``n`` Mozilla bugs, label ``is_bug_derived`` (binary), with a learning curve."""
    path = data / "bugzilla-mozilla" / "bugs_compact_labeled.jsonl"
    reports = sorted(
        (r for r in read_reports("bugzilla", path) if isinstance(r, Report)), key=lambda r: r.created_at
    )[:n]
    labels = [defect_from_label(r.labels["is_bug_derived"]) for r in reports]
    dataset = Dataset(task="defect", label_name="is_bug_derived", reports=reports, labels=labels)
    return evaluate_dataset(dataset, learning_curve=True).as_dict()


def type_evaluation(
    data: Path, repo: str = "microsoft/vscode", body_chars: int = 1500, learning_curve: bool = True
) -> dict[str, Any]:
    """`type` (bug / feature / question) on one NLBSE repository's 300 issues."""
    path = data / "github-issues" / "nlbse24_train.csv"
    reports = [r for r in read_reports("github", path) if isinstance(r, Report) and r.project == repo]
    for report in reports:
        report.description = (report.description or "")[:body_chars]
    dataset = Dataset(task="type", label_name="type", reports=reports, labels=[r.type or "" for r in reports])
    return evaluate_dataset(dataset, learning_curve=learning_curve).as_dict()


def component_evaluation(data: Path, per_project: int = 400) -> dict[str, Any]:
    """`component` on the oldest ``per_project`` YARN and HDFS issues with a component."""
    path = data / "apache-jira" / "jira_issues.jsonl.xz"
    kept: dict[str, int] = {"YARN": 0, "HDFS": 0}
    out = []
    for report in read_reports("jira", path):
        if isinstance(report, Report) and kept.get(report.project, per_project) < per_project:
            report.comments = []
            out.append(report)
            kept[report.project] += bool(report.components)
    return evaluate_reports(out)


def files_evaluation(data: Path, projects: tuple[str, ...] = ("AspectJ",), n: int = 200) -> dict[str, Any]:
    """`files` replayed on the oldest ``n`` reports of each project (as `FilesTask.evaluate` shapes it)."""
    folder = data / "eclipse-localization"
    by_project: dict[str, list[Report]] = {p: [] for p in projects}
    for report in read_reports("bugzilla", folder / "bug_reports.jsonl.xz"):
        if isinstance(report, Report) and report.project in by_project:
            by_project[report.project].append(report)
    results = []
    for project, reports in by_project.items():
        reports = sorted(reports, key=lambda r: r.created_at)[:n]
        results.append(replay(reports, load_candidates(folder, project), project=project).as_dict())
    return {"task": "files", "projects": results}


@pytest.fixture(scope="session")
def defect_eval() -> dict[str, Any]:
    return defect_evaluation(data_dir(), n=200)


@pytest.fixture(scope="session")
def type_eval() -> dict[str, Any]:
    return type_evaluation(data_dir(), body_chars=600, learning_curve=False)


@pytest.fixture(scope="session")
def component_eval() -> dict[str, Any]:
    return component_evaluation(data_dir(), per_project=250)


@pytest.fixture(scope="session")
def files_eval() -> dict[str, Any]:
    return files_evaluation(data_dir(), n=150)
