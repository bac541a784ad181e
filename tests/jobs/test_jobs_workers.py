"""Real worker processes: the embedded backend (Huey on SQLite) and Celery on Redis and on RabbitMQ,
including a worker killed with SIGKILL in the middle of a classify job."""

from __future__ import annotations

from pathlib import Path

import pytest
from jobs_support import backend_settings, wait_for
from sqlalchemy import func, select

from bugsift.jobs.core import database_for, get_job, submit
from bugsift.store.models import LabelRow


def model_label_count(settings) -> int:
    with database_for(settings).session() as session:
        return session.scalar(
            select(func.count())
            .select_from(LabelRow)
            .where(LabelRow.name == "stub", LabelRow.source == "model")
        )


@pytest.mark.parametrize("backend", ["embedded", "redis", "rabbitmq"])
def test_a_worker_process_runs_submitted_jobs(job_home: Path, start_worker, backend: str) -> None:
    settings = backend_settings(job_home, backend)
    job_id = submit("classify", settings, task="stub")  # queued before any worker runs: nothing is lost
    start_worker(settings)
    database = database_for(settings)
    wait_for(lambda: get_job(database, job_id).state == "done", 45, f"job on {backend}", job_home.parent)
    assert get_job(database, job_id).result["predicted"] == 120
    assert model_label_count(settings) == 120


@pytest.mark.parametrize("backend", ["embedded", "redis"])
def test_a_worker_killed_mid_classify_is_restarted_without_lost_or_duplicated_work(
    job_home: Path, start_worker, backend: str, tmp_path: Path
) -> None:
    settings = backend_settings(job_home, backend, classify_batch_size=10)
    predicted_log = tmp_path / "predicted.txt"
    env = {"STUB_DELAY_S": "0.25", "STUB_LOG": str(predicted_log)}
    database = database_for(settings)
    job_id = submit("classify", settings, task="stub")
    first = start_worker(settings, **env)
    wait_for(lambda: (get_job(database, job_id).progress.get("done") or 0) >= 30, 45, "progress", tmp_path)
    first.kill9()
    job = get_job(database, job_id)
    assert job.state == "running" and 30 <= job.progress["done"] < 120
    start_worker(settings, **env)
    wait_for(lambda: get_job(database, job_id).state == "done", 60, "the restarted job", tmp_path)
    job = get_job(database, job_id)
    assert job.attempts == 2
    assert job.progress["done"] == job.progress["total"] == 120
    assert model_label_count(settings) == 120
    predicted = predicted_log.read_text().split()
    assert len(set(predicted)) == 120
    assert len(predicted) - 120 <= 10  # at most the one uncommitted batch was predicted again
