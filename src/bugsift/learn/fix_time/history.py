"""How fast earlier reports like this one got fixed: history features for the `fix-time` task.

For a report filed at time t, only reports **resolved before t** are read (never its own fix, never a
later one), so a feature is what a triager could have looked up at filing. Groups: the whole store,
the project, the filing-time component (where the importer replayed it) and the reporter. Per group:

- the median log-days of the group's last `RECENT` fixes before t, shrunk towards the next wider
  group (reporter -> component -> project -> store) by `SHRINK` pseudo-fixes, so a reporter with two
  earlier fixes moves the estimate a little, one with fifty a lot (the store's own is not shrunk; with
  no earlier fix at all it is the constant `UNKNOWN`);
- the (log) number of those earlier fixes (reporter and component: experience), and the project's
  backlog at t: reports filed before t and not yet resolved then (for a project the history has never
  seen: the training mean, since its backlog is unknown).

The fitted state is plain arrays per group (sorted times and values), so the skops file needs no
extra types, and a new report at prediction time sees the whole training history.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

from bugsift.sources.base import Report

RECENT = 30
SHRINK = 5.0
UNKNOWN = float(np.log1p(7.0))
"""Where nothing was fixed before a report's filing: a week (a constant, so no later fix leaks in)."""
LEVELS = ("store", "project", "component", "reporter")


def group_keys(report: Report) -> dict[str, str | None]:
    """The report's group at each level; None where the report does not say (e.g. Jira without history
    has no filing-time component: today's may have been set by a triager later)."""
    filed = report.filed or {}
    component = filed.get("component")
    product = filed.get("product") or report.product
    project = report.project or product or ""
    return {
        "store": "",
        "project": project,
        "component": f"{project}::{product or ''}::{component}" if component else None,
        "reporter": report.reporter or None,
    }


def _epoch(report: Report) -> float:
    when = report.created_at
    if when is None:
        return np.inf  # undated: as if filed after everything known
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


class FixHistory(TransformerMixin, BaseEstimator):
    """Dense history columns (see the module docstring), centred on the training reports' means.

    ``fit(reports, y=None, resolved=..., values=...)``: ``resolved`` the fix times (epoch seconds, NaN
    while open) and ``values`` the log-days of those fixes, aligned with ``reports``.
    """

    def __init__(self, recent: int = RECENT, shrink: float = SHRINK) -> None:
        self.recent = recent
        self.shrink = shrink

    def fit(
        self,
        X: Sequence[Report],
        y: Any = None,
        resolved: np.ndarray | None = None,
        values: np.ndarray | None = None,
    ) -> FixHistory:
        if resolved is None or values is None:
            raise ValueError("FixHistory.fit needs resolved= and values=")
        fixes: dict[str, dict[str, list[tuple[float, float]]]] = {level: {} for level in LEVELS}
        filed: dict[str, list[float]] = {}
        closed: dict[str, list[float]] = {}
        for report, end, value in zip(X, resolved, values, strict=True):
            keys = group_keys(report)
            filed.setdefault(keys["project"] or "", []).append(_epoch(report))
            if np.isfinite(end):
                closed.setdefault(keys["project"] or "", []).append(float(end))
                for level in LEVELS:
                    if keys[level] is not None:
                        fixes[level].setdefault(keys[level], []).append((float(end), float(value)))
        self.fix_times_ = {
            f"{level}|{key}": np.array(sorted(items), dtype=np.float64)[:, 0]
            for level, groups in fixes.items()
            for key, items in groups.items()
        }
        self.fix_values_ = {
            f"{level}|{key}": np.array(sorted(items), dtype=np.float64)[:, 1]
            for level, groups in fixes.items()
            for key, items in groups.items()
        }
        self.filed_times_ = {k: np.sort(np.array(v, dtype=np.float64)) for k, v in filed.items()}
        self.closed_times_ = {k: np.sort(np.array(v, dtype=np.float64)) for k, v in closed.items()}
        raw = self._raw(X)
        self.means_ = np.nanmean(raw, axis=0) if len(X) else np.zeros(len(self.feature_names()))
        return self

    def feature_names(self) -> list[str]:
        return [
            "store_recent",
            "project_recent",
            "component_recent",
            "reporter_recent",
            "component_fixes",
            "reporter_fixes",
            "project_backlog",
        ]

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray([f"history:{n}" for n in self.feature_names()], dtype=object)

    def _recent(self, group: str, moment: float) -> tuple[float | None, int]:
        """Median of the group's last `recent` fixes before ``moment``, and how many fixes it had."""
        times = self.fix_times_.get(group)
        if times is None:
            return None, 0
        k = int(np.searchsorted(times, moment, side="left"))
        if k == 0:
            return None, 0
        return float(np.median(self.fix_values_[group][max(0, k - self.recent) : k])), k

    def describe(self, report: Report) -> dict[str, Any]:
        """The history of one report in plain values (days, counts): what its reasons are made of."""
        moment, keys = _epoch(report), group_keys(report)
        estimate, out = UNKNOWN, {}
        for level in LEVELS:
            key = keys[level]
            median, n = self._recent(f"{level}|{key}", moment) if key is not None else (None, 0)
            used = min(n, self.recent)
            if median is not None and level == "store":
                estimate = median  # the widest group: nothing to shrink towards
            elif median is not None:
                estimate = (used * median + self.shrink * estimate) / (used + self.shrink)
            out[f"{level}_recent"] = estimate
            out[f"{level}_n"] = n
            out[f"{level}_median"] = median
        project = keys["project"] or ""
        filed = self.filed_times_.get(project)
        if filed is None:  # a project the history has never seen: its backlog is unknown, not zero
            out["project_backlog"] = None
            return out
        closed = self.closed_times_.get(project, np.empty(0))
        out["project_backlog"] = max(
            0, int(np.searchsorted(filed, moment, "left")) - int(np.searchsorted(closed, moment, "left"))
        )
        return out

    def _raw(self, X: Sequence[Report]) -> np.ndarray:
        rows = []
        for report in X:
            d = self.describe(report)
            rows.append(
                [
                    d["store_recent"],
                    d["project_recent"],
                    d["component_recent"],
                    d["reporter_recent"],
                    np.log1p(d["component_n"]),
                    np.log1p(d["reporter_n"]),
                    np.nan if d["project_backlog"] is None else np.log1p(d["project_backlog"]),
                ]
            )
        return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(self.feature_names()))

    def transform(self, X: Sequence[Report]) -> sp.csr_matrix:
        """Centred columns; an unknown value (a new project's backlog) sits at the training mean."""
        return sp.csr_matrix(np.nan_to_num(self._raw(X) - self.means_, nan=0.0))
