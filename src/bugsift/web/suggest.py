"""From form or API input to `Report` records, predictions of every task with a model, and stored reports."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from bugsift.learn.reasons import texts as reason_texts
from bugsift.sources.base import Report
from bugsift.store.db import Database
from bugsift.store.labels import ModelAnswer, upsert_model_answers
from bugsift.store.models import ReportRow, utcnow
from bugsift.store.reports import upsert_reports
from bugsift.web.estimates import is_estimate
from bugsift.web.predictors import PredictorCache
from bugsift.web.suggestcache import SuggestionCache, normalise, report_key

WEB_TRACKER = "web"
MAX_BATCH = 100
"""Most reports one API call may carry."""
MAX_FIELD_CHARS = {"title": 1_000, "description": 200_000, "steps": 50_000}
DEFAULT_FIELD_CHARS = 500
"""Longest value of the other text fields (product, component, version, project, reporter)."""
TEXT_FIELDS = ("title", "description", "product", "component", "version", "steps", "project", "reporter")
LABEL_NAMES = {
    "type": "type",
    "defect": "defect",
    "component": "component",
    "duplicates": "duplicate_of",
    "files": "files",
}
"""Label name under which each task's prediction is stored (and a human correction of it)."""


PREDICT_TIMEOUT_S = 60.0
"""Longest a suggestion waits for its model (a stuck model gives a 500 instead of a hung thread)."""


class InputError(ValueError):
    """Bad input from a client: becomes a 400 with this message."""


def parse_report(data: Any, where: str = "body") -> Report:
    """One report from a JSON object (or form fields): title and/or description, optional fields."""
    if not isinstance(data, dict):
        raise InputError(f"{where}: a report must be a JSON object, not {type(data).__name__}")
    values: dict[str, str] = {}
    for name in TEXT_FIELDS:
        value = data.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise InputError(f"{where}.{name}: must be a string, not {type(value).__name__}")
        limit = MAX_FIELD_CHARS.get(name, DEFAULT_FIELD_CHARS)
        if len(value) > limit:
            raise InputError(f"{where}.{name}: longer than {limit} characters")
        values[name] = normalise(value)
    if not values.get("title") and not values.get("description"):
        raise InputError(f"{where}: give a title or a description (both are missing or empty)")
    report_id = data.get("id")
    if report_id is None:
        report_id = ""
    elif isinstance(report_id, bool) or not isinstance(report_id, str | int):
        raise InputError(f"{where}.id: must be a string or an integer")
    created_at = _parse_time(data.get("created_at"), f"{where}.created_at")
    description = values.get("description", "")
    if values.get("steps"):
        description = f"{description}\n\nSteps to reproduce:\n{values['steps']}".strip()
    extra = {"version": values["version"]} if values.get("version") else {}
    return Report(
        tracker=WEB_TRACKER,
        external_id=str(report_id),
        title=values.get("title", ""),
        description=description,
        project=values.get("project", ""),
        created_at=created_at,
        reporter=values.get("reporter") or None,
        product=values.get("product") or None,
        component=values.get("component") or None,
        extra=extra,
    )


def _parse_time(value: Any, where: str) -> datetime:
    if value is None or value == "":
        return utcnow()
    if not isinstance(value, str):
        raise InputError(f"{where}: must be an ISO 8601 string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{where}: {value[:60]!r} is not an ISO 8601 date-time") from None
    try:  # 0001-01-01T00:00:00+14:00 is a valid date-time whose UTC time is before year 1
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except OverflowError:
        raise InputError(f"{where}: {value[:60]!r} is out of range in UTC (years 1 to 9999)") from None


def parse_payload(payload: Any) -> tuple[list[Report], bool]:
    """The reports of a predict request (one object or a list) and whether it was a single object."""
    if isinstance(payload, dict):
        return [parse_report(payload)], True
    if isinstance(payload, list):
        if not payload:
            raise InputError("body: the list of reports is empty")
        if len(payload) > MAX_BATCH:
            raise InputError(f"body: at most {MAX_BATCH} reports per request, got {len(payload)}")
        return [parse_report(item, f"body[{i}]") for i, item in enumerate(payload)], False
    raise InputError("body: send one report (a JSON object) or a list of reports")


def predict(cache: PredictorCache, task: str, reports: Sequence[Report], top_k: int) -> list[dict[str, Any]]:
    """Predictions of one task in the predict contract's shape, each with the model version that made it.

    A single report joins the model's micro-batch (concurrent API calls share one ``predict``); a list is
    a batch already.
    """
    loaded = cache.get(task)
    if loaded is None:
        raise LookupError(f"no trained model for {task}: run `bugsift train {task}` first")
    if len(reports) == 1:
        results = [loaded.batcher.predict(reports[0], top_k, PREDICT_TIMEOUT_S)]
    else:
        results = loaded.predictor.predict(list(reports), top_k)
    for result in results:
        result["model_version"] = loaded.model.version_name
    return results


def suggest(
    cache: PredictorCache,
    report: Report,
    tasks: Sequence[str],
    top_k: int,
    memo: SuggestionCache | None = None,
) -> dict[str, dict]:
    """Predictions of every task in ``tasks`` that has an active model; the others are left out.

    Each goes through its model's micro-batcher (concurrent requests share one ``predict`` call), all
    tasks at once. With ``memo``, a report already answered by the same models comes from memory.
    """
    loaded = {task: found for task in tasks if (found := cache.get(task)) is not None}
    key = (
        report_key(report, [(t, m.model.id) for t, m in loaded.items()], top_k) if memo is not None else None
    )
    if memo is not None and (known := memo.get(key)) is not None:
        return known
    pending = {task: (m.model.version_name, m.batcher.submit(report, top_k)) for task, m in loaded.items()}
    out = {
        task: {**future.result(PREDICT_TIMEOUT_S), "model_version": version}
        for task, (version, future) in pending.items()
    }
    if memo is not None:
        memo.put(key, out)
    return out


def store_submission(database: Database, report: Report, suggestions: dict[str, dict]) -> tuple[int, str]:
    """Store a report from the form (tracker ``web``) with its predictions as ``model`` labels.

    Returns (row id, external id). The model labels never replace a human label: they live in their own
    rows (source ``model``) and the human one wins wherever labels are read.
    """
    if not report.external_id:
        report.external_id = uuid.uuid4().hex[:16]
    report.extra = {**report.extra, "suggestions": suggestions}
    with database.session() as session:
        upsert_reports(session, [report])
        row_id = session.scalar(
            select(ReportRow.id).where(
                ReportRow.tracker == report.tracker,
                ReportRow.project == (report.project or ""),
                ReportRow.external_id == report.external_id,
            )
        )
        assert row_id is not None
        store_model_labels(session, row_id, suggestions)
    return row_id, report.external_id


def store_model_labels(session: Any, report_id: int, suggestions: dict[str, dict]) -> int:
    """Write each task's prediction as a ``model`` label with its model version, probability, "not sure"
    and explanation (replacing older ones). An estimate (fix-time) is no label to accept: it stays in the
    report's ``extra["suggestions"]`` only."""
    stored = 0
    for task, result in suggestions.items():
        if is_estimate(result):
            continue
        answer = ModelAnswer.of_prediction(report_id, LABEL_NAMES.get(task, task), result)
        if answer is not None:
            stored += upsert_model_answers(session, [answer], result.get("model_version"))
    return stored


def feature_words(explanation: Any, n: int = 6) -> list[str]:
    """The reason texts of an explanation for the form (``[{"text", "weight", "kind"}]``, see
    `bugsift.learn.reasons`); never a feature name or a bare stop word."""
    return reason_texts(explanation)[:n]
