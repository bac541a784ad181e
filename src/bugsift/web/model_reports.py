"""Each model version's own HTML validation report, drawn from the evaluation kept beside its model file.

Training writes ``<model>.evaluation.json`` (`bugsift.learn.tasks.keep_evaluation`); the first request for
a version's report renders it (a few seconds of matplotlib) and keeps ``<model>.report.html`` beside it,
so later requests only read a file. A version is immutable, and so is the version it is compared with
(the newest one below it), so the kept file goes stale only when bugsift draws reports differently: a
file of an older `bugsift.report.html.REPORT_FORMAT` is drawn again.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from bugsift.learn.tasks import evaluation_path, report_path
from bugsift.store.models import ModelRow

_render_lock = threading.Lock()  # one rendering at a time: matplotlib is slow and not thread-safe


def has_report(row: ModelRow) -> bool:
    """Whether this version kept what its report is drawn from."""
    return bool((row.data or {}).get("evaluation")) or evaluation_path(row.path).is_file()


def evaluation_of(row: ModelRow) -> dict[str, Any] | None:
    """The held-out evaluation of a version: in its registry row (older rows) or in the file beside it."""
    kept = (row.data or {}).get("evaluation")
    if kept:
        return dict(kept)
    path = evaluation_path(row.path)
    if not path.is_file():
        return None
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def _fresh(cached: Path, row: ModelRow) -> bool:
    """A kept report drawn from the evaluation there is now (not from an older file of the same name)."""
    if not cached.is_file():
        return False
    evaluation = evaluation_path(row.path)
    return not evaluation.is_file() or cached.stat().st_mtime >= evaluation.stat().st_mtime


PHONE_STYLE = (
    "<style>@media (max-width: 600px) { main { padding: 12px; } "
    "table { display: block; max-width: 100%; overflow-x: auto; } }</style>"
)
"""Served with the report: its wide tables scroll inside themselves on a phone instead of the page."""


def fit_phones(html: str) -> str:
    """The report with `PHONE_STYLE` at the end of its head (the kept file stays as rendered)."""
    head_end = html.find("</head>")
    return html if head_end < 0 else html[:head_end] + PHONE_STYLE + html[head_end:]


def _kept(cached: Path, row: ModelRow) -> str | None:
    """The kept report when it is drawn from the current evaluation in the current format, else None."""
    if not _fresh(cached, row):
        return None
    from bugsift.report.html import FORMAT_MARK  # the report package (numpy, jinja) only when asked

    html = cached.read_text(encoding="utf-8")
    return html if FORMAT_MARK in html else None


def report_html(session: Session, row: ModelRow) -> str | None:
    """The rendered report of a version (kept beside the model after the first time), or None."""
    cached = report_path(row.path)
    kept = _kept(cached, row)
    if kept is not None:
        return kept
    with _render_lock:
        kept = _kept(cached, row)  # another request may have rendered it while this one waited
        if kept is not None:
            return kept
        evaluation = evaluation_of(row)
        if evaluation is None:
            return None
        from bugsift.report import find_previous, render_report

        previous = find_previous(session, row.task, row.label, row.mode, before=row.version)
        html = render_report(evaluation, row.task, previous)
        try:
            partial = cached.with_suffix(f".{os.getpid()}.tmp")
            partial.write_text(html, encoding="utf-8")
            partial.replace(cached)
        except OSError:  # a read-only models folder: serve it anyway, render again next time
            pass
    return html
