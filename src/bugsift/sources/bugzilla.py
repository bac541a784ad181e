"""Bugzilla importer: REST ``bug`` objects, and two flat Bugzilla-like line shapes.

Shapes, detected per record:

* REST bug (``GET /rest/bug/ID?include_fields=_default,comments,history,attachments``): one per line, one
  per file, a list, or the ``{"bugs": [...]}`` envelope. Filing-time values come from replaying
  ``history`` backwards; without a ``history`` key ``filed`` is None.
* Eclipse localization lines (``bug_id``, ``summary`` starting with "Bug NNN", ``report_time``,
  ``files``...): ``files`` become the fixed files.
* Compact labeled lines (``id``, ``summary``, ``description``, ``creation_time``, ``is_bug``...):
  columns we do not map (``is_bug``, ``is_bug_derived``, ``regression_category``) become labels.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bugsift.sources.base import FILED_FIELDS, RecordError, Rejected, Report
from bugsift.sources.io import (
    as_dict,
    as_id,
    as_list,
    as_opt_str,
    as_str_list,
    as_text,
    label_text,
    parse_datetime,
    read_json_reports,
    require,
    sniff_kind,
)

# History field names differ across Bugzilla versions.
_HISTORY_ALIASES = {"bug_type": "type", "bug_severity": "severity", "rep_platform": "platform"}
# Filing-or-later fields kept as model features or for later issues.
_EXTRA_FIELDS = (
    "platform",
    "op_sys",
    "version",
    "whiteboard",
    "cf_crash_signature",
    "cf_has_str",
    "cf_has_regression_range",
    "see_also",
    "regressed_by",
    "classification",
    "target_milestone",
)
_BUG_PREFIX = re.compile(r"^\s*Bug\s+\d+\s*[:.\-]?\s*")
_COMPACT_KEYS = frozenset(
    {
        "id",
        "summary",
        "description",
        "product",
        "component",
        "severity",
        "priority",
        "type",
        "keywords",
        "status",
        "resolution",
        "creation_time",
        "dupe_of",
        "creator",
        "cf_last_resolved",
    }
)
try:
    # Eclipse's report_time is Eastern local time: it matches the (rounded) report_timestamp exactly
    # when read as America/New_York, and is off by 4-5 hours when read as UTC.
    _ECLIPSE_TZ: Any = ZoneInfo("America/New_York")
except ZoneInfoNotFoundError:  # no tz database: fall back to the rounded epoch timestamp
    _ECLIPSE_TZ = None


def read(path: Path, tracker: str = "bugzilla") -> Iterator[Report | Rejected]:
    """Read Bugzilla reports from a JSON-lines or JSON file (plain, .gz or .xz)."""
    path = Path(path)
    if sniff_kind(path) == "csv":
        raise ValueError(f"{path}: not Bugzilla JSON (expected JSON bug objects, found text/CSV)")
    return read_json_reports(
        path,
        envelopes=("bugs",),
        looks_like=_looks_like_bug,
        expected="Bugzilla bug JSON (expected keys like id, summary, creation_time)",
        build=lambda location, obj: from_record(obj, tracker, location),
    )


def _looks_like_bug(obj: dict[str, Any]) -> bool:
    if {"number", "key", "fields"} & obj.keys():  # a GitHub or Jira issue
        return False
    return bool({"id", "bug_id", "creation_time", "report_time"} & obj.keys())


def from_record(obj: dict[str, Any], tracker: str = "bugzilla", location: str = "") -> Report:
    """Turn one record of any supported shape into a Report (raises RecordError when unusable)."""
    if "bug_id" in obj:
        return from_eclipse(obj, tracker)
    if "description" in obj and "comments" not in obj:
        return from_compact(obj, tracker)
    return from_rest(obj, tracker)


# --- REST bug ----------------------------------------------------------------------------------------


def from_rest(bug: dict[str, Any], tracker: str = "bugzilla") -> Report:
    """A Bugzilla REST bug object with (optionally) comments, history and attachments."""
    external_id = as_id(require(bug, "id"), "id")
    description, comments = _split_comments(as_list(bug.get("comments"), "comments"))
    component = as_opt_str(bug.get("component"), "component")
    report = Report(
        tracker=tracker,
        external_id=external_id,
        title=as_text(bug.get("summary"), "summary"),
        description=description,
        created_at=parse_datetime(bug.get("creation_time"), "creation_time"),
        reporter=as_opt_str(bug.get("creator"), "creator"),
        type=as_opt_str(bug.get("type"), "type"),
        product=as_opt_str(bug.get("product"), "product"),
        component=component,
        components=[component] if component else [],
        severity=as_opt_str(bug.get("severity"), "severity"),
        priority=as_opt_str(bug.get("priority"), "priority"),
        status=as_opt_str(bug.get("status"), "status"),
        resolution=as_opt_str(bug.get("resolution"), "resolution"),
        resolved_at=parse_datetime(bug.get("cf_last_resolved"), "cf_last_resolved"),
        duplicate_of=_opt_id(bug.get("dupe_of"), "dupe_of"),
        keywords=as_str_list(bug.get("keywords"), "keywords"),
        comments=comments,
        extra=_rest_extra(bug),
        raw=bug,
    )
    if "history" in bug:
        report.filed = replay_history(_current_values(report), as_list(bug["history"], "history"))
    return report


def _split_comments(comments: list[Any]) -> tuple[str, list[str]]:
    """Comment 0 (``count == 0``, else the first one) is the description; the rest, in order, follow."""
    for c in comments:
        if not isinstance(c, dict):
            raise RecordError(f"field 'comments' should hold objects, got {type(c).__name__}")
    if any("count" in c for c in comments):
        comments = sorted(comments, key=lambda c: c.get("count") if isinstance(c.get("count"), int) else 0)
    texts = [as_text(c.get("text", c.get("raw_text")), "comments.text") for c in comments]
    return (texts[0], texts[1:]) if texts else ("", [])


def _opt_id(value: Any, field: str) -> str | None:
    return None if value is None or value == "" else as_id(value, field)


def _rest_extra(bug: dict[str, Any]) -> dict[str, Any]:
    extra = {name: bug[name] for name in _EXTRA_FIELDS if bug.get(name) not in (None, "", [], "---")}
    attachments = as_list(bug.get("attachments"), "attachments")
    if "attachments" in bug:
        extra["attachments_count"] = len(attachments)
        extra["has_patch"] = any(isinstance(a, dict) and bool(a.get("is_patch")) for a in attachments)
    if "flags" in bug:
        extra["flags_count"] = len(as_list(bug.get("flags"), "flags"))
    for name in ("depends_on", "blocks", "duplicates"):
        if name in bug:
            extra[f"{name}_count"] = len(as_list(bug.get(name), name))
    return extra


def _current_values(report: Report) -> dict[str, Any]:
    return {name: getattr(report, name) for name in FILED_FIELDS}


def replay_history(current: dict[str, Any], history: list[Any]) -> dict[str, Any]:
    """Values of FILED_FIELDS at filing: undo each change, newest first (value = what it ``removed``).

    Bugzilla's history only holds changes made after the bug was filed, so undoing all of them gives the
    state at creation_time.
    """
    filed = dict(current)
    for entry in sorted(
        (as_dict(h, "history") for h in history), key=lambda h: str(h.get("when", "")), reverse=True
    ):
        for change in reversed(as_list(entry.get("changes"), "history.changes")):
            name = as_dict(change, "history.changes").get("field_name")
            name = _HISTORY_ALIASES.get(name, name)
            if name in filed:
                filed[name] = as_opt_str(change.get("removed"), f"history.{name}")
    return filed


# --- Eclipse localization lines ----------------------------------------------------------------------


def from_eclipse(obj: dict[str, Any], tracker: str = "bugzilla") -> Report:
    """A flat line of the Eclipse bug-localization benchmark; ``files`` are the fixed files."""
    external_id = as_id(require(obj, "bug_id"), "bug_id")
    status, resolution = _split_status(as_opt_str(obj.get("status"), "status"))
    extra = {k: obj[k] for k in ("fix_commit", "fix_commit_full", "commit_timestamp") if obj.get(k)}
    return Report(
        tracker=tracker,
        external_id=external_id,
        title=_BUG_PREFIX.sub("", as_text(obj.get("summary"), "summary"), count=1),
        description=as_text(obj.get("description"), "description"),
        project=as_text(obj.get("project"), "project"),
        created_at=_eclipse_created(obj),
        status=status,
        resolution=resolution,
        fixed_files=as_str_list(obj.get("files"), "files"),
        extra=extra,
        raw=obj,
    )


def _eclipse_created(obj: dict[str, Any]) -> datetime | None:
    """Prefer the exact local ``report_time``; ``report_timestamp`` is rounded to 10,000 seconds."""
    if obj.get("report_time") and _ECLIPSE_TZ is not None:
        return parse_datetime(obj["report_time"], "report_time", assume=_ECLIPSE_TZ)
    return parse_datetime(obj.get("report_timestamp"), "report_timestamp")


def _split_status(status: str | None) -> tuple[str | None, str | None]:
    """``"resolved fixed"`` -> (``RESOLVED``, ``FIXED``), in the REST API's upper case."""
    if not status:
        return None, None
    first, _, rest = status.strip().partition(" ")
    return first.upper(), (rest.strip().upper() or None)


# --- compact labeled lines ---------------------------------------------------------------------------


def from_compact(obj: dict[str, Any], tracker: str = "bugzilla") -> Report:
    """A flattened bug (description = comment 0) whose unmapped scalar columns are labels."""
    external_id = as_id(require(obj, "id"), "id")
    component = as_opt_str(obj.get("component"), "component")
    labels: dict[str, str] = {}
    extra: dict[str, Any] = {}
    for key, value in obj.items():
        if key in _COMPACT_KEYS:
            continue
        if isinstance(value, (list, dict)):
            extra[key] = value
        elif (text := label_text(value)) is not None:
            labels[key] = text
    return Report(
        tracker=tracker,
        external_id=external_id,
        title=as_text(obj.get("summary"), "summary"),
        description=as_text(obj.get("description"), "description"),
        created_at=parse_datetime(obj.get("creation_time"), "creation_time"),
        reporter=as_opt_str(obj.get("creator"), "creator"),
        type=as_opt_str(obj.get("type"), "type"),
        product=as_opt_str(obj.get("product"), "product"),
        component=component,
        components=[component] if component else [],
        severity=as_opt_str(obj.get("severity"), "severity"),
        priority=as_opt_str(obj.get("priority"), "priority"),
        status=as_opt_str(obj.get("status"), "status"),
        resolution=as_opt_str(obj.get("resolution"), "resolution"),
        resolved_at=parse_datetime(obj.get("cf_last_resolved"), "cf_last_resolved"),
        duplicate_of=_opt_id(obj.get("dupe_of"), "dupe_of"),
        keywords=as_str_list(obj.get("keywords"), "keywords"),
        labels=labels,
        extra=extra,
        raw=obj,
    )
