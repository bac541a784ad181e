"""Background jobs as the dashboard and the API show them, and queueing one with its arguments checked.

The jobs table is read through `bugsift.jobs` (never written here); queueing goes through its one seam,
`bugsift.jobs.submit`, so the configured backend (embedded or Celery) takes the job.
"""

from __future__ import annotations

import inspect
from typing import Any

from bugsift.jobs import get_job, list_jobs, submit
from bugsift.jobs.core import task_function
from bugsift.jobs.models import JOB_STATES, JobRow
from bugsift.learn.tasks import TASKS as MODEL_TASKS
from bugsift.settings import Settings
from bugsift.store.db import Database

QUEUEABLE = ("train", "classify", "sync", "encode")
"""Jobs an admin may queue from the web; notify runs after classify or from the worker's schedule."""
MAX_LIST = 200


def last_line(log: str | None) -> str:
    lines = [line for line in (log or "").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def as_dict(row: JobRow, with_log: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": row.id,
        "task": row.task,
        "args": row.args or {},
        "state": row.state,
        "progress": row.progress or {},
        "attempts": row.attempts,
        "last_log": last_line(row.log),
        "result": row.result,
        "error": row.error,
        "worker": row.worker,
        "created_at": row.created_at.isoformat() if row.created_at else None,
        "started_at": row.started_at.isoformat() if row.started_at else None,
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
    }
    if with_log:
        data["log"] = row.log or ""
    return data


def recent(database: Database, state: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """The newest jobs (at most ``MAX_LIST``), optionally of one state."""
    if state is not None and state not in JOB_STATES:
        raise ValueError(f"state must be one of {', '.join(JOB_STATES)}, not {state!r}")
    return [as_dict(row) for row in list_jobs(database, state, max(1, min(limit, MAX_LIST)))]


def one(database: Database, job_id: int) -> dict[str, Any] | None:
    row = get_job(database, job_id)
    return None if row is None else as_dict(row, with_log=True)


def check_args(task: str, args: Any) -> dict[str, Any]:
    """The arguments of a job to queue, checked against its task function (ValueError says what is wrong)."""
    if task not in QUEUEABLE:
        raise ValueError(f"task must be one of {', '.join(QUEUEABLE)}, not {task!r}")
    if not isinstance(args, dict):
        raise ValueError("args must be a JSON object of the task's arguments")
    parameters = inspect.signature(task_function(task)).parameters
    accepted = [name for name in parameters if name != "context"]
    unknown = sorted(set(args) - set(accepted))
    if unknown:
        raise ValueError(f"{task} takes no argument {', '.join(unknown)}; it takes {', '.join(accepted)}")
    missing = [
        name
        for name, p in parameters.items()
        if name != "context" and p.default is inspect.Parameter.empty and name not in args
    ]
    if missing:
        raise ValueError(f"{task} needs {', '.join(missing)}")
    for name, value in args.items():
        if isinstance(value, dict | list):
            raise ValueError(f"args.{name}: give a plain value (string, number, boolean or null)")
    for name in ("task", "classify_task"):  # a model task: fail now, not later in a worker
        if args.get(name) is not None and args[name] not in MODEL_TASKS:
            raise ValueError(f"args.{name} must be one of {', '.join(MODEL_TASKS)}, not {args[name]!r}")
    return dict(args)


def queue(settings: Settings, task: str, args: Any) -> int:
    """Check and queue a job; returns its id."""
    return submit(task, settings, **check_args(task, args))
