"""The model registry: which model files exist, for which task, trained on what, scoring how.

A registered file can go bad (deleted, truncated by a full disk, replaced by one holding untrusted types):
`load_with_fallback` then serves the newest earlier version of the same model whose file loads, and says so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bugsift.store.models import ModelRow

T = TypeVar("T")

# Model files that failed to load in the current `load_with_fallback` call: `active_model` passes over them.
_AVOIDED: ContextVar[frozenset[str]] = ContextVar("bugsift_avoided_model_files", default=frozenset())


class ModelFileError(ValueError):
    """A model file cannot be loaded (missing, truncated, refused); names the model once it is known."""

    def __init__(self, path: str | Path, reason: str, row: ModelRow | None = None) -> None:
        self.path, self.reason, self.row = str(path), reason, row
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.row is None:
            return f"cannot load the model file {self.path}: {self.reason}"
        return f"cannot load model {self.row.version_name} ({self.path}): {self.reason}"


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
    avoided = _AVOIDED.get()
    if row is not None and row.path in avoided:
        row = earlier_version(session, row, avoided)
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


def earlier_version(
    session: Session, row: ModelRow, avoided: frozenset[str] = frozenset()
) -> ModelRow | None:
    """The newest version of ``row``'s task, label and mode older than it whose file is not in ``avoided``."""
    query = select(ModelRow).where(
        ModelRow.task == row.task,
        ModelRow.label == row.label,
        ModelRow.mode == row.mode,
        ModelRow.version < row.version,
    )
    for older in session.scalars(query.order_by(ModelRow.version.desc())):
        if older.path not in avoided and Path(older.path).is_file():
            return older
    return None


@contextmanager
def _avoiding(paths: set[str]) -> Iterator[None]:
    token = _AVOIDED.set(frozenset(paths))
    try:
        yield
    finally:
        _AVOIDED.reset(token)


def load_with_fallback(
    sessions: Callable[[], Any], load: Callable[[], T], warn: Callable[[str], None]
) -> tuple[T, ModelRow | None]:
    """Run ``load`` (which loads the active model through `active_model`); when its file does not load,
    again with the newest earlier version of the same model, until one loads.

    ``sessions`` is `Database.session`. Returns what ``load`` returned and the registry row served instead
    of the active one (None when the active one loaded); each file passed over is told to ``warn``. Raises
    `ModelFileError` naming the active model when no version loads.
    """
    avoided: set[str] = set()
    failures: list[ModelFileError] = []
    served: ModelRow | None = None
    while True:
        try:
            with _avoiding(avoided):
                return load(), served
        except ModelFileError as error:
            failures.append(error)
            if error.path in avoided:  # ``load`` did not go through `active_model`: nothing else to try
                raise _no_version_loads(failures) from error
            avoided.add(error.path)
            served = _earlier_for(sessions, error, avoided)
            if served is None:
                raise _no_version_loads(failures) from error
            warn(f"{error}; serving the earlier {served.version_name} ({served.path}) instead")


def _earlier_for(sessions: Callable[[], Any], error: ModelFileError, avoided: set[str]) -> ModelRow | None:
    """Name the model of the failed file on ``error``, and find the version to try next."""
    with sessions() as session:
        if error.row is None:
            error.row = session.scalars(select(ModelRow).where(ModelRow.path == error.path)).first()
        return earlier_version(session, error.row, frozenset(avoided)) if error.row is not None else None


def _no_version_loads(failures: list[ModelFileError]) -> ModelFileError:
    """The error of the active model's file, saying that no earlier version could stand in."""
    first = failures[0]
    if first.row is None:
        return first
    earlier = [f.row.version_name for f in failures[1:] if f.row is not None]
    tried = f"the earlier {', '.join(earlier)} {'does' if len(earlier) == 1 else 'do'} not load either"
    instead = tried if earlier else "no earlier version to serve instead"
    retrain = f"bugsift train {first.row.task}"
    return ModelFileError(first.path, f"{first.reason} ({instead}: run `{retrain}`)", first.row)
