"""The seam and the classify/train tasks, run in-process through `run_job` (no worker)."""

from __future__ import annotations

from pathlib import Path

import jobs_stub
import pytest
from jobs_support import job_settings
from sqlalchemy import func, select

from bugsift.jobs.backends import EmbeddedBackend, get_backend
from bugsift.jobs.core import JobContext, database_for, get_job, run_job, submit
from bugsift.jobs.train import held_out_score
from bugsift.store.labels import upsert_labels
from bugsift.store.models import LabelRow, ModelRow


def labels(settings, source: str = "model") -> dict[int, tuple[str, str | None]]:
    with database_for(settings).session() as session:
        rows = session.execute(
            select(LabelRow.report_id, LabelRow.value, LabelRow.model_version).where(
                LabelRow.name == "stub", LabelRow.source == source
            )
        )
        return {r: (v, m) for r, v, m in rows}


def test_submit_validates_task_and_plain_arguments(job_home: Path) -> None:
    settings = job_settings(job_home)
    with pytest.raises(ValueError, match="unknown job task"):
        submit("nope", settings)
    with pytest.raises(ValueError, match="plain JSON"):
        submit("classify", settings, task=object())
    assert isinstance(get_backend(settings), EmbeddedBackend)
    with pytest.raises(ValueError, match="JOBS_BACKEND must be one of"):
        get_backend(job_settings(job_home, jobs_backend="nope"))


def test_classify_stores_model_labels_once_and_keeps_human_labels(job_home: Path) -> None:
    settings = job_settings(job_home)
    database = database_for(settings)
    with database.session() as session:
        upsert_labels(session, [(1, "stub", "human-says")], source="human")
    job_id = submit("classify", settings, task="stub")
    assert get_job(database, job_id).state == "queued"
    assert run_job(job_id, settings).state == "done"
    job = get_job(database, job_id)
    assert job.state == "done" and job.attempts == 1
    assert job.result["predicted"] == 119  # 120 reports, one already labelled by a human
    assert job.progress["done"] == job.progress["total"] == 119
    stored = labels(settings)
    assert len(stored) == 119 and 1 not in stored
    assert {version for _, version in stored.values()} == {"stub:stub:filing:v0"}
    assert labels(settings, "human") == {1: ("human-says", None)}
    # The same job again is a no-op; a new classify job finds nothing left to do.
    assert run_job(job_id, settings).state == "skipped"
    again = submit("classify", settings, task="stub")
    assert run_job(again, settings).state == "done"
    assert get_job(database, again).result["predicted"] == 0


def test_classify_goes_past_batches_that_people_answered_whole(job_home: Path) -> None:
    settings = job_settings(job_home)
    database = database_for(settings)
    with database.session() as session:  # ids 1-40 and 61-70 answered: whole batches of 10 with nothing to do
        answered = [*range(1, 41), *range(61, 71)]
        upsert_labels(session, [(n, "stub", "human-says") for n in answered], source="human")
    job_id = submit("classify", settings, task="stub", batch_size=10, limit=25)
    assert run_job(job_id, settings).state == "done"
    assert sorted(labels(settings)) == [*range(41, 61), *range(71, 76)]  # in id order, limit kept
    rest = submit("classify", settings, task="stub", batch_size=10)
    assert run_job(rest, settings).state == "done"
    assert get_job(database, rest).result["predicted"] == 120 - 50 - 25
    assert not set(labels(settings)) & set(answered)


def test_a_failing_job_is_retried_then_failed(job_home: Path) -> None:
    settings = job_settings(job_home, jobs_max_attempts=2)
    database = database_for(settings)
    job_id = submit("classify", settings, task="no-such-model-task")
    first = run_job(job_id, settings)
    assert first.state == "retry" and first.retry_in == pytest.approx(0.2)
    assert get_job(database, job_id).state == "queued"
    assert run_job(job_id, settings).state == "failed"
    job = get_job(database, job_id)
    assert job.state == "failed" and job.attempts == 2 and "unknown task" in job.error
    assert "Traceback" in job.log


def test_train_promotes_only_a_challenger_that_is_not_worse(job_home: Path) -> None:
    settings = job_settings(job_home)
    context = JobContext.standalone(settings)
    from bugsift.jobs.train import train

    jobs_stub.SCORE["next"] = 0.80
    first = train(context, "stub")
    assert first["promoted"] and first["champion"] is None
    jobs_stub.SCORE["next"] = 0.75
    worse = train(context, "stub")
    assert not worse["promoted"] and worse["active"] == first["challenger"]
    jobs_stub.SCORE["next"] = 0.80
    tie = train(context, "stub")
    assert tie["promoted"] and tie["champion"] == first["challenger"]
    with database_for(settings).session() as session:
        rows = session.execute(select(ModelRow.version, ModelRow.active).order_by(ModelRow.version)).all()
        assert [tuple(r) for r in rows] == [(1, False), (2, False), (3, True)]  # all kept for rollback
        assert session.scalar(select(func.count()).select_from(ModelRow)) == 3


def test_a_training_that_registers_nothing_keeps_the_champion(job_home: Path) -> None:
    from bugsift.jobs.train import train

    context = JobContext.standalone(job_settings(job_home))
    jobs_stub.SCORE["next"] = 0.80
    first = train(context, "stub")
    jobs_stub.SCORE["next"] = None
    try:
        declined = train(context, "stub")
    finally:
        jobs_stub.SCORE["next"] = 0.80
    assert declined["promoted"] is False and declined["challenger"] is None
    assert declined["active"] == first["challenger"] and "baseline did as well" in declined["message"]


def test_held_out_score_reads_each_task_family() -> None:
    assert held_out_score({"test": {"macro_f1": 0.5, "accuracy": 0.9}}) == ("test.macro_f1", 0.5)
    assert held_out_score({"mean": {"model": {"top1": 0.4}}}) == ("mean.model.top1", 0.4)
    assert held_out_score({"other": 1}) is None
    assert held_out_score({"test": {"mae": 1.1, "rmse": 1.4}}) == ("test.mae", 1.1)  # fix-time


def test_a_fix_time_challenger_with_a_larger_error_is_not_better() -> None:
    from bugsift.jobs.train import at_least_as_good

    assert at_least_as_good(("test.mae", 1.10), ("test.mae", 1.20))
    assert not at_least_as_good(("test.mae", 1.25), ("test.mae", 1.20))
    assert at_least_as_good(("test.macro_f1", 0.61), ("test.macro_f1", 0.60))
    assert not at_least_as_good(("test.macro_f1", 0.59), ("test.macro_f1", 0.60))


def test_a_worker_reuses_its_predictor_until_the_active_models_change(job_home: Path) -> None:
    from bugsift.jobs.classify import cached_predictor
    from bugsift.jobs.train import train
    from bugsift.learn.tasks import TaskOptions

    settings = job_settings(job_home)
    database = database_for(settings)
    first = cached_predictor(database, "stub", TaskOptions())
    assert cached_predictor(database, "stub", TaskOptions()) is first
    jobs_stub.SCORE["next"] = 0.8
    assert train(JobContext.standalone(settings), "stub")["promoted"]
    second = cached_predictor(database, "stub", TaskOptions())
    assert second is not first and second.version_name != first.version_name
