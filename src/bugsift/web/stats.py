"""Numbers for the dashboard: data per tracker, label sources, model versions, drift of the prediction mix."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bugsift.store.models import LabelRow, ModelRow, ReportRow, utcnow


def tracker_counts(session: Session) -> list[dict[str, Any]]:
    """Reports per tracker with the newest import time (the last sync)."""
    rows = session.execute(
        select(ReportRow.tracker, func.count(ReportRow.id), func.max(ReportRow.imported_at))
        .group_by(ReportRow.tracker)
        .order_by(ReportRow.tracker)
    )
    return [{"tracker": t, "reports": n, "last_sync": last} for t, n, last in rows]


def label_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(LabelRow.source, func.count(LabelRow.id)).group_by(LabelRow.source))
    return {source: count for source, count in rows}


def model_versions(session: Session) -> list[ModelRow]:
    return list(
        session.scalars(select(ModelRow).order_by(ModelRow.task, ModelRow.label, ModelRow.version.desc()))
    )


def headline_metrics(row: ModelRow) -> dict[str, Any]:
    """The scalar test metrics of a registry row (nested dicts and lists left out)."""
    test = (row.metrics or {}).get("test", row.metrics or {})
    return {k: v for k, v in test.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def drift(session: Session, weeks: int = 12) -> dict[str, Any]:
    """Model labels per ISO week and value for each label name, over the last ``weeks`` weeks."""
    since = utcnow() - timedelta(weeks=weeks)
    rows = session.execute(
        select(LabelRow.name, LabelRow.value, LabelRow.updated_at).where(
            LabelRow.source == "model", LabelRow.updated_at >= since
        )
    )
    counts: dict[str, Counter[tuple[str, str]]] = defaultdict(Counter)
    for name, value, at in rows:
        year, week, _ = at.isocalendar()
        counts[name][(f"{year}-W{week:02d}", value)] += 1
    out: dict[str, Any] = {}
    for name, counter in sorted(counts.items()):
        weeks_seen = sorted({w for w, _ in counter})
        values = sorted(
            {v for _, v in counter}, key=lambda v: -sum(c for (_, x), c in counter.items() if x == v)
        )
        out[name] = {
            "weeks": weeks_seen,
            "values": values[:8],
            "rows": [[counter[(w, v)] for v in values[:8]] for w in weeks_seen],
        }
    return out


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def thresholds(row: ModelRow, most: int = 4) -> list[str]:
    """The thresholds of a version in words: below which it says "not sure", per scope or project."""
    t = row.thresholds or {}
    out: list[str] = []
    uncertain = t.get("uncertain")
    if _number(uncertain):
        out.append(f"not sure below {uncertain:.2f}")
    elif isinstance(uncertain, dict):  # files: one per project
        shown = ", ".join(f"{k} {v:.2f}" for k, v in list(uncertain.items())[:most] if _number(v))
        out.append(f"not sure below: {shown}" + (" ..." if len(uncertain) > most else ""))
    per_scope = t.get("per_scope")
    if isinstance(per_scope, dict):  # component: suggest / act per product or project
        for scope, values in list(per_scope.items())[:most]:
            if isinstance(values, dict):
                parts = [f"{k} {v:.2f}" for k, v in values.items() if _number(v)]
                out.append(f"{scope}: {', '.join(parts)}")
        if len(per_scope) > most:
            out.append(f"... {len(per_scope) - most} more scopes")
    for key, name in (("precision_target", "precision target"), ("suggest_precision", "suggest precision")):
        if _number(t.get(key)):
            out.append(f"{name} {t[key]:.2f}")
    if t.get("chosen_on"):
        out.append(f"chosen on {t['chosen_on']}")
    return out


def coverage(row: ModelRow) -> list[str]:
    """How many held-out reports a version answers above its thresholds, and how precisely."""
    metrics = row.metrics or {}
    at = metrics.get("at_threshold")
    out: list[str] = []
    if isinstance(at, dict) and _number(at.get("coverage")):  # type, defect
        precision = at.get("precision")
        shown = f" at precision {precision:.2f}" if _number(precision) else ""
        out.append(f"answers {at['coverage']:.0%} of test reports{shown}")
    model = (metrics.get("mean") or {}).get("model") if isinstance(metrics.get("mean"), dict) else None
    if isinstance(model, dict):  # component
        for name in ("suggest", "act"):
            cov, precision = model.get(f"{name}_coverage"), model.get(f"{name}_precision")
            if _number(cov):
                shown = f" at precision {precision:.2f}" if _number(precision) else ""
                out.append(f"{name}: {cov:.0%} of test reports{shown}")
    return out
