"""What `label:NAME` and `field:NAME` tasks learn: an imported label set, or a tracker field as filed.

``label:NAME`` learns the values of the label set NAME (``bugsift labels import``, or a label column the
import carried): a person's value wins over an imported one, and a model's own answers are never read.

``field:NAME`` learns a field the tracker gave, read from what the report stores (docs/fields.md):

1. the record's own key NAME (Bugzilla REST ``cf_*``, ``op_sys``, ``whiteboard``; a flattened Jira
   line's keys; a GitHub issue's keys), else the Jira REST ``fields`` key NAME (``customfield_10020``),
   else ``extra[NAME]``;
2. where none of those holds NAME, the report's labels that start with NAME and a separator
   (``priority: high``, ``area/ui``, ``oct16-easy``): the rest of the label is the value.

The value is the one as filed where the tracker gave history (Bugzilla ``history``, Jira
``changelog``): each change is undone, newest first. Without history it is today's value, and the
dataset counts how many are which. Empty values and the values trackers fill in by themselves
("---", "--", "Unspecified", "none") are not set. A report with several values (two ``area/`` labels,
a multi-valued field) is left out: a model gives one answer per report, and picking one of the values
would invent a label nobody gave.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bugsift.learn.targets import Dataset
from bugsift.learn.tasks import PATTERN_TASK_NAME
from bugsift.sources.base import Report
from bugsift.store.models import LabelRow
from bugsift.store.reports import iter_newest_reports, iter_reports

LABEL, FIELD = "label", "field"
TASK_PATTERN = re.compile(PATTERN_TASK_NAME)
AS_FILED, FINAL, CORRECTED = "as filed", "final value (no history)", "a person's correction"
NOT_SET_VALUES = frozenset({"", "---", "--", "-", "?", "unspecified", "none", "null", "n/a"})
"""Values a tracker shows for a field nobody set (Bugzilla's "---" and "Unspecified"), lower case."""
LABEL_SEPARATORS = ":/=- "
MIN_REPORTS_PER_VALUE = 3
"""A value on fewer reports cannot be in both the training and the test part: those reports are left
out (and counted), not learned."""
MAX_LISTED_VALUES = 5000
_TEXT_KEYS = frozenset(
    {"summary", "title", "description", "body", "comments", "comment", "history", "changelog", "raw"}
)


def parse_task(name: str) -> tuple[str, str] | None:
    """("label" | "field", NAME) of a task name like ``field:cf_has_str``; None for any other name."""
    found = TASK_PATTERN.fullmatch(name) if isinstance(name, str) else None
    return (found[1], found[2]) if found else None


def defining_fields(task: str) -> tuple[str, ...]:
    """Fields the model of a ``label:`` / ``field:`` task never reads (they carry its answer)."""
    parsed = parse_task(task)
    if parsed is None:
        raise ValueError(f"unknown task {task!r}")
    kind, name = parsed
    if kind == LABEL:
        return ("type",)  # as `train type --label NAME`: a label column may also be the type field
    # labels can be the source (and a prefix label its answer); release flags are cf_status_* fields
    extra = ("tracking_flags",) if name.startswith(("cf_status", "cf_tracking")) else ()
    return (name, "keywords", "tags", *extra)


def is_not_set(value: str) -> bool:
    return value.strip().lower() in NOT_SET_VALUES


def _as_values(value: Any) -> list[str]:
    """A stored value as text values: a Jira option ``{"value": ...}`` or a GitHub ``{"name": ...}`` by
    its name, a list value by value; nothing for None and for text too long to be a field value."""
    if value is None:
        return []
    if isinstance(value, list):
        return [v for item in value for v in _as_values(item)]
    if isinstance(value, dict):
        for key in ("value", "name", "title"):
            if isinstance(value.get(key), (str, int, float)):
                return _as_values(value[key])
        return []
    text = str(value).strip()
    return [] if len(text) > 200 or is_not_set(text) else [text]


def prefixed(labels: Iterable[str], prefix: str) -> list[str]:
    """The rest of each label that starts with ``prefix`` and a separator: ``area/ui`` -> ``ui``."""
    out = []
    for label in labels:
        head, rest = label[: len(prefix)], label[len(prefix) :]
        if head.lower() == prefix.lower() and rest[:1] and rest[0] in LABEL_SEPARATORS:
            value = rest.lstrip(LABEL_SEPARATORS).strip()
            if value and not is_not_set(value):
                out.append(value)
    return out


def _source_key(report: Report, name: str) -> str | None:
    """Where the report keeps NAME: "raw", "fields" (Jira REST), "extra", or None (then labels)."""
    raw = report.raw or {}
    if name in raw and name not in _TEXT_KEYS:
        return "raw"
    if isinstance(raw.get("fields"), dict) and name in raw["fields"]:
        return "fields"
    if name in (report.extra or {}):
        return "extra"
    return None


def current_values(report: Report, name: str) -> list[str]:
    """Today's values of field NAME (see the module docstring for where they are read)."""
    raw = report.raw or {}
    key = _source_key(report, name)
    if key == "raw":
        return _as_values(raw[name])
    if key == "fields":
        return _as_values(raw["fields"][name])
    if key == "extra":
        return _as_values(report.extra[name])
    return prefixed(report.keywords or [], name)


def _split_list(text: Any, separator: str | None) -> set[str]:
    return {part.strip() for part in str(text or "").split(separator) if part.strip()}


def filed_values(report: Report, name: str) -> tuple[list[str], str]:
    """The values of field NAME as filed, and AS_FILED; or today's and FINAL where no history exists.

    History is replayed newest first: a change's "removed" (Bugzilla) / "fromString" (Jira) value is
    what the field held before it. Label lists (Bugzilla keywords, Jira labels) are replayed as sets."""
    raw = report.raw or {}
    key = _source_key(report, name)
    on_labels = key is None
    now = current_values(report, name)
    stored = {"raw": raw, "fields": raw.get("fields") or {}, "extra": report.extra or {}}.get(key or "", {})
    listed = on_labels or isinstance(stored.get(name), list)  # keywords, labels: replayed as sets
    if isinstance(raw.get("history"), list):  # Bugzilla REST: changes made after filing
        changes = [
            (str(entry.get("when", "")), change)
            for entry in raw["history"]
            if isinstance(entry, dict)
            for change in entry.get("changes") or []
            if isinstance(change, dict)
        ]
        wanted = "keywords" if on_labels else name
        replayed = _replay(report, name, on_labels, now, changes, wanted, "removed", "added", ",", listed)
        return replayed, AS_FILED
    changelog = raw.get("changelog")
    if isinstance(changelog, dict) and isinstance(changelog.get("histories"), list):
        histories = changelog["histories"]
        total = changelog.get("total")
        if not (isinstance(total, int) and total > len(histories)):  # a cut changelog would lie
            items = [
                (str(entry.get("created", "")), item)
                for entry in histories
                if isinstance(entry, dict)
                for item in entry.get("items") or []
                if isinstance(item, dict)
            ]
            wanted = "labels" if on_labels else name
            replayed = _replay(
                report, name, on_labels, now, items, wanted, "fromString", "toString", None, listed
            )
            return replayed, AS_FILED
    return now, FINAL


def _replay(
    report: Report,
    name: str,
    on_labels: bool,
    now: list[str],
    changes: list[tuple[str, dict[str, Any]]],
    wanted: str,
    before: str,
    after: str,
    separator: str | None,
    listed: bool,
) -> list[str]:
    def names_field(change: dict[str, Any]) -> bool:
        named = {str(change.get(k, "")) for k in ("field_name", "field", "fieldId")}
        return wanted in named or wanted.lower() in {n.lower() for n in named}

    ours = [change for _, change in sorted(changes, key=lambda c: c[0], reverse=True) if names_field(change)]
    if not ours:
        return now
    if not listed:  # the value before the oldest change is the one the report was filed with
        return _as_values(ours[-1].get(before))
    values = set(report.keywords or []) if on_labels else set(now)
    for change in ours:  # newest first: undo what each change added and removed
        values -= _split_list(change.get(after), separator)
        values |= _split_list(change.get(before), separator)
    return prefixed(sorted(values), name) if on_labels else _as_values(sorted(values))


@dataclass
class FieldDataset(Dataset):
    """A `Dataset` of a label set or a tracker field, with where its values came from."""

    kind: str = FIELD
    name: str = ""
    sources: Counter[str] = field(default_factory=Counter)
    """How many values are as filed, today's (no history), or a person's correction."""


def human_values(session: Session, name: str) -> dict[int, str]:
    """Values people and imports gave label NAME, a person's winning; a model's answers never count."""
    rank = {"human": 0, "import": 1}
    best: dict[int, tuple[int, str]] = {}
    query = select(LabelRow.report_id, LabelRow.value, LabelRow.source).where(
        LabelRow.name == name, LabelRow.source.in_(tuple(rank))
    )
    for report_id, value, source in session.execute(query):
        if report_id not in best or rank[source] < best[report_id][0]:
            best[report_id] = (rank[source], value)
    return {report_id: value for report_id, (_, value) in best.items()}


def label_set_counts(session: Session) -> dict[str, int]:
    """Label sets in the store (imported or given by people) with how many reports carry each."""
    query = (
        select(LabelRow.name, func.count(func.distinct(LabelRow.report_id)))
        .where(LabelRow.source.in_(("human", "import")))
        .group_by(LabelRow.name)
    )
    return dict(session.execute(query).all())


def field_counts(reports: Iterable[Report], limit: int = 20) -> list[tuple[str, int]]:
    """The fields `field:NAME` can learn in these reports, with how many reports have each set; label
    prefixes (``priority``, ``area``) as well; most common first. A field with one value, or a value
    per report (ids, times, e-mail addresses), is nothing to learn and not listed."""
    counts: Counter[str] = Counter()
    distinct: dict[str, set[str]] = {}
    for report in reports:
        raw = report.raw or {}
        jira_fields = raw.get("fields") if isinstance(raw.get("fields"), dict) else {}
        names = {*raw, *jira_fields, *(report.extra or {})} - _TEXT_KEYS - {"fields"}
        prefixes = {m[1] for k in report.keywords or [] if (m := re.match(r"(\w+)\s*[:/=\-]\s*\S", k))}
        for name in names | prefixes:
            values = current_values(report, name)
            if values:
                counts[name] += 1
                seen = distinct.setdefault(name, set())
                if len(seen) < MAX_LISTED_VALUES:  # as many as that: an id or a time, not a field
                    seen.update(values)
    learnable = [
        (name, n)
        for name, n in counts.items()
        if 2 <= len(distinct[name]) <= min(n / 2, MAX_LISTED_VALUES - 1)
        and not name.endswith("_count")  # the importer's counts, not the tracker's fields
    ]
    return sorted(learnable, key=lambda kv: (-kv[1], kv[0]))[:limit]


def _listing(counts: Iterable[tuple[str, int]]) -> str:
    return ", ".join(f"{name} ({n})" for name, n in counts) or "none"


def load_field_dataset(
    session: Session,
    task: str,
    tracker: str | None = None,
    project: str | None = None,
    max_reports: int | None = None,
    slim: bool = False,
) -> FieldDataset:
    """The labelled reports of a ``label:NAME`` or ``field:NAME`` task; a one-line error naming the label
    sets / fields there are when NAME has no values. ``max_reports``: the newest that many stored reports
    only, as the scale tasks read them (the training window; a field's values may be rare). ``slim``
    (filing mode): the later comments and the raw record are dropped once a report's value is known."""
    parsed = parse_task(task)
    if parsed is None:
        raise ValueError(f"{task!r} is not label:NAME or field:NAME")
    kind, name = parsed
    rows, unread = iter_newest_reports(session, tracker, project, max_reports)
    if kind == LABEL:
        # the label set, then people's corrections given to the task itself (the form, the API)
        values = {**human_values(session, name), **human_values(session, task)}
        if not values:
            raise ValueError(
                f"no report carries the label set {name!r}; label sets in the store: "
                f"{_listing(sorted(label_set_counts(session).items(), key=lambda kv: -kv[1]))}"
            )
        dataset = build_dataset(task, ((i, r, values.get(i)) for i, r in rows), slim)
    else:
        corrections = human_values(session, task)  # a person's value for the task (form, API)
        dataset = build_dataset(task, _field_rows(rows, name, corrections), slim)
    if unread:  # read newest first: back to oldest first, as without a window
        dataset.excluded[f"not read: older than the newest {max_reports:,} reports"] = unread
        for items in (dataset.row_ids, dataset.reports, dataset.labels):
            items.reverse()
    if not dataset.labels and kind == FIELD:
        where = f" of tracker {tracker}" if tracker else ""
        reports = (r for _, r in iter_reports(session, tracker=tracker, project=project))
        raise ValueError(
            f"no stored report{where} has a value for the field {name!r} "
            f"({sum(dataset.excluded.values())} reports read); fields with values: "
            f"{_listing(field_counts(reports))}"
        )
    return dataset


def _field_rows(
    rows: Iterable[tuple[int, Report]], name: str, corrections: dict[int, str]
) -> Iterable[tuple[int, Report, str | list[str] | None, str]]:
    for row_id, report in rows:
        if row_id in corrections:
            yield row_id, report, corrections[row_id], CORRECTED
        else:
            values, source = filed_values(report, name)
            yield row_id, report, values, source


def build_dataset(task: str, rows: Iterable[tuple[Any, ...]], slim: bool = False) -> FieldDataset:
    """The dataset of (row id, report, value or values[, source]) rows: reports with one set value,
    values on at least `MIN_REPORTS_PER_VALUE` reports; every report left out is counted with why.
    ``slim``: a kept report's later comments and raw record are dropped (a filing-mode model reads
    neither, and they are most of its memory)."""
    kind, name = parse_task(task) or (FIELD, task)
    dataset = FieldDataset(task=task, label_name=name, kind=kind, name=name)
    kept: list[tuple[int, Report, str, str]] = []
    for row_id, report, value, *rest in rows:
        source = rest[0] if rest else "label set"
        values = [value] if isinstance(value, str) else list(value or [])
        values = [v for v in dict.fromkeys(v.strip() for v in values) if not is_not_set(v)]
        if not values:
            dataset.excluded["no label" if kind == LABEL else f"no {name} (not set)"] += 1
        elif len(values) > 1:
            dataset.excluded[f"several {name} values"] += 1
        else:
            shown = without_labels(report, name) if kind == FIELD else report
            if slim:
                shown.comments, shown.raw = [], {}
            kept.append((row_id, shown, values[0], source))
    support = Counter(value for *_, value, _ in kept)
    for row_id, report, value, source in kept:
        if support[value] < MIN_REPORTS_PER_VALUE:
            dataset.excluded[f"a value on fewer than {MIN_REPORTS_PER_VALUE} reports"] += 1
            continue
        dataset.row_ids.append(row_id)
        dataset.reports.append(report)
        dataset.labels.append(value)
        dataset.sources[source] += 1
    return dataset


def without_labels(report: Report, prefixes: str | Iterable[str]) -> Report:
    """The report without its labels that start with one of ``prefixes`` and a separator (the answer of
    ``field:area``: ``area/ui``), so that no mode reads them; the stored report is left as it is."""
    names = (prefixes,) if isinstance(prefixes, str) else tuple(prefixes)

    def carries(label: Any) -> bool:
        return any(prefixed([str(label)], name) for name in names)

    keywords = [k for k in report.keywords or [] if not carries(k)]
    if len(keywords) == len(report.keywords or []):
        return report
    extra = {**(report.extra or {})}
    if isinstance(extra.get("labels"), list):
        extra["labels"] = [k for k in extra["labels"] if not carries(k)]
    return replace(report, keywords=keywords, extra=extra)
