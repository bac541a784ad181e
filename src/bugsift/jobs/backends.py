"""The two queues behind `submit`: embedded (Huey on SQLite, the default) and Celery (Redis or RabbitMQ).

Both carry only a job id and call `run_job`; a retry asks the queue to deliver the id again later
(exponential backoff from the settings), so the same task functions behave the same on both.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from functools import lru_cache
from typing import Any, Protocol

from bugsift.jobs.core import Outcome, requeue_orphans, run_job
from bugsift.settings import Settings

BACKENDS = ("embedded", "celery")
RUN_JOB = "bugsift.run_job"


class Backend(Protocol):
    def enqueue(self, job_id: int, delay_s: float = 0.0) -> None: ...

    def run_worker(self, concurrency: int) -> None: ...


def get_backend(settings: Settings) -> Backend:
    if settings.jobs_backend == "embedded":
        return EmbeddedBackend(settings)
    if settings.jobs_backend == "celery":
        return CeleryBackend(settings)
    raise ValueError(
        f"BUGSIFT_JOBS_BACKEND must be one of {', '.join(BACKENDS)}, not {settings.jobs_backend!r}"
    )


def _sweep_orphans(settings: Settings, stop: threading.Event) -> None:
    """Requeue jobs of dead workers now and every half lease, and queue the retraining and the bot passes
    that are due, until the worker stops."""
    from bugsift.jobs.bot_task import queue_due_bot_runs
    from bugsift.jobs.retrain import queue_due_trainings

    while True:
        with contextlib.suppress(Exception):  # the database may be briefly unavailable: next round
            requeue_orphans(settings)
        with contextlib.suppress(Exception):
            queue_due_trainings(settings)
        with contextlib.suppress(Exception):
            queue_due_bot_runs(settings)
        if stop.wait(max(1.0, settings.jobs_lease_s / 2)):
            return


def _start_sweeper(settings: Settings) -> threading.Event:
    stop = threading.Event()
    threading.Thread(target=_sweep_orphans, args=(settings, stop), name="orphan-sweeper", daemon=True).start()
    return stop


# --- embedded: Huey + SQLite -----------------------------------------------------------------------


def _settings_key(settings: Settings) -> str:
    return settings.model_dump_json()


@lru_cache(maxsize=8)
def _huey(settings_json: str) -> Any:
    from huey import SqliteHuey

    settings = Settings.model_validate_json(settings_json)
    settings.home.mkdir(parents=True, exist_ok=True)
    huey = SqliteHuey(
        name=settings.jobs_queue,
        filename=str(settings.home / "jobs-queue.sqlite3"),
        results=False,
        utc=True,
        timeout=settings.sqlite_busy_timeout_ms / 1000,
    )

    @huey.task(name=RUN_JOB)
    def huey_run_job(job_id: int) -> None:
        outcome: Outcome = run_job(job_id, settings)
        if outcome.state in ("retry", "busy"):
            huey_run_job.schedule(args=(job_id,), delay=outcome.retry_in)

    huey.bugsift_run_job = huey_run_job
    return huey


class EmbeddedBackend:
    """Persistent queue in ``jobs-queue.sqlite3`` in the data directory; `bugsift worker` consumes it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.huey = _huey(_settings_key(settings))

    def enqueue(self, job_id: int, delay_s: float = 0.0) -> None:
        task = self.huey.bugsift_run_job
        if delay_s > 0:
            task.schedule(args=(job_id,), delay=delay_s)
        else:
            task(job_id)

    def run_worker(self, concurrency: int) -> None:
        stop = _start_sweeper(self.settings)
        consumer = self.huey.create_consumer(
            workers=concurrency,
            worker_type="process" if concurrency > 1 else "thread",
            periodic=False,
            # An idle consumer polls SQLite with backoff; Huey's 10 s ceiling would delay a webhook's job
            # that long, one poll a second costs nothing.
            initial_delay=0.01,
            max_delay=1.0,
        )
        try:
            consumer.run()
        finally:
            stop.set()


# --- Celery: Redis or RabbitMQ ---------------------------------------------------------------------


@lru_cache(maxsize=8)
def _celery(settings_json: str) -> Any:
    from celery import Celery

    settings = Settings.model_validate_json(settings_json)
    if not settings.broker_url:
        raise ValueError("BUGSIFT_JOBS_BACKEND=celery needs BUGSIFT_BROKER_URL (redis://... or amqp://...)")
    app = Celery("bugsift", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,  # a message is acknowledged after the job ran, not when it was received
        task_reject_on_worker_lost=True,  # a worker killed mid-job gives its message back to the broker
        worker_prefetch_multiplier=1,
        task_ignore_result=True,  # results live in the jobs table
        task_default_queue=settings.jobs_queue,
        broker_connection_retry_on_startup=True,
        # Redis: an unacknowledged message (its worker died) is delivered again after this long.
        broker_transport_options={"visibility_timeout": max(10, int(settings.jobs_lease_s * 2))},
        worker_hijack_root_logger=False,
        enable_utc=True,
    )

    @app.task(name=RUN_JOB, bind=True, max_retries=None)
    def celery_run_job(self: Any, job_id: int) -> None:
        outcome: Outcome = run_job(job_id, settings)
        if outcome.state in ("retry", "busy"):
            raise self.retry(countdown=outcome.retry_in)

    _celery_apps.append(app)
    return app


_celery_apps: list[Any] = []


def close_backends() -> None:
    """Close the broker connections this process opened (tests, and a web server shutting down)."""
    if not _celery_apps:
        return
    from kombu import pools

    for app in _celery_apps:
        app.close()
    pools.reset()  # the publishing connections live in kombu's process-wide pools, not in the app
    _celery_apps.clear()
    _celery.cache_clear()


class CeleryBackend:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = _celery(_settings_key(settings))

    def enqueue(self, job_id: int, delay_s: float = 0.0) -> None:
        self.app.send_task(RUN_JOB, args=[job_id], countdown=delay_s or None, queue=self.settings.jobs_queue)

    def run_worker(self, concurrency: int) -> None:
        stop = _start_sweeper(self.settings)
        try:
            self.app.worker_main(
                [
                    "worker",
                    "--loglevel=INFO",
                    f"--concurrency={concurrency}",
                    f"--queues={self.settings.jobs_queue}",
                    # A node name of its own: two workers named celery@host on one broker fight over
                    # the exclusive pidbox queue (RabbitMQ answers RESOURCE_LOCKED to the second).
                    f"--hostname=bugsift-{os.getpid()}@{socket.gethostname()}",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                ]
            )
        finally:
            stop.set()
