"""The ordered scales of severity and priority, one per tracker field, and how a raw value maps onto one.

A scale lists its levels worst first (rank 0 = most severe / most urgent), so "off by one" is a rank
difference of 1 whatever the tracker calls its levels. Each value a tracker can hold is one of:

* a level (a label to learn);
* the tracker's default, which people leave untouched ("normal", "Major"...): *not set*, unless the
  field's history shows a person set it (`bugsift.learn.scale.targets`);
* a value that is no answer on this scale ("--", "N/A", Bugzilla's "enhancement"): never a label.

Mozilla's Bugzilla has two severity scales: blocker..trivial until 2020, S1..S4 since. They are kept as
two scales; where one tracker's reports use both, the classic values are mapped onto S1..S4
(`CLASSIC_TO_S`, by the written definitions of each level) so that one model answers on the scale the
tracker uses today.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

NOT_SET, DEFAULT, UNKNOWN = "not set", "default", "unknown"


def normalise(value: str) -> str:
    """Lower case, letters and digits only: "P1" -> "p1", "N/A" -> "na", "--" -> ""."""
    return re.sub(r"[^a-z0-9]", "", value.lower())


@dataclass(frozen=True)
class Scale:
    name: str
    field: str
    """The report field it belongs to: ``severity`` or ``priority``."""
    levels: tuple[str, ...]
    """Worst first: rank 0 is the most severe / most urgent level."""
    defaults: tuple[str, ...]
    """Levels the tracker fills in by itself: a label only where a person set them."""
    no_answer: tuple[str, ...] = ()
    """Values that are never a label on this scale ("--" is always one)."""
    trackers: tuple[str, ...] = ()
    """Tracker kinds that use it (breaks ties between scales that share names)."""
    why: str = ""

    def rank(self, level: str) -> int:
        return self.levels.index(level)

    def classify(self, value: str | None) -> tuple[str, str | None]:
        """(kind, level): ("level", "critical"), ("default", "normal"), ("not set", None) or
        ("unknown", None)."""
        if value is None or not normalise(value):
            return NOT_SET, None
        key = normalise(value)
        if key in {normalise(v) for v in self.no_answer}:
            return NOT_SET, None
        for level in self.levels:
            if normalise(level) == key:
                return (DEFAULT if level in self.defaults else "level"), level
        return UNKNOWN, None

    def knows(self, value: str | None) -> bool:
        return self.classify(value)[0] != UNKNOWN


BUGZILLA_SEVERITY = Scale(
    "bugzilla-severity",
    "severity",
    ("blocker", "critical", "major", "normal", "minor", "trivial"),
    defaults=("normal",),
    no_answer=("enhancement", "n/a"),
    trackers=("bugzilla",),
    why="Bugzilla's stock severities; 'normal' is the form's default; 'enhancement' says what kind of "
    "report it is, not how bad: not a severity",
)
MOZILLA_SEVERITY = Scale(
    "mozilla-severity",
    "severity",
    ("S1", "S2", "S3", "S4"),
    defaults=(),
    no_answer=("n/a",),
    trackers=("bugzilla",),
    why="Mozilla since 2020: S1 catastrophic .. S4 small; the default is '--' and N/A is for tasks and "
    "enhancements, neither a severity",
)
BUGZILLA_PRIORITY = Scale(
    "bugzilla-priority",
    "priority",
    ("P1", "P2", "P3", "P4", "P5"),
    defaults=(),
    trackers=("bugzilla",),
    why="Bugzilla's P1 (now) .. P5 (never, unless someone else does it); '--' is the untouched default",
)
JIRA_PRIORITY = Scale(
    "jira-priority",
    "priority",
    ("Blocker", "Critical", "Major", "Minor", "Trivial"),
    defaults=("Major",),
    trackers=("jira",),
    why="Jira's classic priorities; the create dialog starts at 'Major', which most reporters keep",
)
JIRA_PRIORITY_NEW = Scale(
    "jira-priority-new",
    "priority",
    ("Highest", "High", "Medium", "Low", "Lowest"),
    defaults=("Medium",),
    trackers=("jira",),
    why="Jira's priorities since Jira 7 (Cloud's default scheme); the create dialog starts at 'Medium'",
)
REDMINE_PRIORITY = Scale(
    "redmine-priority",
    "priority",
    ("Immediate", "Urgent", "High", "Normal", "Low"),
    defaults=("Normal",),
    trackers=("redmine",),
    why="Redmine's stock priorities; a new issue starts at 'Normal'",
)

# GitHub has no such fields: labels carry them where a rule says so (`scale.targets.label_rules`).
GITHUB_SEVERITY = Scale(
    "github-severity",
    "severity",
    ("critical", "high", "medium", "low"),
    defaults=(),
    trackers=("github",),
    why="labels such as 'severity: high' (BUGSIFT_GITHUB_SCALE_LABELS); a label is always a person's",
)
GITHUB_PRIORITY = Scale(
    "github-priority",
    "priority",
    ("critical", "high", "medium", "low"),
    defaults=(),
    trackers=("github",),
    why="labels such as 'priority: high' (BUGSIFT_GITHUB_SCALE_LABELS); a label is always a person's",
)
GITHUB_PRIORITY_P = Scale(
    "github-priority-p",
    "priority",
    ("P0", "P1", "P2", "P3", "P4"),
    defaults=(),
    trackers=("github",),
    why="labels such as 'priority/P1' (BUGSIFT_GITHUB_SCALE_LABELS); P0 is the most urgent",
)

SCALES: tuple[Scale, ...] = (
    BUGZILLA_SEVERITY,
    MOZILLA_SEVERITY,
    BUGZILLA_PRIORITY,
    JIRA_PRIORITY,
    JIRA_PRIORITY_NEW,
    REDMINE_PRIORITY,
    GITHUB_SEVERITY,  # last: another tracker's values find their own scale first
    GITHUB_PRIORITY,
    GITHUB_PRIORITY_P,
)
BY_NAME = {scale.name: scale for scale in SCALES}
FIELDS = ("severity", "priority")

# Classic Bugzilla severity -> Mozilla's S scale, by the definitions: blocker "blocks development or
# testing" = S1; critical (crash, data loss) and major (major loss of function) = S2, "no satisfactory
# workaround"; normal = S3 "a workaround exists"; minor and trivial (cosmetic) = S4.
CLASSIC_TO_S = {
    "blocker": "S1",
    "critical": "S2",
    "major": "S2",
    "normal": "S3",
    "minor": "S4",
    "trivial": "S4",
}


def scale_named(name: str) -> Scale:
    if name not in BY_NAME:
        raise ValueError(f"unknown scale {name!r}; scales: {', '.join(BY_NAME)}")
    return BY_NAME[name]


def scale_for_value(field: str, value: str | None, tracker: str = "") -> Scale | None:
    """The scale a field's value is on (a level or a default of it), the tracker's own first; None if
    the value is on none (or names no level, like "--")."""
    kind = tracker.lower()
    candidates = sorted(
        (s for s in SCALES if s.field == field),
        key=lambda s: not any(kind.startswith(t) for t in s.trackers),
    )
    for scale in candidates:
        if scale.classify(value)[0] in ("level", DEFAULT):
            return scale
    return None


def scales_of(field: str, kind: str) -> list[Scale]:
    """The scales a tracker kind uses for a field (GitHub has no field of its own: every scale)."""
    own = [s for s in SCALES if s.field == field and kind in s.trackers]
    return own or [s for s in SCALES if s.field == field]


def is_untouched(field: str, kind: str, value: str | None) -> bool:
    """Whether a severity or priority still holds what the tracker filled in: empty, '--', or a
    default level of one of the kind's scales. 'N/A' or 'enhancement' are a person's, so not untouched."""
    if value is None or not normalise(value):
        return True
    return any(scale.classify(value)[0] == DEFAULT for scale in scales_of(field, kind))


def level_on(scale: Scale, value: str | None) -> str | None:
    """The level ``value`` is on ``scale`` (a classic Bugzilla severity mapped onto S1..S4); None where it
    is no level there: not set, the tracker's default, or another scale's value."""
    kind, level = scale.classify(value)
    if kind == UNKNOWN and value and scale.name == MOZILLA_SEVERITY.name:
        kind, level = scale.classify(CLASSIC_TO_S.get(normalise(value)))
    return level if kind == "level" else None


def mean_absolute_rank_error(
    y_true: Iterable[str], y_pred: Iterable[str], scale: Scale | tuple[str, ...]
) -> float | None:
    """Mean |rank(true) - rank(predicted)| on the scale's order (0 = every answer right; 1 = off by one
    level on average); None for no reports."""
    levels = scale.levels if isinstance(scale, Scale) else tuple(scale)
    errors = [abs(levels.index(t) - levels.index(p)) for t, p in zip(y_true, y_pred, strict=True)]
    return sum(errors) / len(errors) if errors else None
