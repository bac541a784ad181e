"""The seam: `submit(task, **plain_args)` writes a job row and hands its id to the configured backend;
`run_job(id)` is what every backend's worker calls.

The jobs table is the truth, the broker only carries job ids. A worker claims a job with a
compare-and-set on its row, so a message delivered twice (a retry, a redelivery after a worker died)
runs the job once; a running job sends heartbeats, and one whose worker died (dead pid on this host, or
no heartbeat for ``jobs_lease_s``) can be claimed again. Task functions commit their work in batches and
skip what is already done, so a job restarted after a kill finishes without losing or repeating work.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import traceback
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import import_module
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bugsift.jobs.args import ArgSpec, check_args
from bugsift.learn.encoding_store import use_settings
from bugsift.settings import Settings
from bugsift.store.db import Database, open_database
from bugsift.store.job_tables import JobRow
from bugsift.store.models import utcnow

# Task name -> "module:function". Each function takes a JobContext and plain keyword values.
TASKS: dict[str, str] = {
    "classify": "bugsift.jobs.classify:classify",
    "train": "bugsift.jobs.train:train",
    "notify": "bugsift.jobs.notify:notify",
    "sync": "bugsift.jobs.sync_task:sync",
    "encode": "bugsift.jobs.encode:encode",
    "bot": "bugsift.jobs.bot_task:bot",
    "ping": "bugsift.jobs.core:ping",
}
LOG_LIMIT = 20_000  # characters of log kept per job (the newest)

_databases: dict[str, Database] = {}
_lock = threading.Lock()


def database_for(settings: Settings) -> Database:
    """One migrated Database per URL and process (workers reuse it across jobs)."""
    url = settings.resolved_database_url
    with _lock:
        if url not in _databases:
            _databases[url] = open_database(settings)
        return _databases[url]


def ping(context: JobContext, **echo: Any) -> dict[str, Any]:
    """An empty job: checks that a worker runs, and measures the queue's round trip (bench/jobs_speed.py)."""
    return {"pong": True, "worker": worker_name(), **echo}


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def task_function(name: str) -> Callable[..., dict[str, Any]]:
    if name not in TASKS:
        raise ValueError(f"unknown job task {name!r}; tasks: {', '.join(TASKS)}")
    module, function = TASKS[name].split(":")
    fn: Callable[..., dict[str, Any]] = getattr(import_module(module), function)
    return fn


def _task_module(name: str) -> Any:
    task_function(name)  # an unknown task is a ValueError
    return import_module(TASKS[name].split(":")[0])


def arg_specs(task_name: str) -> Mapping[str, ArgSpec] | None:
    """The ``ARGS`` a task's module declares (`bugsift.jobs.args`); None: it takes any plain values."""
    specs: Mapping[str, ArgSpec] | None = getattr(_task_module(task_name), "ARGS", None)
    return specs


def validate_args(
    task_name: str, args: Mapping[str, Any], known_tasks: Collection[str] | None = None
) -> dict[str, Any]:
    """``args`` checked against the ``ARGS`` the task's module declares (`bugsift.jobs.args`) and its
    ``check_combination``; with ``known_tasks`` model task names too. ValueError names what is wrong."""
    checked = check_args(task_name, arg_specs(task_name), args, known_tasks)
    combination = getattr(_task_module(task_name), "check_combination", None)
    if combination is not None:
        combination(checked)
    return checked


def submit(task_name: str, /, settings: Settings | None = None, **args: Any) -> int:
    """Queue a job; returns its id. ``args`` must be plain JSON values (ids and names, not objects) that
    the task accepts (`validate_args`): a bad one fails here, not later in a worker."""
    from bugsift.jobs.backends import get_backend

    settings = settings or Settings()
    task_function(task_name)  # fail now on an unknown task, not later in a worker
    try:
        args = json.loads(json.dumps(args))
    except (TypeError, ValueError) as error:  # objects, NaN, circular values
        raise ValueError(f"job arguments must be plain JSON values: {error}") from None
    args = validate_args(task_name, args)
    database = database_for(settings)
    with database.session() as session:
        row = JobRow(task=task_name, args=args, state="queued", progress={}, log="", attempts=0)
        session.add(row)
        session.flush()
        job_id = row.id
    try:
        get_backend(settings).enqueue(job_id)
    except Exception as error:  # broker down: say so on the row too, rather than leave it queued forever
        with database.session() as session:
            job = session.get(JobRow, job_id)
            assert job is not None
            job.state, job.error, job.finished_at = "failed", f"could not queue: {error}", utcnow()
        raise
    return job_id


def get_job(database: Database, job_id: int) -> JobRow | None:
    with database.session() as session:
        return session.get(JobRow, job_id)


def list_jobs(database: Database, state: str | None = None, limit: int = 50) -> list[JobRow]:
    query = select(JobRow).order_by(JobRow.id.desc()).limit(limit)
    if state:
        query = query.where(JobRow.state == state)
    with database.session() as session:
        return list(session.scalars(query))


# --- running ---------------------------------------------------------------------------------------


@dataclass
class JobContext:
    """What a task function gets besides its arguments: settings, database, progress and log."""

    settings: Settings
    database: Database
    job_id: int | None = None
    lines: list[str] = field(default_factory=list)

    @classmethod
    def standalone(cls, settings: Settings | None = None) -> JobContext:
        """A context for calling a task function directly, without a job row."""
        settings = settings or Settings()
        return cls(settings=settings, database=database_for(settings))

    def progress(self, session: Session | None = None, **values: Any) -> dict[str, Any]:
        """Merge values into the job's progress; inside ``session`` it commits with the caller's batch."""
        if self.job_id is None:
            return values
        if session is None:
            with self.database.session() as own:
                return self.progress(own, **values)
        row = session.get(JobRow, self.job_id)
        assert row is not None
        row.progress = {**row.progress, **values}
        row.heartbeat_at = utcnow()
        return row.progress

    def current_progress(self) -> dict[str, Any]:
        if self.job_id is None:
            return {}
        with self.database.session() as session:
            row = session.get(JobRow, self.job_id)
            return dict(row.progress) if row else {}

    def log(self, message: str) -> None:
        line = f"{utcnow():%Y-%m-%dT%H:%M:%SZ} {message}"
        self.lines.append(line)
        if self.job_id is None:
            return
        with self.database.session() as session:
            row = session.get(JobRow, self.job_id)
            if row is not None:
                row.log = (row.log + line + "\n")[-LOG_LIMIT:]

    def submit(self, task_name: str, **args: Any) -> int | None:
        """Queue a follow-up job (not when running standalone)."""
        if self.job_id is None:
            return None
        return submit(task_name, self.settings, **args)


@dataclass
class Outcome:
    state: str  # done | failed | retry | skipped | busy
    retry_in: float = 0.0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def orphaned(row: JobRow, lease_s: float) -> bool:
    """A running job whose worker is gone: a dead pid on this host, or no heartbeat within the lease."""
    if row.state != "running":
        return False
    host, _, pid = (row.worker or "").rpartition(":")
    if host == socket.gethostname() and pid.isdigit() and int(pid) != os.getpid():
        return not _pid_alive(int(pid))
    beat = row.heartbeat_at or row.started_at
    return beat is None or utcnow() - beat > timedelta(seconds=lease_s)


def _claim(database: Database, job_id: int, lease_s: float) -> tuple[str, JobRow | None]:
    """Compare-and-set the row to running by this worker: ('claimed'|'finished'|'busy'|'missing', row)."""
    with database.session() as session:
        row = session.get(JobRow, job_id)
        if row is None:
            return "missing", None
        if row.state in ("done", "failed"):
            return "finished", row
        if row.state == "running" and not orphaned(row, lease_s):
            return "busy", row
        now = utcnow()
        line = f"{now:%Y-%m-%dT%H:%M:%SZ} attempt {row.attempts + 1} on {worker_name()}\n"
        claimed = session.execute(
            update(JobRow)
            .where(
                JobRow.id == job_id,
                JobRow.state == row.state,
                JobRow.attempts == row.attempts,
            )
            .values(
                state="running",
                worker=worker_name(),
                attempts=row.attempts + 1,
                started_at=now,
                heartbeat_at=now,
                error=None,
                log=(row.log + line)[-LOG_LIMIT:],  # in the claim: one commit less per job
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed != 1:
            return "busy", row
        session.refresh(row)
        return "claimed", row


@contextmanager
def _heartbeat(database: Database, job_id: int, every_s: float) -> Iterator[None]:
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(every_s):
            try:
                with database.session() as session:
                    session.execute(
                        update(JobRow)
                        .where(JobRow.id == job_id, JobRow.worker == worker_name())
                        .values(heartbeat_at=utcnow())
                    )
            except Exception:  # a missed beat is harmless; the next one retries
                continue

    thread = threading.Thread(target=beat, name=f"heartbeat-{job_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def run_job(job_id: int, settings: Settings | None = None) -> Outcome:
    """Run one job to the end (or to a retry); safe to call for a job that is done or running elsewhere."""
    settings = settings or Settings()
    use_settings(settings)  # encodings (when embeddings are on) persist under $BUGSIFT_HOME/cache
    database = database_for(settings)
    status, row = _claim(database, job_id, settings.jobs_lease_s)
    if status in ("missing", "finished"):
        return Outcome("skipped")
    if status == "busy":
        return Outcome("busy", retry_in=settings.jobs_lease_s / 2)
    assert row is not None
    context = JobContext(settings=settings, database=database, job_id=job_id)
    try:
        with _heartbeat(database, job_id, max(0.5, settings.jobs_lease_s / 4)):
            result = task_function(row.task)(context, **row.args)
    except Exception as error:
        detail = "".join(traceback.format_exception_only(error)).strip()
        context.log(f"failed: {detail}")
        retry = row.attempts < settings.jobs_max_attempts
        delay = settings.jobs_retry_backoff_s * 2 ** (row.attempts - 1)
        with database.session() as session:
            job = session.get(JobRow, job_id)
            assert job is not None
            job.state = "queued" if retry else "failed"
            job.error = detail
            job.log = (job.log + traceback.format_exc())[-LOG_LIMIT:]
            if not retry:
                job.finished_at = utcnow()
        return Outcome("retry", retry_in=delay) if retry else Outcome("failed")
    with database.session() as session:
        job = session.get(JobRow, job_id)
        assert job is not None
        job.state = "done"
        job.result = json.loads(json.dumps(result or {}))
        job.finished_at = utcnow()
        job.log = (job.log + f"{job.finished_at:%Y-%m-%dT%H:%M:%SZ} done\n")[-LOG_LIMIT:]
    return Outcome("done")


def requeue_orphans(settings: Settings) -> list[int]:
    """Queue again the running jobs whose worker died (run when a worker starts, then periodically)."""
    from bugsift.jobs.backends import get_backend

    database = database_for(settings)
    requeued = []
    with database.session() as session:
        for row in session.scalars(select(JobRow).where(JobRow.state == "running")):
            if orphaned(row, settings.jobs_lease_s):
                row.state = "queued"
                row.log = (
                    row.log + f"{utcnow():%Y-%m-%dT%H:%M:%SZ} requeued: worker {row.worker} is gone\n"
                )[-LOG_LIMIT:]
                requeued.append(row.id)
    backend = get_backend(settings)
    for job_id in requeued:
        backend.enqueue(job_id)
    return requeued
