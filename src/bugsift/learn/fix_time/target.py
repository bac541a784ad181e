"""What the `fix-time` task learns from: days from filing to a fix, with still-open reports censored.

A report counts as **fixed** when its resolution says it was a real defect that got fixed (the
``defect`` mapping: Fixed, Done) and it has a resolution time; its target is the days from filing to
that time. A report with no resolution yet (open, reopened, patch available) is **censored**: it is not
fixed after the days it has been open so far (until the store's newest date, `Dataset.as_of`), a lower
bound that training and evaluation both use. Reports closed without a fix (duplicate, won't fix,
invalid ...) will never get one: they are left out and counted by resolution.

The target is ``log-days = ln(1 + days)``: fix times span minutes to years, and the +1 keeps a
same-day fix finite.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from sqlalchemy.orm import Session

from bugsift.learn.targets import DEFECT, defect_from_resolution
from bugsift.sources.base import Report
from bugsift.store.reports import iter_newest_reports

TASK = "fix-time"
LABEL = "resolved_at"
DAY = 86400.0

# What the target is made of: never a feature (bugsift.learn.fix_time.model excludes them).
TARGET_FIELDS = ("status", "resolution", "resolved_at", "duplicate_of", "comments")


def log_days(days: np.ndarray | float) -> np.ndarray:
    """ln(1 + days): the scale the task learns and is scored on."""
    return np.log1p(np.maximum(np.asarray(days, dtype=np.float64), 0.0))


def days_from_log(values: np.ndarray | float) -> np.ndarray:
    return np.expm1(np.asarray(values, dtype=np.float64))


def _epoch(when: datetime) -> float:
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


@dataclass
class Dataset:
    """Fixed and censored reports; ``resolved`` is NaN for a censored one."""

    reports: list[Report] = field(default_factory=list)
    created: np.ndarray = field(default_factory=lambda: np.empty(0))
    """Filing times, epoch seconds."""
    resolved: np.ndarray = field(default_factory=lambda: np.empty(0))
    """Fix times, epoch seconds; NaN while open."""
    as_of: float = 0.0
    """The moment the data describes (epoch seconds): the newest filing or resolution time in it."""
    excluded: Counter[str] = field(default_factory=Counter)

    def __len__(self) -> int:
        return len(self.reports)

    def known_at(self, moment: float) -> tuple[np.ndarray, np.ndarray]:
        """(log-days, fixed) as one would have known them at ``moment``: a fix after it is still open
        then, censored at the days open so far. The fit part of a time split is rolled back to its
        newest filing time this way, so no fix from the test period reaches training."""
        fixed = np.isfinite(self.resolved) & (self.resolved <= moment)
        end = np.where(fixed, self.resolved, moment)
        return log_days((end - self.created) / DAY), fixed

    def subset(self, idx: np.ndarray) -> Dataset:
        idx = np.asarray(idx, dtype=np.intp)
        return Dataset(
            [self.reports[i] for i in idx], self.created[idx], self.resolved[idx], self.as_of, self.excluded
        )

    def counts(self) -> dict[str, int]:
        fixed = int(np.isfinite(self.resolved).sum())
        return {"fixed": fixed, "censored": len(self) - fixed}


def target_of(report: Report) -> tuple[str, float | None] | None:
    """("fixed", resolved epoch) / ("censored", None) / None with the reason left to `exclusion`."""
    if report.created_at is None:
        return None
    if not report.resolution:
        return "censored", None
    if defect_from_resolution(report.resolution) != DEFECT or report.resolved_at is None:
        return None
    if report.resolved_at < report.created_at:  # a clock or import error, not a fix before filing
        return None
    return "fixed", _epoch(report.resolved_at)


def exclusion(report: Report) -> str:
    if report.created_at is None:
        return "no filing date"
    if report.resolved_at is not None and report.created_at and report.resolved_at < report.created_at:
        return "resolved before it was filed"
    if defect_from_resolution(report.resolution) == DEFECT:
        return "fixed without a resolution date"
    return f"closed without a fix ({report.resolution})"


def build_dataset(reports: Iterable[Report]) -> Dataset:
    """The fixed and censored reports of ``reports``, oldest first, and why the others were left out."""
    kept: list[tuple[float, Report, float]] = []
    excluded: Counter[str] = Counter()
    newest = 0.0
    for report in reports:
        for when in (report.created_at, report.resolved_at):
            if when is not None:
                newest = max(newest, _epoch(when))
        target = target_of(report)
        if target is None:
            excluded[exclusion(report)] += 1
            continue
        resolved = np.nan if target[1] is None else target[1]
        kept.append((_epoch(report.created_at), report, resolved))  # type: ignore[arg-type]
    kept.sort(key=lambda item: item[0])
    return Dataset(
        reports=[r for _, r, _ in kept],
        created=np.array([c for c, _, _ in kept], dtype=np.float64),
        resolved=np.array([e for _, _, e in kept], dtype=np.float64),
        as_of=newest,
        excluded=excluded,
    )


def load_dataset(
    session: Session, tracker: str | None = None, project: str | None = None, max_reports: int | None = None
) -> Dataset:
    """The fix-time data set of the stored reports (optionally one tracker / project); with
    ``max_reports``, of the newest that many only (the training window)."""
    rows, unread = iter_newest_reports(session, tracker, project, max_reports)
    data = build_dataset(report for _, report in rows)  # sorts by filing time, whatever the order read
    if unread:
        data.excluded[f"not read: older than the newest {max_reports:,} reports"] = unread
    return data
