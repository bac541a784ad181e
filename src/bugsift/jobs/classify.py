"""Classify the backlog: predict every stored report not yet labelled by the active model, in batches.

Each batch's ``model`` labels (with the model's version and what each answer rested on: probability,
"not sure" and the reasons in words, which the triage queue shows), its outbox entries and the job's
progress are committed in one transaction. A report the model has no answer for (``prediction`` null)
gets no label. A report is a candidate while it has neither a human label of that name
nor a model label from this model version, so a restarted job picks up exactly where the killed one
stopped, and running it twice does nothing the second time. Human labels are never touched.
Severity and priority are labels like the others (their value is a level of the model's scale). A
fix-time answer is not: it is days with a 10-90% interval, which a label row (one value, one
probability) cannot hold, and nothing a triager accepts; classify refuses it, and the triage report page
computes the estimate with the active model when it is shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from bugsift.jobs.args import ArgSpec
from bugsift.jobs.core import JobContext
from bugsift.learn.fix_time.target import TASK as FIX_TIME
from bugsift.learn.targets import MODES
from bugsift.learn.tasks import TaskOptions, get_task
from bugsift.store.db import Database
from bugsift.store.job_tables import OutboxRow, SubscriptionRow
from bugsift.store.labels import ModelAnswer, upsert_labels, upsert_model_answers
from bugsift.store.models import LabelRow, ModelRow, ReportRow, utcnow
from bugsift.store.reports import row_to_report
from bugsift.store.upsert import insert_for

# A worker keeps the predictors it loaded while the set of active models stays the same: a job for one
# webhook issue then costs a prediction, not a model load and its explanation setup (~2 s).
_PREDICTORS: dict[tuple[str | None, ...], tuple[tuple[int, ...], Any]] = {}
PREDICTOR_CACHE_SIZE = 4


def cached_predictor(database: Database, task: str, options: TaskOptions) -> Any:
    """``get_task(task).predictor(...)``, reused until a model is activated or deactivated."""
    with database.session() as session:
        active = tuple(session.scalars(select(ModelRow.id).where(ModelRow.active).order_by(ModelRow.id)))
    key = (str(database.engine.url), task, options.label, options.mode, options.tracker, options.project)
    hit = _PREDICTORS.get(key)
    if hit is not None and hit[0] == active:
        return hit[1]
    predictor = get_task(task).predictor(database, options)
    _PREDICTORS.pop(key, None)
    _PREDICTORS[key] = (active, predictor)
    while len(_PREDICTORS) > PREDICTOR_CACHE_SIZE:
        _PREDICTORS.pop(next(iter(_PREDICTORS)))
    return predictor


def _scope(
    tracker: str | None,
    project: str | None,
    report_ids: list[int] | None = None,
    shard: tuple[int, int] | None = None,
) -> Select[tuple[int]]:
    """The ids of the reports this job covers, answered or not."""
    query = select(ReportRow.id)
    if report_ids:
        query = query.where(ReportRow.id.in_(report_ids))
    if shard:  # one of several jobs sharing the backlog (one per worker): ids modulo the shard count
        query = query.where(ReportRow.id % shard[1] == shard[0])
    if tracker:
        query = query.where(ReportRow.tracker == tracker)
    if project:
        query = query.where(ReportRow.project == project)
    return query


def _answered(name: str, version: str, named: bool) -> ColumnElement[bool]:
    """A label row that means the report needs no answer from this model version."""
    # Named reports (a webhook's new or edited issue) are predicted again even when this model version
    # already labelled them: their text may have changed. Human labels always win.
    model_done = and_(LabelRow.source == "model", LabelRow.model_version == version)
    return and_(
        LabelRow.name == name,
        LabelRow.source == "human" if named else or_(LabelRow.source == "human", model_done),
    )


def _next_rows(
    session: Session, scope: Select[tuple[int]], answered: ColumnElement[bool], last_id: int, take: int
) -> tuple[list[ReportRow], int]:
    """The next reports after ``last_id`` (at most ``take``) that still need an answer, and the id to go
    on from.

    Two index reads per batch, ids then their labels, instead of one NOT EXISTS: PostgreSQL planned that
    anti-join from label statistics taken before the job wrote its labels, and scanned every label for
    every batch, so a backlog run slowed down as it went (7.8 s a batch after 30,000 of 32,721).
    """
    while True:
        ids = list(session.scalars(scope.where(ReportRow.id > last_id).order_by(ReportRow.id).limit(take)))
        if not ids:
            return [], last_id
        last_id = ids[-1]
        done = set(session.scalars(select(LabelRow.report_id).where(LabelRow.report_id.in_(ids), answered)))
        todo = [report_id for report_id in ids if report_id not in done]
        if todo:
            rows = session.scalars(select(ReportRow).where(ReportRow.id.in_(todo)).order_by(ReportRow.id))
            return list(rows), last_id


def store_model_labels(session: Session, items: Sequence[tuple[int, str]], name: str, version: str) -> None:
    """Create or replace the ``model`` label ``name`` of each report, stamped with the model version."""
    rows = [(report_id, name, value) for report_id, value in items]
    upsert_labels(session, rows, "model", model_version=version)


def store_model_answers(
    session: Session, predictions: Sequence[tuple[int, dict[str, Any]]], name: str, version: str
) -> int:
    """Store each prediction as the report's ``model`` label ``name`` with its probability, "not sure" and
    explanation; returns how many were stored."""
    answers = [a for i, result in predictions if (a := ModelAnswer.of_prediction(i, name, result))]
    return upsert_model_answers(session, answers, version)


def queue_notifications(
    session: Session,
    name: str,
    version: str,
    predictions: Sequence[tuple[int, dict[str, Any]]],
    min_probability: float,
) -> int:
    """Outbox entries for subscribers of confident predictions; an entry already there is left alone."""
    wanted = {
        (report_id, str(p["prediction"])): float(p["probability"])
        for report_id, p in predictions
        if not p.get("uncertain") and p.get("prediction") is not None and p["probability"] >= min_probability
    }
    if not wanted:
        return 0
    values = {value for _, value in wanted}
    subscriptions = session.execute(
        select(SubscriptionRow.id, SubscriptionRow.value).where(
            SubscriptionRow.field == name, SubscriptionRow.value.in_(values)
        )
    ).all()
    rows = [
        {
            "subscription_id": sub_id,
            "report_id": report_id,
            "field": name,
            "value": value,
            "probability": probability,
            "model_version": version,
            "state": "pending",
            "created_at": utcnow(),
        }
        for (report_id, value), probability in wanted.items()
        for sub_id, sub_value in subscriptions
        if sub_value == value
    ]
    if rows:
        insert = insert_for(session, OutboxRow).on_conflict_do_nothing(
            index_elements=["subscription_id", "report_id", "value"]
        )
        session.connection().execute(insert, rows)
    return len(rows)


MAX_SHARDS = 1024
ARGS = {
    "task": ArgSpec("str", required=True, model_task=True, description="The model task to predict."),
    "label": ArgSpec("str", description="The label set of the model (default: the task's name)."),
    "mode": ArgSpec("str", choices=MODES),
    "tracker": ArgSpec("str"),
    "project": ArgSpec("str"),
    "batch_size": ArgSpec("int", minimum=1, maximum=100_000, description="Reports per transaction."),
    "notify": ArgSpec("bool", nullable=False),
    "limit": ArgSpec("int", minimum=1, description="Stop after this many reports."),
    "report_ids": ArgSpec("ids", max_length=10_000, description="Only these stored reports."),
    "shard": ArgSpec("int", nullable=False, minimum=0, maximum=MAX_SHARDS - 1),
    "shards": ArgSpec("int", nullable=False, minimum=1, maximum=MAX_SHARDS),
}
"""What `classify` takes (checked on submit, `bugsift.jobs.args`)."""


ESTIMATE_REFUSED = (
    f"{FIX_TIME} answers an estimate (days with an interval), not a label to store: the triage report "
    "page computes it live with the active model"
)


def check_combination(args: dict[str, Any]) -> None:
    """What the arguments say together: the shard must be one of the shards; the task's answer a label."""
    if args.get("task") == FIX_TIME:
        raise ValueError(f"args.task: {ESTIMATE_REFUSED}")
    shard, shards = args.get("shard", 0), args.get("shards", 1)
    if not 0 <= shard < shards:
        raise ValueError(f"args.shard must be from 0 to shards - 1 = {shards - 1}, not {shard}")


def classify(
    context: JobContext,
    task: str,
    label: str | None = None,
    mode: str | None = None,
    tracker: str | None = None,
    project: str | None = None,
    batch_size: int | None = None,
    notify: bool = False,
    limit: int | None = None,
    report_ids: list[int] | None = None,
    shard: int = 0,
    shards: int = 1,
) -> dict[str, Any]:
    """Predict the backlog with the active model of ``task``; returns counts for this attempt.

    With ``notify`` confident predictions queue mail to the subscribers of the predicted value and a
    `notify` job is submitted at the end. ``limit`` stops after that many reports (for new-report runs);
    ``report_ids`` predicts only those stored reports (database ids); ``shard`` of ``shards`` takes the
    reports whose id modulo ``shards`` is ``shard`` (submit one job per shard to use several workers).
    """
    if task == FIX_TIME:
        raise ValueError(ESTIMATE_REFUSED)
    settings, database = context.settings, context.database
    options = TaskOptions(label=label, mode=mode, tracker=tracker, project=project)
    predictor = cached_predictor(database, task, options)
    version = predictor.version_name
    name = label or task
    size = batch_size or settings.classify_batch_size
    if not 0 <= shard < shards:
        raise ValueError(f"shard must be in 0..{shards - 1}, not {shard}")
    scope = _scope(tracker, project, report_ids, (shard, shards) if shards > 1 else None)
    answered = _answered(name, version, bool(report_ids))
    with database.session() as session:
        pending = scope.where(~exists().where(LabelRow.report_id == ReportRow.id, answered))
        remaining = session.scalar(select(func.count()).select_from(pending.subquery())) or 0
    before = context.current_progress()
    already = int(before.get("done", 0)) if before.get("model_version") == version else 0
    total = already + (min(remaining, limit) if limit else remaining)
    context.progress(total=total, done=already, model_version=version, label=name)
    context.log(f"classify {name} with {version}: {remaining} report(s) to predict, {already} done before")
    predicted = queued = 0
    last_id = 0
    while limit is None or predicted < limit:
        take = size if limit is None else min(size, limit - predicted)
        with database.session() as session:
            rows, last_id = _next_rows(session, scope, answered, last_id, take)
            if not rows:
                break
            results = predictor.predict([row_to_report(row) for row in rows], 1)
            pairs = [(row.id, result) for row, result in zip(rows, results, strict=True)]
            store_model_answers(session, pairs, name, version)
            if notify:
                queued += queue_notifications(session, name, version, pairs, settings.notify_min_probability)
            predicted += len(rows)
            context.progress(session, done=already + predicted)
    context.log(f"predicted {predicted} report(s); {queued} notification(s) queued")
    if notify and queued:
        context.submit("notify")
    return {"label": name, "model_version": version, "predicted": predicted, "notifications": queued}
