"""Redmine importer: REST issue JSON and Redmine's CSV export.

Shapes, detected by content:

* REST issues: ``{"issues": [...]}`` list pages, one issue object per line, or ``/issues/ID.json``
  documents ``{"issue": {...}}``, ideally with ``include=journals,relations``.
* The CSV export of ``/projects/X/issues.csv`` (Redmine 5, English column names: ``#``, ``Project``,
  ``Tracker``, ``Status``, ``Priority``, ``Subject``, ``Author``, ``Category``, ``Target version``,
  ``Created``, ``Closed``, ``Related issues``, ``Description`` ...). It carries no journals: ``filed`` is
  None.

Mapping: tracker (Bug/Feature/Support) -> type, category -> component, project name -> product and
project, ``closed_on`` -> resolved_at, fixed version -> ``extra["fixed_version"]``, journal notes ->
comments. "A duplicates B" is stored by Redmine as a relation of type ``duplicates`` with ``issue_id`` A
and ``issue_to_id`` B: A gets ``duplicate_of`` B.

Filing-time values: journal ``details`` (``property: attr``, ``name: tracker_id / category_id /
priority_id / project_id``) are undone newest first. They hold ids, not names: `Names` maps them, from
the server's lookup tables during a sync, and from the issues themselves for a file import. A change
whose old id cannot be named leaves the filing-time values unknown (``filed`` None, the fields listed in
``extra["filed_unresolved"]``), rather than mixing today's value into them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
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
    iter_json_records,
    parse_datetime,
    read_json_reports,
    require,
    sniff_kind,
)

# Journal attribute -> (Names table, filing-time field).
_JOURNAL_ATTRS = {
    "tracker_id": ("trackers", "type"),
    "category_id": ("categories", "component"),
    "priority_id": ("priorities", "priority"),
    "project_id": ("projects", "product"),
}
# "Is duplicate of #12" in the CSV export's "Related issues" column (the other end says "Has duplicate").
_CSV_DUPLICATE_OF = re.compile(r"Is duplicate of #(\d+)")


@dataclass
class Names:
    """Redmine ids -> names of trackers, categories, priorities and projects (ids as text)."""

    trackers: dict[str, str] = field(default_factory=dict)
    categories: dict[str, str] = field(default_factory=dict)
    priorities: dict[str, str] = field(default_factory=dict)
    projects: dict[str, str] = field(default_factory=dict)

    def learn(self, issue: dict[str, Any]) -> None:
        """Take the ``{"id", "name"}`` pairs an issue shows for its current values."""
        for key, table in (
            ("tracker", self.trackers),
            ("category", self.categories),
            ("priority", self.priorities),
            ("project", self.projects),
        ):
            value = issue.get(key)
            if isinstance(value, dict) and isinstance(value.get("name"), str) and _is_id(value.get("id")):
                table.setdefault(str(value["id"]), value["name"])

    def add(self, table: str, items: list[Any]) -> None:
        """Add ``[{"id", "name"}, ...]`` as a server lookup answers them."""
        target: dict[str, str] = getattr(self, table)
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("name"), str) and "id" in item:
                target[str(item["id"])] = item["name"]


def _is_id(value: Any) -> bool:
    return isinstance(value, (int, str)) and not isinstance(value, bool)


def read(path: Path, tracker: str = "redmine") -> Iterator[Report | Rejected]:
    """Read Redmine issues from REST JSON (plain, .gz, .xz) or a Redmine CSV export."""
    path = Path(path)
    if sniff_kind(path) == "csv":
        return _read_csv(path, tracker)
    names = _names_in_file(path)
    return read_json_reports(
        path,
        envelopes=("issues",),
        looks_like=_looks_like_issue,
        expected="Redmine issue JSON (expected keys id, subject, tracker, project, or an 'issue' object)",
        build=lambda location, obj: from_record(obj, tracker, names),
    )


def _looks_like_issue(obj: dict[str, Any]) -> bool:
    return isinstance(obj.get("issue"), dict) or ({"subject", "tracker"} <= obj.keys() and "id" in obj)


def _names_in_file(path: Path) -> Names:
    """A first pass over the file: every id -> name pair its issues show (bad records are skipped here
    and rejected by the second pass)."""
    names = Names()
    for item in iter_json_records(path, envelopes=("issues",)):
        if not isinstance(item, Rejected) and isinstance(item[1], dict):
            names.learn(_unwrap(item[1]))
    return names


def _unwrap(obj: dict[str, Any]) -> dict[str, Any]:
    """``/issues/ID.json`` wraps its issue as ``{"issue": {...}}``."""
    inner = obj.get("issue")
    return inner if isinstance(inner, dict) else obj


def from_record(obj: dict[str, Any], tracker: str = "redmine", names: Names | None = None) -> Report:
    """One REST issue (bare or wrapped in ``{"issue": ...}``); ``names`` resolve the journals' ids."""
    issue = _unwrap(obj)
    external_id = as_id(require(issue, "id"), "id")
    project = _name(issue.get("project"), "project")
    category = _name(issue.get("category"), "category")
    journals = [as_dict(j, "journals") for j in as_list(issue.get("journals"), "journals")]
    relations = [_relation(r) for r in as_list(issue.get("relations"), "relations")]
    report = Report(
        tracker=tracker,
        external_id=external_id,
        title=as_text(issue.get("subject"), "subject"),
        description=as_text(issue.get("description"), "description"),
        project=project or "",
        created_at=parse_datetime(issue.get("created_on"), "created_on"),
        reporter=_name(issue.get("author"), "author"),
        type=_name(issue.get("tracker"), "tracker"),
        product=project,
        component=category,
        components=[category] if category else [],
        priority=_name(issue.get("priority"), "priority"),
        status=_name(issue.get("status"), "status"),
        resolved_at=parse_datetime(issue.get("closed_on"), "closed_on"),
        duplicate_of=duplicate_target(external_id, relations),
        comments=[text for j in _oldest_first(journals) if (text := as_text(j.get("notes"), "notes"))],
        extra=_extra(issue, relations, journals),
        raw=obj,
    )
    if "journals" in issue:
        known = Names() if names is None else names
        if names is None:
            known.learn(issue)
        report.filed, unresolved = replay_journals(report, journals, known)
        if unresolved:
            report.extra["filed_unresolved"] = unresolved
    return report


def _name(value: Any, field: str) -> str | None:
    """Redmine shows references as ``{"id", "name"}``."""
    if isinstance(value, dict):
        value = value.get("name")
    return as_opt_str(value, field)


def _relation(value: Any) -> dict[str, Any]:
    relation = as_dict(value, "relations")
    return {
        "type": as_opt_str(relation.get("relation_type"), "relations.relation_type"),
        "issue_id": _opt_id(relation.get("issue_id"), "relations.issue_id"),
        "issue_to_id": _opt_id(relation.get("issue_to_id"), "relations.issue_to_id"),
    }


def _opt_id(value: Any, field: str) -> str | None:
    return None if value is None or value == "" else as_id(value, field)


def duplicate_target(external_id: str, relations: list[dict[str, Any]]) -> str | None:
    """The issue this one duplicates: ``duplicates`` relations from it (``duplicated`` ones pointing at it,
    should a server store the reverse form); several targets are ambiguous and give None."""
    targets = set()
    for r in relations:
        if r["type"] == "duplicates" and r["issue_id"] == external_id:
            targets.add(r["issue_to_id"])
        elif r["type"] == "duplicated" and r["issue_to_id"] == external_id:
            targets.add(r["issue_id"])
    targets.discard(None)
    return targets.pop() if len(targets) == 1 else None


def _extra(issue: dict[str, Any], relations: list[dict[str, Any]], journals: list[Any]) -> dict[str, Any]:
    status = as_dict(issue.get("status"), "status")
    extra = {
        "fixed_version": _name(issue.get("fixed_version"), "fixed_version"),
        "assigned_to": _name(issue.get("assigned_to"), "assigned_to"),
        "is_closed": status.get("is_closed") if isinstance(status.get("is_closed"), bool) else None,
        "updated_on": as_opt_str(issue.get("updated_on"), "updated_on"),
        "relations": relations,
        "journals_count": len(journals) if "journals" in issue else None,
    }
    return {k: v for k, v in extra.items() if v not in (None, [], "")}


def _oldest_first(journals: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(journals, key=_journal_order)


def _journal_order(journal: dict[str, Any]) -> tuple[str, int]:
    when = parse_datetime(journal.get("created_on"), "journals.created_on")
    number = journal.get("id")
    return (when.isoformat() if when else "", number if isinstance(number, int) else 0)


def replay_journals(
    report: Report, journals: list[dict[str, Any]], names: Names
) -> tuple[dict[str, Any] | None, list[str]]:
    """Filing-time values: undo every tracked attribute change, newest first (value = its old id's name).

    Returns (filed, unresolved fields); filed is None when an old id has no known name.
    """
    filed: dict[str, Any] = {
        "product": report.product,
        "component": report.component,
        "type": report.type,
        "severity": None,  # Redmine has no severity field
        "priority": report.priority,
    }
    unresolved: set[str] = set()
    for journal in reversed(_oldest_first(journals)):
        for detail in reversed(as_list(journal.get("details"), "journals.details")):
            detail = as_dict(detail, "journals.details")
            attr = _JOURNAL_ATTRS.get(str(detail.get("name"))) if detail.get("property") == "attr" else None
            if attr is None:
                continue
            table, name = attr
            old = _opt_id(detail.get("old_value"), "journals.details.old_value")
            if old is None:
                filed[name] = None  # the field was empty when filed (no category yet)
                unresolved.discard(name)
            elif old in getattr(names, table):
                filed[name] = getattr(names, table)[old]
                unresolved.discard(name)
            else:
                unresolved.add(name)  # an older change may still name it; otherwise it stays unknown
    return (None, sorted(unresolved)) if unresolved else (filed, [])


# --- CSV export --------------------------------------------------------------------------------------


def _read_csv(path: Path, tracker: str) -> Iterator[Report | Rejected]:
    header = csv_header(path)
    if column_index(header, "#") is None or column_index(header, "Subject") is None:
        raise ValueError(
            f"{path}: not a Redmine CSV export (expected '#' and 'Subject' columns; "
            f"found: {', '.join(header[:12])})"
        )
    return (
        item
        for location, row in iter_csv_rows(path)
        for item in guarded(location, from_csv_row, header, row, tracker)
    )


def from_csv_row(header: list[str], row: list[str], tracker: str = "redmine") -> Report:
    """One row of Redmine's CSV export (English column names)."""
    if len(row) > len(header):
        raise RecordError(f"row has {len(row)} fields but the header has {len(header)}")
    cells = {name.strip().lower(): value for name, value in zip(header, row, strict=False)}

    def one(name: str) -> str | None:
        return cells.get(name, "").strip() or None

    external_id = one("#")
    if not external_id:
        raise RecordError("missing field '#'")
    project = one("project")
    category = one("category")
    duplicates = set(_CSV_DUPLICATE_OF.findall(cells.get("related issues", "")))
    extra = {
        "fixed_version": one("target version"),
        "assigned_to": one("assignee"),
        "related_issues": one("related issues"),
    }
    return Report(
        tracker=tracker,
        external_id=external_id,
        title=cells.get("subject", ""),
        description=cells.get("description", ""),
        project=project or "",
        created_at=parse_datetime(one("created"), "Created"),
        reporter=one("author"),
        type=one("tracker"),
        product=project,
        component=category,
        components=[category] if category else [],
        priority=one("priority"),
        status=one("status"),
        resolved_at=parse_datetime(one("closed"), "Closed"),
        duplicate_of=duplicates.pop() if len(duplicates) == 1 else None,
        extra={k: v for k, v in extra.items() if v},
        raw={name: value for name, value in zip(header, row, strict=False) if value},
    )
