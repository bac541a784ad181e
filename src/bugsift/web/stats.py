"""Numbers for the dashboard: data per tracker, label sources, model versions, drift of the prediction mix."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bugsift.store.job_tables import JobRow, SyncStateRow
from bugsift.store.models import LabelRow, ModelRow, ReportRow, utcnow


def tracker_counts(session: Session) -> list[dict[str, Any]]:
    """Reports per tracker, when they were last written (import or sync) and when a sync last finished.

    A tracker only ever imported from files has no sync: ``last_sync`` is None there, not the import time.
    """
    synced = last_syncs(session)
    rows = session.execute(
        select(ReportRow.tracker, func.count(ReportRow.id), func.max(ReportRow.imported_at))
        .group_by(ReportRow.tracker)
        .order_by(ReportRow.tracker)
    )
    return [
        {"tracker": t, "reports": n, "last_import": last, "last_sync": synced.get(t)} for t, n, last in rows
    ]


def last_syncs(session: Session) -> dict[str, datetime]:
    """Per tracker, when its newest sync cycle saved a watermark (sources are keyed ``name:url:scope``)."""
    out: dict[str, datetime] = {}
    for source, at in session.execute(select(SyncStateRow.source, SyncStateRow.updated_at)):
        tracker = source.split(":", 1)[0]
        if tracker not in out or at > out[tracker]:
            out[tracker] = at
    return out


def label_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(LabelRow.source, func.count(LabelRow.id)).group_by(LabelRow.source))
    return {source: count for source, count in rows}


def model_versions(session: Session) -> list[ModelRow]:
    return list(
        session.scalars(select(ModelRow).order_by(ModelRow.task, ModelRow.label, ModelRow.version.desc()))
    )


METRIC_WORDS = {
    "accuracy": ("accuracy", "share answered right"),
    "macro_f1": ("macro-F1", "F1 with every class weighing the same"),
    "weighted_f1": ("weighted F1", "F1 with classes weighed by size"),
    "auc": ("ROC AUC", "chance a real case scores above a non-case"),
    "roc_auc": ("ROC AUC", "chance a real case scores above a non-case"),
    "average_precision": ("average precision", "area under precision-recall"),
    "brier": ("Brier", "squared error of the probabilities; lower is better"),
    "log_loss": ("log loss", "lower is better"),
    "ece": ("calibration error", "gap between probability and hit rate; lower is better"),
    "precision": ("precision", "share of its answers that were right"),
    "recall": ("recall", "share of the real cases found"),
    "f1": ("F1", "balance of precision and recall"),
    "top1": ("top-1", "first suggestion right"),
    "top3": ("top-3", "right answer in the first three"),
    "top5": ("top-5", "right answer in the first five"),
    "recall_at_5": ("recall@5", "right answer in the first five"),
    "recall_at_10": ("recall@10", "right answer in the first ten"),
    "mrr": ("MRR", "mean of 1/rank of the right answer"),
    "map": ("MAP", "mean average precision of the ranked files"),
    "n": ("reports", "scored"),
    "n_test": ("test reports", ""),
}
"""Name and one-line meaning of each metric the dashboard shows; others are shown by their key."""


def headline_metrics(row: ModelRow) -> dict[str, Any]:
    """The scalar test metrics of a registry row (nested dicts and lists left out)."""
    test = (row.metrics or {}).get("test", row.metrics or {})
    return {k: v for k, v in test.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def metric_lines(row: ModelRow) -> list[str]:
    """The headline metrics one per line: readable name, value, and what it means."""
    lines = []
    for key, value in headline_metrics(row).items():
        shown = f"{value:,}" if isinstance(value, int) else f"{value:.3f}"
        name, meaning = METRIC_WORDS.get(key.lower(), (key, ""))
        lines.append(f"{name} {shown}" + (f" ({meaning})" if meaning else ""))
    return lines


WORKER_PATIENCE = timedelta(minutes=2)
"""How long a job may wait with no worker busy before the dashboard says that none seems to be running."""


def idle_queue(session: Session) -> timedelta | None:
    """How long the oldest queued job has waited, when no job is running and it waited over WORKER_PATIENCE
    (no worker is taking jobs, or all are gone); None when the queue moves."""
    oldest = session.scalar(select(func.min(JobRow.created_at)).where(JobRow.state == "queued"))
    if oldest is None:
        return None
    waited = utcnow() - oldest
    running = session.scalar(select(func.count(JobRow.id)).where(JobRow.state == "running"))
    return waited if waited > WORKER_PATIENCE and not running else None


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
