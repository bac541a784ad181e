"""GitHub importer: REST issue JSON, NLBSE-style CSV and ``{"label", "text"}`` JSON lines.

Shapes, detected by content:

* REST issues (``GET /repos/O/R/issues``): one per line, a JSON list per file (an API page), or a search
  result ``{"items": [...]}``. Pull requests (objects with ``pull_request``) are skipped. ``type`` is the
  first label that maps to bug / feature / question (see `LABEL_TYPES`); GitHub keeps no field history,
  so ``filed`` is None.
* CSV with columns repo, created_at, label, title, body: ``external_id`` is the ``id`` / ``number``
  column when present, else the 1-based data row number.
* JSON lines ``{"label", "text"}`` (Ticket Tagger): ``external_id`` is the line number, the text is the
  description (title and body are already joined there).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bugsift.sources.base import RecordError, Rejected, Report
from bugsift.sources.io import (
    as_dict,
    as_id,
    as_list,
    as_opt_str,
    as_text,
    column_index,
    csv_header,
    guarded,
    iter_csv_rows,
    parse_datetime,
    read_json_reports,
    require,
    sniff_kind,
)

# Normalised label name -> report type. Names are compared after lower-casing, dropping a scope prefix
# ("type: bug", "kind/bug", "Type: Feature Request"), a parenthesised note and decoration ("*question").
LABEL_TYPES = {
    "bug": "bug",
    "defect": "bug",
    "bug report": "bug",
    "feature": "feature",
    "feature request": "feature",
    "enhancement": "feature",
    "new feature": "feature",
    "question": "question",
    "questions": "question",
    "support": "question",  # tensorflow's "type:support" holds usage questions
}
_URL_REPO = re.compile(r"github\.com/(?:repos/)?([^/\s]+/[^/\s]+?)(?:/|$|\.git)")
_API_REPO = re.compile(r"/repos/([^/\s]+/[^/\s]+?)(?:/|$)")


def read(path: Path, tracker: str = "github") -> Iterator[Report | Rejected]:
    """Read GitHub issues from REST JSON (lines or pages), an NLBSE-style CSV or label/text JSON lines."""
    path = Path(path)
    if sniff_kind(path) == "csv":
        return _read_csv(path, tracker)
    return read_json_reports(
        path,
        envelopes=("items",),
        looks_like=_looks_like_issue,
        expected="GitHub issue JSON (expected keys number, title, body or label, text)",
        build=lambda location, obj: from_record(obj, tracker, location),
    )


def _looks_like_issue(obj: dict[str, Any]) -> bool:
    return "title" in obj or ("text" in obj and "label" in obj) or "number" in obj


def from_record(obj: dict[str, Any], tracker: str = "github", location: str = "") -> Report | None:
    """One JSON record; None for pull requests, which are not issues."""
    if "text" in obj and "title" not in obj and "number" not in obj:
        return from_labeled_text(obj, tracker, location)
    if obj.get("pull_request"):
        return None
    return from_rest(obj, tracker)


def from_rest(issue: dict[str, Any], tracker: str = "github") -> Report:
    """A GitHub REST issue object."""
    number = as_id(require(issue, "number"), "number")
    names = label_names(issue.get("labels"))
    issue_type = type_from_labels(names)
    user = as_dict(issue.get("user"), "user")
    milestone = as_dict(issue.get("milestone"), "milestone")
    extra = {
        "labels": names,
        "html_url": issue.get("html_url"),
        "comments_count": issue.get("comments") if isinstance(issue.get("comments"), int) else None,
        "milestone": milestone.get("title"),
        "author_association": issue.get("author_association"),
    }
    return Report(
        tracker=tracker,
        external_id=number,
        title=as_text(issue.get("title"), "title"),
        description=as_text(issue.get("body"), "body"),
        project=repo_of(issue),
        created_at=parse_datetime(issue.get("created_at"), "created_at"),
        reporter=as_opt_str(user.get("login"), "user.login"),
        type=issue_type,
        status=as_opt_str(issue.get("state"), "state"),
        resolution=as_opt_str(issue.get("state_reason"), "state_reason"),
        resolved_at=parse_datetime(issue.get("closed_at"), "closed_at"),
        keywords=names,
        labels={"label": issue_type} if issue_type else {},
        extra={k: v for k, v in extra.items() if v not in (None, [])},
        raw=issue,
    )


def label_names(labels: Any) -> list[str]:
    """Label names from ``[{"name": ...}]`` or plain strings."""
    names = []
    for label in as_list(labels, "labels"):
        name = label.get("name") if isinstance(label, dict) else label
        if isinstance(name, str) and name.strip():
            names.append(name.strip())
    return names


def type_from_labels(names: list[str]) -> str | None:
    """The type of the first label that means bug / feature / question, else None."""
    for name in names:
        found = LABEL_TYPES.get(_normalise_label(name))
        if found:
            return found
    return None


def _normalise_label(name: str) -> str:
    text = re.sub(r"\(.*?\)", "", name.lower())  # "question (invalid tracker)"
    text = re.split(r"[:/]", text)[-1]  # "type: bug", "kind/bug"
    text = re.sub(r"[-_]+", " ", text)
    return re.sub(r"^[^a-z0-9]+|[^a-z0-9]+$", "", text)


def repo_of(issue: dict[str, Any]) -> str:
    """``owner/repo`` from repository.full_name, repository_url or html_url; "" when unknown."""
    repository = issue.get("repository")
    if isinstance(repository, dict) and isinstance(repository.get("full_name"), str):
        return repository["full_name"]
    for key, pattern in (("repository_url", _API_REPO), ("html_url", _URL_REPO), ("url", _API_REPO)):
        value = issue.get(key)
        if isinstance(value, str) and (match := pattern.search(value)):
            return match.group(1)
    return ""


def from_labeled_text(obj: dict[str, Any], tracker: str = "github", location: str = "") -> Report:
    """A ``{"label", "text"}`` line: no id of its own, so the line number is the id."""
    number = getattr(location, "number", None)
    if number is None:
        raise RecordError("record has no id and no line number")
    label = as_opt_str(obj.get("label"), "label")
    return Report(
        tracker=tracker,
        external_id=str(number),
        description=as_text(obj.get("text"), "text"),
        type=label,
        labels={"label": label} if label else {},
        raw=obj,
    )


# --- CSV ---------------------------------------------------------------------------------------------


def _read_csv(path: Path, tracker: str) -> Iterator[Report | Rejected]:
    header = csv_header(path)
    columns = _csv_columns(path, header)
    return (
        item
        for n, (location, row) in enumerate(iter_csv_rows(path), 1)
        for item in guarded(location, _from_csv_row, header, row, columns, n, tracker)
    )


def _csv_columns(path: Path, header: list[str]) -> dict[str, int | None]:
    columns = {
        "id": column_index(header, "id", "number"),
        "repo": column_index(header, "repo", "repository"),
        "created_at": column_index(header, "created_at"),
        "label": column_index(header, "label"),
        "title": column_index(header, "title"),
        "body": column_index(header, "body"),
    }
    if columns["title"] is None and columns["body"] is None:
        raise ValueError(
            f"{path}: not a GitHub issues CSV (expected columns repo, created_at, label, title, body; "
            f"found: {', '.join(header[:12])})"
        )
    return columns


def _from_csv_row(
    header: list[str], row: list[str], columns: dict[str, int | None], n: int, tracker: str
) -> Report:
    def cell(name: str) -> str:
        index = columns[name]
        return row[index] if index is not None and index < len(row) else ""

    external_id = cell("id").strip() if columns["id"] is not None else str(n)
    if not external_id:
        raise RecordError("missing field 'id'")
    label = cell("label").strip() or None
    return Report(
        tracker=tracker,
        external_id=external_id,
        title=cell("title"),
        description=cell("body"),
        project=cell("repo").strip(),
        created_at=parse_datetime(cell("created_at"), "created_at"),
        type=label,
        labels={"label": label} if label else {},
        raw=dict(zip(header, row, strict=False)),
    )
