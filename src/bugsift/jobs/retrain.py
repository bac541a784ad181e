"""When to retrain on its own: after enough new human corrections, or when a model is older than a schedule.

A worker's sweeper calls `queue_due_trainings` every half lease. The train job it queues is the usual
champion/challenger one (`jobs.train`), so a retrained model that scores lower is not promoted. Counting
from the newest version of a model (active or not) keeps a rejected challenger from being retrained at
every sweep; a train job queued, running, or started within the last hour for the same model is enough.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bugsift.jobs.core import database_for, submit
from bugsift.settings import Settings
from bugsift.store.job_tables import JobRow
from bugsift.store.models import LabelRow, ModelRow

RECENT = timedelta(hours=1)
"""A train job for the same model created within this period (whatever its state) blocks another."""


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _train_jobs_under_way(session: Session, now: datetime) -> set[tuple[str, str, str]]:
    rows = session.scalars(
        select(JobRow).where(
            JobRow.task == "train",
            (JobRow.state.in_(("queued", "running"))) | (JobRow.created_at >= now - RECENT),
        )
    )
    keys = set()
    for row in rows:
        args = row.args or {}
        keys.add((str(args.get("task")), str(args.get("label")), str(args.get("mode"))))
    return keys


def due_trainings(session: Session, settings: Settings, now: datetime | None = None) -> list[dict[str, Any]]:
    """The active models that should be retrained now, each with the reason, in train-job arguments."""
    if settings.train_after_corrections <= 0 and settings.train_every_hours <= 0:
        return []
    now = now or datetime.now(UTC)
    under_way = _train_jobs_under_way(session, now)
    due = []
    for model in session.scalars(select(ModelRow).where(ModelRow.active)):
        key = (model.task, model.label, model.mode)
        if key in under_way:
            continue
        newest = session.scalar(
            select(func.max(ModelRow.created_at)).where(
                ModelRow.task == model.task, ModelRow.label == model.label, ModelRow.mode == model.mode
            )
        )
        since = _aware(newest or model.created_at)
        reason = None
        if settings.train_after_corrections > 0:
            corrections = session.scalar(
                select(func.count())
                .select_from(LabelRow)
                .where(
                    LabelRow.source == "human",
                    LabelRow.name.in_({model.label, model.task}),
                    LabelRow.updated_at > since,
                )
            )
            if corrections >= settings.train_after_corrections:
                reason = f"{corrections} human labels since {model.version_name}"
        old = settings.train_every_hours > 0 and now - since >= timedelta(hours=settings.train_every_hours)
        if reason is None and old:
            reason = f"{model.version_name} is older than {settings.train_every_hours:g} h"
        if reason:
            due.append({"task": model.task, "label": model.label, "mode": model.mode, "reason": reason})
            under_way.add(key)
    return due


def queue_due_trainings(settings: Settings) -> list[int]:
    """Queue a train job for every model `due_trainings` names; returns the job ids."""
    with database_for(settings).session() as session:
        due = due_trainings(session, settings)
    return [
        submit("train", settings, task=item["task"], label=item["label"], mode=item["mode"]) for item in due
    ]
