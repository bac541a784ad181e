"""Fix-time answers in the predict contract's shape, with reasons in words.

``prediction`` is the median number of days to a fix; ``interval`` the 10%-90% range in days, and
``probability`` the chance the fix falls inside it (0.8): what the numbers mean is said in ``unit``
and ``interval``. ``candidates`` are cumulative statements ("fixed within 12 days", probability 0.5).
``uncertain`` is true when the model in use is the training median (it knows nothing of the report)
or the report is in a project the training history never saw.
Reasons: for a linear model the features that moved the estimate away from the typical fix, in the
direction it moved (`bugsift.learn.reasons`), and how fast similar earlier reports were fixed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from bugsift.learn import reasons
from bugsift.learn.fix_time.history import group_keys
from bugsift.learn.fix_time.model import FixTimeModel
from bugsift.learn.fix_time.target import days_from_log
from bugsift.sources.base import Report

_HISTORY_PHRASES = {
    "store_recent": "recent fixes in this tracker took a median of {days}",
    "project_recent": "recent fixes in this project took a median of {days}",
    "component_recent": "earlier fixes in this component took a median of {days}",
    "reporter_recent": "this reporter's earlier reports were fixed in a median of {days}",
    "component_fixes": "{n} in this component",
    "reporter_fixes": "{n} of this reporter's reports",
    "project_backlog": "{n} of the project open when it was filed",
}
_HISTORY_COUNT = {"component_fixes": "component_n", "reporter_fixes": "reporter_n"}
_HISTORY_MEDIAN = {
    "store_recent": "store_median",
    "project_recent": "project_median",
    "component_recent": "component_median",
    "reporter_recent": "reporter_median",
}


def days_text(days: float) -> str:
    """12.3 -> "12 days"; 0.4 -> "10 hours"; 400 -> "13 months"."""
    if days < 1:
        hours = max(1, round(days * 24))
        return f"{hours} hour{'s' if hours != 1 else ''}"
    if days < 60:
        n = round(days)
        return f"{n} day{'s' if n != 1 else ''}"
    months = round(days / 30.4)
    return f"{months} months" if months < 24 else f"{days / 365.25:.1f} years"


def _history_reason(name: str, weight: float, facts: dict[str, Any]) -> dict[str, Any] | None:
    if name in _HISTORY_MEDIAN:
        median = facts.get(_HISTORY_MEDIAN[name])
        if median is None:  # the group had no earlier fix: the value is the wider group's
            return None
        text = _HISTORY_PHRASES[name].format(days=days_text(float(days_from_log(median))))
    else:
        n = facts.get(_HISTORY_COUNT.get(name, name))
        if n is None:
            return None
        noun = ("report", "reports") if name == "project_backlog" else ("earlier fix", "earlier fixes")
        count = f"no {noun[0]}" if n == 0 else f"{int(n):,} {noun[0] if n == 1 else noun[1]}"
        text = _HISTORY_PHRASES[name].format(n=count)
    return reasons.reason(text, weight, "history")


def explain(model: FixTimeModel, report: Report, row: Any, median: float, n: int) -> list[dict[str, Any]]:
    """The reasons of one answer; ``row`` is the report's row of ``model.transform``."""
    typical = days_text(float(days_from_log(model.median_)))
    if model.estimator_ is None:
        return [reasons.reason(f"the typical fix: half of the fixes took {typical} or less", 0.0, "note")]
    sign = 1.0 if median >= model.median_ else -1.0
    if model.kind == "boosted":  # trees: the words of its text score, in the direction they pushed
        coef, names = model.text_model_, model.features_.get_feature_names_out()[model.text_columns_]
        if coef is None:
            return [reasons.reason(f"compared with the typical fix ({typical})", 0.0, "note")]
        words = model.features_.transform([report])[:, model.text_columns_].tocsr()
        contrib = words.data * coef.coef_[words.indices] * sign
        items = [{"feature": names[j], "weight": c} for j, c in zip(words.indices, contrib, strict=True)]
        out = reasons.from_features(sorted(items, key=lambda i: -i["weight"]), report, n)
    else:
        x = row.tocsr() if hasattr(row, "tocsr") else row
        names, coef = model.feature_names(), model.coefficients()
        contrib = x.data * coef[x.indices] * sign
        order = np.argsort(-contrib)[: n * 3]
        items, history = [], []
        facts = model.history_.describe(report) if model.history_ is not None else {}
        for k in order:
            name, weight = str(names[x.indices[k]]), float(contrib[k])
            if weight <= 0:
                break
            if name.startswith("history:"):
                found = _history_reason(name.removeprefix("history:"), weight, facts)
                if found is not None:
                    history.append(found)
            else:
                items.append({"feature": name, "weight": weight})
        out = [r for r in reasons.from_features(items, report, n) if r["weight"] > 0] + history
        out.sort(key=lambda r: -r["weight"])
        out = out[:n]
    direction = "longer" if sign > 0 else "shorter"
    note = f"these make it {direction} than the typical fix ({typical})"
    return [*out[: max(1, n - 1)], reasons.reason(note, 0.0, "note")]


def _new_project(model: FixTimeModel, report: Report) -> bool:
    """Whether the report is in a project (or product) the model's history never saw: its pace there is
    unknown (leaving one Jira project out, answers for it were worse than the median)."""
    history = model.history_
    return history is not None and (group_keys(report)["project"] or "") not in history.filed_times_


def predict(
    model: FixTimeModel, reports: Sequence[Report], top_k: int = 3, explain_n: int = reasons.MAX_REASONS
) -> list[dict[str, Any]]:
    """One answer per report (see the module docstring)."""
    reports = list(reports)
    if not reports:
        return []
    matrix = model.transform(reports)
    median, low, high = model.predict_all(matrix, len(reports))
    q_low, q_high = model.interval
    out = []
    for i, report in enumerate(reports):
        days = [float(days_from_log(v)) for v in (low[i], median[i], high[i])]
        days = [round(max(d, 0.0), 1) for d in days]
        row = matrix[i] if matrix is not None and model.kind != "boosted" else None
        candidates = [
            {"label": f"fixed within {days_text(d)}", "probability": q, "days": d}
            for q, d in sorted(zip((q_low, 0.5, q_high), days, strict=True), key=lambda t: t[0] != 0.5)
        ]
        out.append(
            {
                "id": report.external_id,
                "prediction": days[1],
                "probability": round(q_high - q_low, 4),
                "unit": "days",
                "interval": {
                    "low": days[0],
                    "high": days[2],
                    "quantiles": [q_low, q_high],
                    "probability": round(q_high - q_low, 4),
                },
                "summary": (
                    f"about {days_text(days[1])} to a fix "
                    f"({q_low:.0%}-{q_high:.0%}: {days_text(days[0])} to {days_text(days[2])})"
                ),
                "candidates": candidates[: max(1, top_k)],
                "uncertain": model.estimator_ is None or _new_project(model, report),
                "explanation": explain(model, report, row, float(median[i]), min(explain_n, 6)),
            }
        )
    return out
