"""The model registry: which model files exist, for which task, trained on what, scoring how."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bugsift.store.models import ModelRow


def next_version(session: Session, task: str, label: str, mode: str) -> int:
    current = session.scalar(
        select(func.max(ModelRow.version)).where(
            ModelRow.task == task, ModelRow.label == label, ModelRow.mode == mode
        )
    )
    return (current or 0) + 1


def register_model(
    session: Session,
    *,
    task: str,
    label: str,
    mode: str,
    version: int,
    path: Path,
    params: dict[str, Any],
    data: dict[str, Any],
    metrics: dict[str, Any],
    thresholds: dict[str, Any],
) -> ModelRow:
    """Record a trained model; it becomes the active one for its task, label and mode.

    Older versions stay in the registry (inactive) with their files, for comparison and rollback.
    """
    for older in session.scalars(
        select(ModelRow).where(ModelRow.task == task, ModelRow.label == label, ModelRow.mode == mode)
    ):
        older.active = False
    row = ModelRow(
        task=task,
        label=label,
        mode=mode,
        version=version,
        path=str(path),
        params=params,
        data=data,
        metrics=metrics,
        thresholds=thresholds,
        active=True,
    )
    session.add(row)
    session.flush()
    return row


def active_model(session: Session, task: str, label: str | None = None, mode: str | None = None) -> ModelRow:
    """The newest active model of a task (optionally of one label set and mode), or a clear error."""
    query = select(ModelRow).where(ModelRow.task == task, ModelRow.active.is_(True))
    if label:
        query = query.where(ModelRow.label == label)
    if mode:
        query = query.where(ModelRow.mode == mode)
    row = session.scalars(query.order_by(ModelRow.created_at.desc(), ModelRow.id.desc())).first()
    if row is None:
        wanted = " ".join(
            part
            for part in (task, f"--label {label}" if label else "", f"--mode {mode}" if mode else "")
            if part
        )
        raise LookupError(f"no trained model for {wanted}: run `bugsift train {wanted}` first")
    return row


def list_models(session: Session) -> list[ModelRow]:
    return list(session.scalars(select(ModelRow).order_by(ModelRow.task, ModelRow.label, ModelRow.version)))
