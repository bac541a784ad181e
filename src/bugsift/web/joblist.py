"""Background jobs as the dashboard and the API show them, and queueing one with its arguments checked.

The jobs table is read through `bugsift.jobs` (never written here); queueing goes through its one seam,
`bugsift.jobs.submit`, so the configured backend (embedded or Celery) takes the job.
"""

from __future__ import annotations

import re
from typing import Any

from bugsift.jobs import get_job, list_jobs, submit
from bugsift.jobs.args import ArgSpec
from bugsift.jobs.core import arg_specs, validate_args
from bugsift.jobs.sync_task import URL_SETTINGS
from bugsift.learn.tasks import TASKS as MODEL_TASKS
from bugsift.settings import Settings
from bugsift.store.db import Database
from bugsift.store.job_tables import JOB_STATES, JobRow

QUEUEABLE = ("train", "classify", "sync", "encode")
"""Jobs an admin may queue from the web; notify runs after classify or from the worker's schedule."""
MAX_LIST = 200
LIMIT_RANGE = (1, MAX_LIST)
"""Bounds of ``GET /api/v1/jobs?limit=`` (the OpenAPI document states the same)."""
DEFAULT_LIMIT = 50


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
    """The arguments of a job queued from the web, checked by the job's own rules (`bugsift.jobs.args`:
    names, types, ranges, model tasks); a tracker URL is refused (ValueError says what is wrong)."""
    if task not in QUEUEABLE:
        raise ValueError(f"task must be one of {', '.join(QUEUEABLE)}, not {task!r}")
    if not isinstance(args, dict):
        raise ValueError("args must be a JSON object of the task's arguments")
    if task == "sync" and "url" in args:  # a request must never choose where the server connects
        setting = "BUGSIFT_" + URL_SETTINGS.get(str(args.get("source") or "bugzilla"), "bugzilla_url").upper()
        raise ValueError(f"args.url: tracker URLs come from the settings ({setting}), not from a request")
    return validate_args(task, args, MODEL_TASKS)


def web_arg_specs(task: str) -> dict[str, ArgSpec]:
    """What a job queued from the web may take: the job's own arguments, less a tracker URL."""
    specs = arg_specs(task) or {}
    return {name: spec for name, spec in specs.items() if not (task == "sync" and name == "url")}


def parse_limit(text: str | None) -> int:
    """The ``limit`` query parameter of the jobs list: ASCII digits within `LIMIT_RANGE` (the OpenAPI
    document's bounds); ``str.isdigit`` is not enough (it takes "²", which ``int`` refuses)."""
    if text is None:
        return DEFAULT_LIMIT
    low, high = LIMIT_RANGE
    if not re.fullmatch(r"[0-9]{1,6}", text) or not low <= int(text) <= high:
        raise ValueError(f"limit must be an integer from {low} to {high}, not {text[:40]!r}")
    return int(text)


def queue(settings: Settings, task: str, args: Any) -> int:
    """Check and queue a job; returns its id."""
    return submit(task, settings, **check_args(task, args))
