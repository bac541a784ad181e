"""The validation report: `bugsift evaluate TASK --report report.html`.

`write_report` turns a task's evaluation dict (what its handler's ``evaluate`` returns) into one
self-contained HTML file: a plain-language summary, tables beside baselines (and the previous model
version), and figures (matplotlib Agg, embedded as PNG). `report_data` gives the same numbers and words
as JSON-ready data, without drawing anything.

Kinds, told apart by the evaluation's shape: classification (`type`, `defect`), component, files,
duplicates, and a numeric target wherever an evaluation carries ``regression: {y_true, y_pred}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bugsift.report.content import KINDS, ReportContent, build, class_timeline, detect_kind
from bugsift.report.summary import ACCURACY_FLOOR

__all__ = [
    "ACCURACY_FLOOR",
    "KINDS",
    "class_timeline",
    "detect_kind",
    "expected_figures",
    "previous_from_row",
    "render_report",
    "report_data",
    "write_report",
]


def render_report(
    evaluation: Mapping[str, Any],
    task: str,
    previous: Mapping[str, Any] | None = None,
    floor: float = ACCURACY_FLOOR,
) -> str:
    """The report as one HTML string."""
    from bugsift.report.html import render_html

    return render_html(build(evaluation, task, previous, floor))


def write_report(
    evaluation: Mapping[str, Any],
    path: Path | str,
    task: str,
    previous: Mapping[str, Any] | None = None,
    floor: float = ACCURACY_FLOOR,
) -> Path:
    """Write the HTML report of ``evaluation`` to ``path`` (parent folders created); returns the path.

    ``previous``: the previous model version to compare with, as `previous_from_row` gives it (or an earlier
    evaluation dict of the same task); None leaves the comparison out.
    """
    path = Path(path)
    html = render_report(evaluation, task, previous, floor)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path


def report_data(
    evaluation: Mapping[str, Any],
    task: str,
    previous: Mapping[str, Any] | None = None,
    floor: float = ACCURACY_FLOOR,
) -> dict[str, Any]:
    """The report's summary and tables as JSON-ready data (for ``--json`` and the web API); draws nothing."""
    content: ReportContent = build(evaluation, task, previous, floor)
    return content.as_dict()


def expected_figures(evaluation: Mapping[str, Any], task: str) -> list[str]:
    """Ids of the figures the report of ``evaluation`` shows (``data-figure`` attributes in the HTML)."""
    return build(evaluation, task).figure_ids()


def previous_from_row(row: Any) -> dict[str, Any]:
    """A registry row (`bugsift.store.models.ModelRow`) as the ``previous`` argument of `write_report`."""
    return {
        "version": row.version,
        "created_at": row.created_at.isoformat() if row.created_at else None,
        "metrics": dict(row.metrics or {}),
        "thresholds": dict(row.thresholds or {}),
        "data": dict(row.data or {}),
    }


def find_previous(
    session: Any, task: str, label: str, mode: str, before: int | None = None
) -> dict[str, Any] | None:
    """The registry's model of ``task``/``label``/``mode`` to compare with.

    The newest version below ``before`` (the dashboard, for one version), or the newest of all (``evaluate``);
    None if there is none.
    """
    from sqlalchemy import select

    from bugsift.store.models import ModelRow

    query = select(ModelRow).where(ModelRow.task == task, ModelRow.label == label, ModelRow.mode == mode)
    if before is not None:
        query = query.where(ModelRow.version < before)
    row = session.scalars(query.order_by(ModelRow.version.desc())).first()
    return previous_from_row(row) if row is not None else None
