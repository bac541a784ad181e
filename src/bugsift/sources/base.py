"""The record every importer produces, and the errors it raises.

A `Report` is tracker-neutral: importers fill what their tracker knows and leave the rest empty.
The `filed` mapping holds the reporter-set fields *as they were when the report was filed*, replayed
from the tracker's field history. When the tracker gives no history, `filed` stays ``None`` so that
nobody mistakes today's values for filing-time values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Fields whose filing-time value we try to recover from history.
FILED_FIELDS = ("product", "component", "type", "severity", "priority")


@dataclass
class Report:
    tracker: str
    """Tracker kind or instance name, e.g. ``bugzilla``, ``jira``, ``github``, ``csv``."""
    external_id: str
    """The tracker's own id exactly as in the input (Bugzilla id, Jira key, GitHub number, CSV id)."""
    title: str = ""
    description: str = ""
    """The first comment / issue body, as written by the reporter."""
    project: str = ""
    """Namespace inside the tracker: Jira project, GitHub repository, Eclipse project; "" if none."""
    created_at: datetime | None = None
    """Filing time, timezone-aware UTC."""
    reporter: str | None = None
    type: str | None = None
    """The tracker's own type field or label column today (defect/enhancement/task, bug/feature/question)."""
    product: str | None = None
    component: str | None = None
    """Main component today (the first one where a tracker allows several)."""
    components: list[str] = field(default_factory=list)
    severity: str | None = None
    priority: str | None = None
    status: str | None = None
    resolution: str | None = None
    resolved_at: datetime | None = None
    duplicate_of: str | None = None
    """External id of the report this one duplicates, if the tracker says so."""
    fixed_files: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    """Comments after the first one, oldest first (written after filing: backlog mode only)."""
    filed: dict[str, Any] | None = None
    """Values of FILED_FIELDS at filing time, replayed from history; None when no history exists."""
    labels: dict[str, str] = field(default_factory=dict)
    """Label columns carried by the input itself (e.g. ``label`` in a GitHub CSV)."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Other tracker fields worth keeping as features or for later issues (versions, links, commits)."""
    raw: dict[str, Any] = field(default_factory=dict)
    """The record as read, for audit and re-processing."""
    warnings: list[str] = field(default_factory=list, compare=False)
    """``file:line: what`` notes about how the record was read (a field cut to its size limit); not stored."""


class RecordError(ValueError):
    """One input record could not be turned into a Report; the import goes on without it."""


@dataclass
class Rejected:
    """A record an importer could not read, with where it came from and why."""

    location: str
    """``file:line`` (or ``file:record N``) of the bad record."""
    reason: str

    def __str__(self) -> str:
        return f"{self.location}: {self.reason}"
