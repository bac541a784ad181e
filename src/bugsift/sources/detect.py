"""Tell which import format a file is in, from its first record (for `predict --format auto`)."""

from __future__ import annotations

from pathlib import Path

from bugsift.sources.base import Rejected
from bugsift.sources.io import csv_header, iter_json_records, sniff_kind

# Keys or columns that only one format's records carry, checked in order.
_JSON_SIGNS = (
    ("redmine", {"subject", "created_on", "issue"}),
    ("jira", {"jira_project", "fields", "issuetype"}),
    ("github", {"html_url", "repository_url", "number", "text"}),
    ("bugzilla", {"bug_id", "summary", "creation_time", "bugs", "report_time"}),
)
_CSV_SIGNS = (
    ("redmine", {"#", "subject", "tracker"}),
    ("jira", {"issue key", "issue type", "summary"}),
    ("github", {"repo", "label", "title", "body"}),
)


_ID_KEYS = {"id", "bug_id", "key", "number"}


def _generic_keys(keys: set[str], with_id: bool = True) -> bool:
    """Title and body under the generic importer's names (and an ``id`` unless ``with_id`` is False)."""
    lowered = {key.strip().lower() for key in keys}
    has_text = bool(lowered & {"title", "summary"}) and bool(lowered & {"body", "description"})
    return has_text and ("id" in lowered if with_id else not lowered & _ID_KEYS)


def detect_format(path: Path) -> str:
    """Return bugzilla, github, jira, redmine or csv for a file, or raise ValueError saying what was seen."""
    kind = sniff_kind(path)
    if kind == "empty":
        raise ValueError(f"{path}: the file is empty")
    if kind == "csv":
        header = {column.strip().lower() for column in csv_header(path)}  # refuses plain text
        for fmt, signs in _CSV_SIGNS:
            if signs <= header:
                return fmt
        return "csv"
    first_rejected: Rejected | None = None
    for item in iter_json_records(path, envelopes=("bugs", "issues")):
        if isinstance(item, Rejected):
            first_rejected = first_rejected or item
            continue
        location, record = item
        keys = set(record) if isinstance(record, dict) else set()
        if _generic_keys(keys, with_id=False):
            return "csv"  # a hand-written {"title", "description"}, no tracker's id: the generic reader's
        for fmt, signs in _JSON_SIGNS:
            if keys & signs:
                return fmt
        if {"label", "text"} <= keys:
            return "github"
        if _generic_keys(keys):
            return "csv"  # the generic importer reads flat JSON records with its column names too
        raise ValueError(
            f"{location}: cannot tell the format of a record with keys {sorted(keys)[:12]} "
            "(expected a tracker's record, or 'title' and 'description' with an optional 'id')"
        )
    if first_rejected is not None:
        raise ValueError(f"{first_rejected}; no readable JSON record in the file")
    raise ValueError(f"{path}: no readable JSON record")
