"""What each kind task learns to predict, and which stored reports it learns from.

- ``type``: the tracker's own type field (defect/enhancement/task, bug/feature/question), or a named
  label set given with ``--label``.
- ``defect``: real product defect or not. From a named label set (``--label is_bug``; true/false-like
  values), or else from the resolution mapping below. Duplicates and open reports are excluded: a
  duplicate says nothing about whether the original was a defect, an open report has no verdict yet.
  A resolution says whether the work was done, not what the work was: where the tracker records a type
  of other work (enhancement, task...), the report is not a defect, FIXED or open (`recorded_type`).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from bugsift.sources.base import Report
from bugsift.store.bot_actions import written_by_bot
from bugsift.store.labels import effective_labels
from bugsift.store.reports import count_reports, iter_reports

TASKS = ("type", "defect")
MODES = ("filing", "backlog")
DEFECT, NOT_DEFECT = "defect", "not_defect"

# Resolutions, normalised by `_normalise` (lower case, letters only), and what they say about a report.
RESOLUTION_TO_DEFECT: dict[str, str | None] = {
    "fixed": DEFECT,
    "done": DEFECT,
    "invalid": NOT_DEFECT,
    "notaproblem": NOT_DEFECT,
    "cannotreproduce": NOT_DEFECT,
    "cantreproduce": NOT_DEFECT,
    "worksforme": NOT_DEFECT,
    "incomplete": NOT_DEFECT,
    "wontfix": NOT_DEFECT,
    "wontdo": NOT_DEFECT,
    "notabug": NOT_DEFECT,
    "workingasintended": NOT_DEFECT,
    "bydesign": NOT_DEFECT,
    "expired": None,  # closed for inactivity: no verdict either way
    "duplicate": None,
    "moved": None,
    "later": None,
    "remind": None,
    "implemented": None,  # a feature request that was done, not a defect verdict
}

# Recorded types (normalised) that name work other than fixing a defect: done, such a report was a wish
# granted, not a bug fixed. Ambiguous ones (Jira's Sub-task, Test) are left to the resolution.
NOT_DEFECT_TYPES = frozenset(
    {"enhancement", "feature", "newfeature", "improvement", "task", "wish", "question", "story", "epic"}
)
# bugzilla.mozilla.org added its type field in 2019 and back-filled every older bug (enhancement where
# the severity said so, else defect): on older bugs the type repeats the severity, it is no one's verdict.
BUGZILLA_TYPE_SINCE = datetime(2019, 1, 1, tzinfo=UTC)
BACKFILLED_NOTE = "type back-filled by the tracker (a Bugzilla bug filed before it had a type field, 2019)"

# Label values as normalised by `_normalise`.
TRUE_VALUES = {"true", "1", "yes", "y", "bug", "defect"}
FALSE_VALUES = {"false", "0", "no", "n", "nobug", "notabug", "notdefect"}

# Fields that define a task's label: never features for that task, whatever the mode.
LABEL_DEFINING_FIELDS: dict[str, tuple[str, ...]] = {
    "type": ("type",),
    "defect": ("status", "resolution", "resolved_at", "duplicate_of"),
    "severity": ("severity",),  # bugsift.learn.scale.targets
    "priority": ("priority",),
}


def _normalise(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def defect_from_resolution(resolution: str | None) -> str | None:
    """The defect label implied by a resolution, or None when it implies none (open, duplicate...)."""
    if not resolution:
        return None
    return RESOLUTION_TO_DEFECT.get(_normalise(resolution))


def recorded_type(report: Report) -> str | None:
    """The report's type as the tracker records it, normalised; Bugzilla's older ways of saying
    "enhancement" (the severity, or the keyword ``feature``) count where it has no type field."""
    if report.type:
        return _normalise(report.type)
    if report.severity and _normalise(report.severity) == "enhancement":
        return "enhancement"
    if "feature" in report.keywords:
        return "enhancement"
    return None


def type_backfilled(report: Report) -> bool:
    """Whether the report's type was filled in by a tracker migration, not by a person (see
    `BUGZILLA_TYPE_SINCE`): a Bugzilla REST record filed before that tracker had a type field."""
    if not report.type or report.created_at is None or "creation_time" not in report.raw:
        return False
    created = report.created_at if report.created_at.tzinfo else report.created_at.replace(tzinfo=UTC)
    return created < BUGZILLA_TYPE_SINCE


def defect_from_report(report: Report) -> str | None:
    """The defect label of a report: not a defect where the tracker records a type of other work
    (whatever its resolution: a fixed, open or duplicate enhancement is still no defect), else what its
    resolution says."""
    if recorded_type(report) in NOT_DEFECT_TYPES:
        return NOT_DEFECT
    return defect_from_resolution(report.resolution)


def defect_from_label(value: str) -> str:
    """Map a true/false-like human label to defect / not_defect."""
    normalised = _normalise(value)
    if normalised in TRUE_VALUES:
        return DEFECT
    if normalised in FALSE_VALUES:
        return NOT_DEFECT
    raise ValueError(f"label value {value!r} is neither true-like nor false-like for the defect task")


@dataclass
class Dataset:
    """Reports with their target label, ready for training or evaluation."""

    task: str
    label_name: str
    row_ids: list[int] = field(default_factory=list)
    reports: list[Report] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    excluded: Counter[str] = field(default_factory=Counter)
    notes: Counter[str] = field(default_factory=Counter)
    """How many labels came about in a way worth saying (a fixed enhancement, a back-filled type)."""

    def class_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(self.labels).items()))


def label_name_for(task: str, label: str | None) -> str:
    """The registry name of a task's label: the label set, or the tracker field it comes from."""
    if label:
        return label
    return "type" if task == "type" else "resolution"


def load_dataset(
    session: Session,
    task: str,
    label: str | None = None,
    tracker: str | None = None,
    project: str | None = None,
    mode: str = "backlog",
    max_reports: int | None = None,
) -> Dataset:
    """Collect the labelled reports of a task from the store.

    For a filing-mode model the later comments and the raw record are dropped once the label is known:
    such a model never reads them, and they are most of a report's memory. ``max_reports`` keeps the
    newest labelled reports only, read newest first, so memory is bounded by it (issue 20)."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; kind tasks are {', '.join(TASKS)}")
    dataset = Dataset(task=task, label_name=label_name_for(task, label))
    named = effective_labels(session, label) if label else None
    if named is not None and not named:
        raise ValueError(f"no report carries the label {label!r}: import it with `bugsift labels import`")
    by_bot = written_by_bot(session, task) if task == "type" and not label else set()
    stored = count_reports(session, tracker, project) if max_reports is not None else 0
    window = max_reports is not None and stored > max_reports
    scanned = 0
    for row_id, report in iter_reports(session, tracker=tracker, project=project, newest_first=window):
        if window and len(dataset.labels) >= (max_reports or 0):
            dataset.excluded[f"not read: older than the newest {max_reports:,} labelled"] = stored - scanned
            break
        scanned += 1
        if row_id in by_bot:  # the bot's own answer, not a person's: never a training label
            dataset.excluded["set by the bot"] += 1
            continue
        value = _target(task, report, named.get(row_id) if named is not None else None, named is not None)
        if value is None:
            dataset.excluded[_exclusion_reason(task, report, named is not None)] += 1
            continue
        if named is None:
            _note(dataset.notes, task, report, value)
        if mode == "filing":
            report.comments, report.raw = [], {}
        dataset.row_ids.append(row_id)
        dataset.reports.append(report)
        dataset.labels.append(value)
    if window:  # back to the store's order, oldest first, as without a window
        for items in (dataset.row_ids, dataset.reports, dataset.labels):
            items.reverse()
    return dataset


def _note(notes: Counter[str], task: str, report: Report, value: str) -> None:
    resolved_as = defect_from_resolution(report.resolution)
    from_type = task == "defect" and value == NOT_DEFECT and resolved_as != NOT_DEFECT
    if from_type:
        said = "fixed" if resolved_as == DEFECT else (report.resolution or "open").lower()
        notes[f"{said}, but the tracker records type {recorded_type(report)}: not a defect"] += 1
    if type_backfilled(report) and (task == "type" or from_type):
        notes[BACKFILLED_NOTE] += 1


def _target(task: str, report: Report, named_value: str | None, from_label_set: bool) -> str | None:
    if from_label_set:
        if named_value is None:
            return None
        return defect_from_label(named_value) if task == "defect" else named_value
    if task == "type":
        return report.type or None
    return defect_from_report(report)


def _exclusion_reason(task: str, report: Report, from_label_set: bool) -> str:
    if from_label_set:
        return "no label"
    if task == "type":
        return "no type"
    resolution = report.resolution or "unresolved"
    return f"resolution {resolution}"
