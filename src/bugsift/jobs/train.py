"""Train a challenger and promote it only if it is not worse than the champion on held-out data.

Both scores come from the registry rows: each model's evaluation on the newest part of the reports
(time split) when it was trained. A challenger that scores lower stays in the registry, inactive, and
the champion stays active; every older model is kept for rollback.
"""

from __future__ import annotations

from typing import Any

from bugsift.jobs.args import ArgSpec
from bugsift.jobs.core import JobContext
from bugsift.learn.targets import MODES
from bugsift.learn.tasks import TaskOptions, get_task
from bugsift.store.models import ModelRow
from bugsift.store.registry import active_model

# Where each task family keeps its headline held-out score in ModelRow.metrics (higher is better).
SCORE_PATHS: tuple[tuple[str, ...], ...] = (
    ("test", "macro_f1"),
    ("test", "accuracy"),
    ("mean", "model", "top1"),
    ("test", "top1"),
    ("test", "recall_at_5"),
    ("test", "mrr"),
    ("test", "mae"),
)
LOWER_IS_BETTER = {"test.mae"}
"""Headline metrics where less is better (fix-time's error in log-days): a challenger must not exceed."""


ARGS = {
    "task": ArgSpec("str", required=True, model_task=True, description="The model task to train."),
    "label": ArgSpec("str", description="The label set to learn (default: the task's own)."),
    "mode": ArgSpec("str", choices=MODES),
    "tracker": ArgSpec("str"),
    "project": ArgSpec("str"),
}
"""What `train` takes (checked on submit, `bugsift.jobs.args`)."""


def held_out_score(metrics: dict[str, Any]) -> tuple[str, float] | None:
    """The first known headline metric present in a registry row's metrics, as (path, value)."""
    for path in SCORE_PATHS:
        value: Any = metrics
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, int | float):
            return ".".join(path), float(value)
    return None


def at_least_as_good(new: tuple[str, float], old: tuple[str, float]) -> bool:
    """Whether the challenger's headline score is at least the champion's, in the metric's direction."""
    return new[1] <= old[1] if new[0] in LOWER_IS_BETTER else new[1] >= old[1]


def train(
    context: JobContext,
    task: str,
    label: str | None = None,
    mode: str | None = None,
    tracker: str | None = None,
    project: str | None = None,
) -> dict[str, Any]:
    """Train ``task`` through the task registry, then keep the better of champion and challenger."""
    database = context.database
    handler = get_task(task)
    with database.session() as session:
        try:
            champion: ModelRow | None = active_model(session, task, label, mode)
        except LookupError:
            champion = None
    context.log(f"champion: {champion.version_name if champion else 'none'}")
    outcome = handler.train(
        database, context.settings, TaskOptions(label=label, mode=mode, tracker=tracker, project=project)
    )
    if outcome.model is None:  # the task declined to register (duplicates: text similarity did as well)
        context.log(outcome.text.splitlines()[-1] if outcome.text else "no model registered")
        return {
            "challenger": None,
            "champion": champion.version_name if champion else None,
            "promoted": False,
            "active": champion.version_name if champion else None,
            "message": outcome.text,
        }
    challenger: ModelRow = outcome.model
    new = held_out_score(challenger.metrics)
    old = held_out_score(champion.metrics) if champion else None
    comparable = new is not None and old is not None and new[0] == old[0]
    promoted = champion is None or not comparable or at_least_as_good(new, old)  # type: ignore[arg-type]
    if not promoted:
        assert champion is not None
        with database.session() as session:
            session.get(ModelRow, challenger.id).active = False  # type: ignore[union-attr]
            session.get(ModelRow, champion.id).active = True  # type: ignore[union-attr]
    verdict = "promoted" if promoted else "kept the champion"
    context.log(
        f"challenger {challenger.version_name} {new} vs champion "
        f"{champion.version_name if champion else None} {old}: {verdict}"
    )
    return {
        "challenger": challenger.version_name,
        "champion": champion.version_name if champion else None,
        "challenger_score": new[1] if new else None,
        "champion_score": old[1] if old else None,
        "metric": (new or old or (None,))[0],
        "promoted": promoted,
        "active": challenger.version_name if promoted else champion.version_name,  # type: ignore[union-attr]
    }
