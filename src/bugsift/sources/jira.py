"""Jira importer: flattened REST JSON lines, real REST issue objects, and Jira's CSV export.

Shapes, detected by content:

* Flattened lines as in shared/data/apache-jira (``key``, ``jira_project``, ``issuetype``, ``summary``,
  ``issuelinks`` as ``{"type", "inward", "outward"}`` ...). They carry no changelog: ``filed`` is None.
* REST issues ``{"key", "fields": {...}, "changelog": {"histories": [...]}}`` (one per line, a list, or
  a search page ``{"issues": [...]}``): ``filed`` is replayed from the changelog when it is complete.
* The CSV export ("Issue key", "Summary", repeated "Component/s" columns, ...). Its dates carry no zone:
  they are read as UTC.

Duplicates: Jira's "Duplicate" link says ``A duplicates B`` (B is A's *outward* issue, A is B's *inward*
issue), but people often create it the wrong way round. In the Apache data, most issues that link
"duplicates" without being resolved Duplicate point at an issue that *is* resolved Duplicate, i.e. the
link is reversed. So the resolution decides which end is the duplicate: an issue gets ``duplicate_of``
only when its resolution is Duplicate, from its single outward Duplicate link, else its single inward one;
several candidates on the chosen side leave it None. All links stay in ``extra["issuelinks"]``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bugsift.sources.base import FILED_FIELDS, RecordError, Rejected, Report
from bugsift.sources.io import (
    as_dict,
    as_id,
    as_list,
    as_opt_str,
    as_str_list,
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

# Changelog field names (lower-cased) -> FILED_FIELDS. Jira has no product; "severity" is a custom field
# on some instances.
_CHANGELOG_FIELDS = {
    "issuetype": "type",
    "priority": "priority",
    "component": "component",
    "severity": "severity",
}
# "04/Feb/06 5:54 AM;jsmith;text": the prefix Jira's CSV export puts before each comment.
_CSV_COMMENT_PREFIX = re.compile(r"^\d{1,2}/\w{3}/\d{2,4} \d{1,2}:\d{2}(?: [AP]M)?;[^;]*;")


def read(path: Path, tracker: str = "jira") -> Iterator[Report | Rejected]:
    """Read Jira issues from JSON lines / REST JSON (plain, .gz, .xz) or a Jira CSV export."""
    path = Path(path)
    if sniff_kind(path) == "csv":
        return _read_csv(path, tracker)
    return read_json_reports(
        path,
        envelopes=("issues",),
        looks_like=lambda obj: bool({"key", "fields", "issuetype", "jira_project"} & obj.keys()),
        expected="Jira issue JSON (expected keys key and fields, or key, summary, issuetype)",
        build=lambda location, obj: from_record(obj, tracker),
    )


def from_record(obj: dict[str, Any], tracker: str = "jira") -> Report:
    """One JSON issue, REST (with ``fields``) or flattened."""
    if isinstance(obj.get("fields"), dict):
        return from_rest(obj, tracker)
    return from_flat(obj, tracker)


# --- flattened lines ---------------------------------------------------------------------------------


def from_flat(obj: dict[str, Any], tracker: str = "jira") -> Report:
    """A flattened issue line (no changelog, so ``filed`` is None)."""
    key = as_id(require(obj, "key"), "key")
    components = as_str_list(obj.get("components"), "components")
    resolution = as_opt_str(obj.get("resolution"), "resolution")
    links = [_flat_link(link) for link in as_list(obj.get("issuelinks"), "issuelinks")]
    changed = as_dict(obj.get("changed_java_files"), "changed_java_files")
    labels = as_str_list(obj.get("labels"), "labels")
    extra = {
        "versions": as_str_list(obj.get("versions"), "versions"),
        "fixVersions": as_str_list(obj.get("fixVersions"), "fixVersions"),
        "labels": labels,
        "issuelinks": links,
        "fix_commits": as_str_list(obj.get("fix_commits"), "fix_commits"),
        "changed_java_files": changed,
    }
    return Report(
        tracker=tracker,
        external_id=key,
        title=as_text(obj.get("summary"), "summary"),
        description=as_text(obj.get("description"), "description"),
        project=as_text(obj.get("jira_project"), "jira_project") or key.rpartition("-")[0],
        created_at=parse_datetime(obj.get("created"), "created"),
        reporter=as_opt_str(obj.get("reporter"), "reporter"),
        type=as_opt_str(obj.get("issuetype"), "issuetype"),
        component=components[0] if components else None,
        components=components,
        priority=as_opt_str(obj.get("priority"), "priority"),
        status=as_opt_str(obj.get("status"), "status"),
        resolution=resolution,
        resolved_at=parse_datetime(obj.get("resolutiondate"), "resolutiondate"),
        duplicate_of=duplicate_target(resolution, links),
        fixed_files=sorted(
            {f for files in changed.values() for f in as_str_list(files, "changed_java_files")}
        ),
        keywords=labels,
        comments=as_str_list(obj.get("comments"), "comments"),
        extra={k: v for k, v in extra.items() if v},
        raw=obj,
    )


def _flat_link(link: Any) -> dict[str, str | None]:
    link = as_dict(link, "issuelinks")
    return {
        "type": as_opt_str(link.get("type"), "issuelinks.type"),
        "inward": as_opt_str(link.get("inward"), "issuelinks.inward"),
        "outward": as_opt_str(link.get("outward"), "issuelinks.outward"),
    }


def duplicate_target(resolution: str | None, links: list[dict[str, str | None]]) -> str | None:
    """The issue this one duplicates (see the module docstring for why the resolution decides)."""
    if (resolution or "").strip().lower() != "duplicate":
        return None
    dupes = [link for link in links if (link.get("type") or "").lower() == "duplicate"]
    for side in ("outward", "inward"):
        targets = {t for link in dupes if (t := link.get(side))}
        if len(targets) == 1:
            return targets.pop()
        if targets:
            return None  # ambiguous: several issues on the preferred side
    return None


# --- REST issues -------------------------------------------------------------------------------------


def from_rest(issue: dict[str, Any], tracker: str = "jira") -> Report:
    """A Jira REST issue (``fields``, optionally ``changelog`` from ``expand=changelog``)."""
    key = as_id(require(issue, "key"), "key")
    fields = issue["fields"]
    components = _names(fields.get("components"), "components")
    resolution = _name(fields.get("resolution"), "resolution")
    links = [_rest_link(link) for link in as_list(fields.get("issuelinks"), "issuelinks")]
    project = as_dict(fields.get("project"), "project")
    comment = as_dict(fields.get("comment"), "comment")
    labels = as_str_list(fields.get("labels"), "labels")
    report = Report(
        tracker=tracker,
        external_id=key,
        title=as_text(fields.get("summary"), "summary"),
        description=rich_text(fields.get("description"), "description"),
        project=as_text(project.get("key"), "project.key") or key.rpartition("-")[0],
        created_at=parse_datetime(fields.get("created"), "created"),
        reporter=_user(fields.get("reporter")),
        type=_name(fields.get("issuetype"), "issuetype"),
        component=components[0] if components else None,
        components=components,
        priority=_name(fields.get("priority"), "priority"),
        status=_name(fields.get("status"), "status"),
        resolution=resolution,
        resolved_at=parse_datetime(fields.get("resolutiondate"), "resolutiondate"),
        duplicate_of=duplicate_target(resolution, links),
        keywords=labels,
        comments=[
            rich_text(as_dict(c, "comment").get("body"), "comment.body")
            for c in as_list(comment.get("comments"), "comment.comments")
        ],
        extra=_rest_extra(fields, labels, links),
        raw=issue,
    )
    report.filed = _filed_from_changelog(report, issue.get("changelog"))
    return report


def _rest_extra(
    fields: dict[str, Any], labels: list[str], links: list[dict[str, str | None]]
) -> dict[str, Any]:
    extra = {
        "versions": _names(fields.get("versions"), "versions"),
        "fixVersions": _names(fields.get("fixVersions"), "fixVersions"),
        "labels": labels,
        "issuelinks": links,
        "environment": rich_text(fields.get("environment"), "environment"),
    }
    return {k: v for k, v in extra.items() if v}


def _name(value: Any, field: str) -> str | None:
    """Jira wraps most values as ``{"name": ...}`` (or ``{"value": ...}`` for custom options)."""
    if isinstance(value, dict):
        value = value.get("name", value.get("value"))
    return as_opt_str(value, field)


def _names(value: Any, field: str) -> list[str]:
    return [n for item in as_list(value, field) if (n := _name(item, field))]


def _user(value: Any) -> str | None:
    if isinstance(value, dict):
        for key in ("name", "key", "accountId", "emailAddress", "displayName"):
            if isinstance(value.get(key), str) and value[key]:
                return value[key]
        return None
    return as_opt_str(value, "reporter")


def _rest_link(link: Any) -> dict[str, str | None]:
    link = as_dict(link, "issuelinks")
    inward = as_dict(link.get("inwardIssue"), "issuelinks.inwardIssue")
    outward = as_dict(link.get("outwardIssue"), "issuelinks.outwardIssue")
    return {
        "type": _name(link.get("type"), "issuelinks.type"),
        "inward": as_opt_str(inward.get("key"), "issuelinks.inwardIssue.key"),
        "outward": as_opt_str(outward.get("key"), "issuelinks.outwardIssue.key"),
    }


def rich_text(value: Any, field: str) -> str:
    """Plain text from a wiki-markup string (API v2) or an Atlassian Document Format tree (API v3)."""
    if isinstance(value, dict):
        parts: list[str] = []
        _adf_walk(value, parts)
        return "".join(parts).strip("\n")
    return as_text(value, field)


def _adf_walk(node: dict[str, Any], parts: list[str]) -> None:
    if isinstance(node.get("text"), str):
        parts.append(node["text"])
    if node.get("type") == "hardBreak":
        parts.append("\n")
    for child in node.get("content") or []:
        if isinstance(child, dict):
            _adf_walk(child, parts)
    if node.get("type") in ("paragraph", "heading", "codeBlock", "listItem", "blockquote"):
        parts.append("\n")


def _filed_from_changelog(report: Report, changelog: Any) -> dict[str, Any] | None:
    """Undo changelog items newest first; None without a changelog or when Jira truncated it."""
    if not isinstance(changelog, dict) or not isinstance(changelog.get("histories"), list):
        return None
    histories = changelog["histories"]
    total = changelog.get("total")
    if isinstance(total, int) and total > len(histories):
        return None  # a partial changelog would give a wrong filing state
    filed: dict[str, Any] = {name: getattr(report, name) for name in FILED_FIELDS}
    components = list(report.components)
    ordered = sorted((as_dict(h, "changelog.histories") for h in histories), key=_history_time, reverse=True)
    for history in ordered:
        for item in reversed(as_list(history.get("items"), "changelog.items")):
            item = as_dict(item, "changelog.items")
            name = _CHANGELOG_FIELDS.get(str(item.get("field", "")).lower())
            before = as_opt_str(item.get("fromString"), "changelog.fromString")
            if name == "component":
                _undo_component(components, before, as_opt_str(item.get("toString"), "changelog.toString"))
            elif name:
                filed[name] = before
    filed["component"] = components[0] if components else None
    return filed


def _history_time(history: dict[str, Any]) -> Any:
    when = parse_datetime(history.get("created"), "changelog.created")
    if when is None:
        raise RecordError("changelog history without 'created' time")
    return when


def _undo_component(components: list[str], before: str | None, after: str | None) -> None:
    if after and after in components:
        components.remove(after)
    if before and before not in components:
        components.append(before)


# --- CSV export --------------------------------------------------------------------------------------


def _read_csv(path: Path, tracker: str) -> Iterator[Report | Rejected]:
    header = csv_header(path)
    if column_index(header, "Issue key", "Key") is None:
        raise ValueError(
            f"{path}: not a Jira CSV export (expected an 'Issue key' column; found: {', '.join(header[:12])})"
        )
    return (
        item
        for location, row in iter_csv_rows(path)
        for item in guarded(location, from_csv_row, header, row, tracker)
    )


def from_csv_row(header: list[str], row: list[str], tracker: str = "jira") -> Report:
    """One row of Jira's CSV export; repeated columns (Component/s, Labels, Comment ...) are all kept."""
    if len(row) > len(header):
        raise RecordError(f"row has {len(row)} fields but the header has {len(header)}")
    cells: dict[str, list[str]] = {}
    for name, value in zip(header, row, strict=False):
        if value.strip():
            cells.setdefault(name.strip().lower(), []).append(value)

    def one(*names: str) -> str:
        return next((cells[n][0] for n in names if n in cells), "")

    key = one("issue key", "key").strip()
    if not key:
        raise RecordError("missing field 'Issue key'")
    resolution = one("resolution").strip() or None
    components = [c.strip() for c in cells.get("component/s", [])]
    links = [
        {"type": "Duplicate", "inward": None, "outward": k.strip()}
        for k in cells.get("outward issue link (duplicate)", [])
    ]
    links += [
        {"type": "Duplicate", "inward": k.strip(), "outward": None}
        for k in cells.get("inward issue link (duplicate)", [])
    ]
    extra = {
        "issue_id": one("issue id"),
        "versions": cells.get("affects version/s", []),
        "fixVersions": cells.get("fix version/s", []),
        "labels": cells.get("labels", []),
        "issuelinks": links,
        "environment": one("environment"),
    }
    return Report(
        tracker=tracker,
        external_id=key,
        title=one("summary"),
        description=one("description"),
        project=one("project key").strip() or key.rpartition("-")[0],
        created_at=parse_datetime(one("created"), "Created"),
        reporter=one("reporter").strip() or None,
        type=one("issue type").strip() or None,
        component=components[0] if components else None,
        components=components,
        priority=one("priority").strip() or None,
        severity=one("custom field (severity)", "severity").strip() or None,
        status=one("status").strip() or None,
        resolution=resolution,
        resolved_at=parse_datetime(one("resolved"), "Resolved"),
        duplicate_of=duplicate_target(resolution, links),
        keywords=cells.get("labels", []),
        comments=[_CSV_COMMENT_PREFIX.sub("", c, count=1) for c in cells.get("comment", [])],
        extra={k: v for k, v in extra.items() if v},
        raw=_raw_row(header, row),
    )


def _raw_row(header: list[str], row: list[str]) -> dict[str, Any]:
    """Non-empty cells by column name; a repeated column gives a list."""
    raw: dict[str, Any] = {}
    for name, value in zip(header, row, strict=False):
        if not value:
            continue
        if name in raw:
            previous = raw[name]
            raw[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            raw[name] = value
    return raw
