"""Answers that are estimates, not labels: fix-time says how many days to a fix, with a 10-90% interval.

Such an answer has no class probability (its ``probability`` is the interval's coverage), nothing a
triager accepts, and a label row holds one value, not an interval: pages show its ``summary`` in words
and its reasons, never a percentage or decision buttons, and it is never stored as a ``model`` label.
The triage report page computes it with the active model when the page is shown.
"""

from __future__ import annotations

from typing import Any

from bugsift.learn.fix_time.target import TASK as FIX_TIME

ESTIMATE_TASKS = (FIX_TIME,)
"""Tasks whose answer is a number with an interval (their label name is the task's own)."""


def is_estimate(result: Any) -> bool:
    """Whether an answer (the predict contract) is a numeric estimate rather than a label."""
    return isinstance(result, dict) and isinstance(result.get("interval"), dict) and bool(result.get("unit"))


def estimate_words(result: dict[str, Any]) -> str:
    """The estimate as a person reads it: the predictor's own ``summary`` ("about 4 days to a fix
    (10%-90%: 1 hour to 37 days)"), else the median days in words."""
    summary = result.get("summary")
    if isinstance(summary, str) and summary:
        return summary
    from bugsift.learn.fix_time.predict import days_text  # loads scikit-learn: only when needed

    days = result.get("prediction")
    if isinstance(days, int | float) and not isinstance(days, bool) and result.get("unit") == "days":
        return f"about {days_text(float(days))} to a fix"
    return "no estimate"


def of_suggestions(extra: Any) -> dict[str, dict[str, Any]]:
    """The estimates among the answers the form kept with a report (``extra["suggestions"]``)."""
    kept = extra.get("suggestions") if isinstance(extra, dict) else None
    if not isinstance(kept, dict):
        return {}
    return {task: result for task, result in kept.items() if is_estimate(result)}
