"""What a visitor who is not logged in may learn of stored reports through the report form.

The duplicates answer names other stored reports. Shown as they are, they hand an anonymous visitor other
reporters' private submissions (their references open them at /r/<ref>) and let anyone test which words
stored reports contain (``matched_terms``). The other tasks answer with labels of the model's own label
set (a type, a component), which reveal nothing of a single stored report.
"""

from __future__ import annotations

import copy
from typing import Any

from bugsift.web.suggest import WEB_TRACKER

PUBLIC_CANDIDATE_FIELDS = ("label", "probability", "tracker", "title", "status", "resolution", "open")
"""Of an imported report, what the ``imported`` setting shows: what a public tracker shows anyone."""


SIMILAR = {"text": "similar title and description", "weight": 1.0, "kind": "similar"}
"""The one reason a visitor gets: word-level reasons would tell which words stored reports contain."""


def tasks_for_visitor(tasks: list[str], logged_in: bool, public_duplicates: str) -> list[str]:
    """The tasks worth predicting for this visitor (a duplicates answer they may not see is not searched)."""
    if logged_in or public_duplicates != "none":
        return tasks
    return [task for task in tasks if task != "duplicates"]


def for_visitor(answer: dict[str, dict], logged_in: bool, public_duplicates: str) -> dict[str, dict]:
    """``answer`` as the current visitor may see it (a copy: the cached answer is never changed)."""
    if logged_in or "duplicates" not in answer:
        return answer
    shown = {task: result for task, result in answer.items() if task != "duplicates"}
    if public_duplicates == "imported":
        shown["duplicates"] = _public_duplicates(answer["duplicates"])
    return shown


def _public_duplicates(result: dict[str, Any]) -> dict[str, Any]:
    candidates = [
        {name: c.get(name) for name in PUBLIC_CANDIDATE_FIELDS}
        for c in result.get("candidates", [])
        if c.get("tracker") and c.get("tracker") != WEB_TRACKER
    ]
    best = candidates[0] if candidates else None
    public = copy.deepcopy({k: v for k, v in result.items() if k not in ("candidates", "explanation")})
    public.update(
        prediction=best["label"] if best else None,
        probability=best["probability"] if best else 0.0,
        candidates=candidates,
        uncertain=best is None or bool(result.get("uncertain")) or best["label"] != result.get("prediction"),
        explanation=[SIMILAR] if best else [],
    )
    return public
