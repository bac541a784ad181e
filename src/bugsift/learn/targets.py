"""What each kind task learns to predict, and which stored reports it learns from.

- ``type``: the tracker's own type field (defect/enhancement/task, bug/feature/question), or a named
  label set given with ``--label``.
- ``defect``: real product defect or not. From a named label set (``--label is_bug``; true/false-like
  values), or else from the resolution mapping below. Duplicates and open reports are excluded: a
  duplicate says nothing about whether the original was a defect, an open report has no verdict yet.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from bugsift.sources.base import Report
from bugsift.store.bot_actions import written_by_bot
from bugsift.store.labels import effective_labels
from bugsift.store.reports import iter_reports

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

# Label values as normalised by `_normalise`.
TRUE_VALUES = {"true", "1", "yes", "y", "bug", "defect"}
FALSE_VALUES = {"false", "0", "no", "n", "nobug", "notabug", "notdefect"}

# Fields that define a task's label: never features for that task, whatever the mode.
LABEL_DEFINING_FIELDS: dict[str, tuple[str, ...]] = {
    "type": ("type",),
    "defect": ("status", "resolution", "resolved_at", "duplicate_of"),
    "severity": ("severity",),  # bugsift.learn.scale_targets
    "priority": ("priority",),
}


def _normalise(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def defect_from_resolution(resolution: str | None) -> str | None:
    """The defect label implied by a resolution, or None when it implies none (open, duplicate...)."""
    if not resolution:
        return None
    return RESOLUTION_TO_DEFECT.get(_normalise(resolution))


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
) -> Dataset:
    """Collect the labelled reports of a task from the store."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; kind tasks are {', '.join(TASKS)}")
    dataset = Dataset(task=task, label_name=label_name_for(task, label))
    named = effective_labels(session, label) if label else None
    if named is not None and not named:
        raise ValueError(f"no report carries the label {label!r}: import it with `bugsift labels import`")
    by_bot = written_by_bot(session, task) if task == "type" and not label else set()
    for row_id, report in iter_reports(session, tracker=tracker, project=project):
        if row_id in by_bot:  # the bot's own answer, not a person's: never a training label
            dataset.excluded["set by the bot"] += 1
            continue
        value = _target(task, report, named.get(row_id) if named is not None else None, named is not None)
        if value is None:
            dataset.excluded[_exclusion_reason(task, report, named is not None)] += 1
            continue
        dataset.row_ids.append(row_id)
        dataset.reports.append(report)
        dataset.labels.append(value)
    return dataset


def _target(task: str, report: Report, named_value: str | None, from_label_set: bool) -> str | None:
    if from_label_set:
        if named_value is None:
            return None
        return defect_from_label(named_value) if task == "defect" else named_value
    if task == "type":
        return report.type or None
    return defect_from_resolution(report.resolution)


def _exclusion_reason(task: str, report: Report, from_label_set: bool) -> str:
    if from_label_set:
        return "no label"
    if task == "type":
        return "no type"
    resolution = report.resolution or "unresolved"
    return f"resolution {resolution}"
