"""Tell which import format a file is in, from its first record (for `predict --format auto`)."""

from __future__ import annotations

import csv
from pathlib import Path

from bugsift.sources.base import Rejected
from bugsift.sources.io import iter_json_records, open_text, sniff_kind

# Keys or columns that only one format's records carry, checked in order.
_JSON_SIGNS = (
    ("jira", {"jira_project", "fields", "issuetype"}),
    ("github", {"html_url", "repository_url", "number", "text"}),
    ("bugzilla", {"bug_id", "summary", "creation_time", "bugs", "report_time"}),
)
_CSV_SIGNS = (
    ("jira", {"issue key", "issue type", "summary"}),
    ("github", {"repo", "label", "title", "body"}),
)


def _generic_keys(keys: set[str]) -> bool:
    lowered = {key.strip().lower() for key in keys}
    has_text = bool(lowered & {"title", "summary"}) and bool(lowered & {"body", "description"})
    return "id" in lowered and has_text


def detect_format(path: Path) -> str:
    """Return bugzilla, github, jira or csv for a file, or raise ValueError saying what was seen."""
    kind = sniff_kind(path)
    if kind == "empty":
        raise ValueError(f"{path}: the file is empty")
    if kind == "csv":
        with open_text(path, newline="") as handle:
            header = {column.strip().lower() for column in next(csv.reader(handle), [])}
        for fmt, signs in _CSV_SIGNS:
            if signs <= header:
                return fmt
        return "csv"
    for item in iter_json_records(path, envelopes=("bugs", "issues")):
        if isinstance(item, Rejected):
            continue
        record = item[1]
        keys = set(record) if isinstance(record, dict) else set()
        for fmt, signs in _JSON_SIGNS:
            if keys & signs:
                return fmt
        if {"label", "text"} <= keys:
            return "github"
        if _generic_keys(keys):
            return "csv"  # the generic importer reads flat JSON records with its column names too
        raise ValueError(f"{path}: cannot tell the format of a record with keys {sorted(keys)[:12]}")
    raise ValueError(f"{path}: no readable JSON record")
