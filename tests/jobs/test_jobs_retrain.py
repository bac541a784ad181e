"""Retraining on its own: after N human corrections of a model's labels, or on a schedule; never twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from jobs_support import job_settings

from bugsift.jobs.core import database_for, get_job, run_job
from bugsift.jobs.retrain import due_trainings, queue_due_trainings
from bugsift.store.labels import upsert_labels
from bugsift.store.registry import register_model


def _stub_model(settings) -> None:
    with database_for(settings).session() as session:
        register_model(
            session,
            task="stub",
            label="stub",
            mode="filing",
            version=1,
            path=settings.models_dir / "stub-v1.skops",
            params={},
            data={},
            metrics={},
            thresholds={},
        )


def _due(settings, hours_ahead: float = 0.0) -> list[dict]:
    now = datetime.now(UTC) + timedelta(hours=hours_ahead)
    with database_for(settings).session() as session:
        return due_trainings(session, settings, now)


def test_corrections_queue_one_train_job_and_the_new_version_resets_the_count(job_home: Path) -> None:
    settings = job_settings(job_home, train_after_corrections=3)
    _stub_model(settings)
    database = database_for(settings)
    with database.session() as session:
        upsert_labels(session, [(1, "stub", "a"), (2, "stub", "b")], source="human")
        upsert_labels(session, [(3, "other", "c")], source="human")  # another label set: not counted
    assert _due(settings) == []
    with database.session() as session:
        upsert_labels(session, [(3, "stub", "c")], source="human")
    [due] = _due(settings)
    assert (due["task"], due["label"], due["mode"]) == ("stub", "stub", "filing")
    assert due["reason"].startswith("3 human labels since")

    [job_id] = queue_due_trainings(settings)
    assert queue_due_trainings(settings) == []  # already queued: not twice
    job = get_job(database, job_id)
    assert job.task == "train" and job.args == {"task": "stub", "label": "stub", "mode": "filing"}
    assert run_job(job_id, settings).state == "done"
    # The corrections are older than the new version: nothing is due, even past the recent-job window.
    assert _due(settings, hours_ahead=2) == []


def test_schedule_retrains_old_models_and_zero_turns_it_off(job_home: Path) -> None:
    _stub_model(job_settings(job_home))
    scheduled = job_settings(job_home, train_after_corrections=0, train_every_hours=24)
    assert _due(scheduled, hours_ahead=1) == []
    [due] = _due(scheduled, hours_ahead=25)
    assert "older than 24 h" in due["reason"]
    off = job_settings(job_home, train_after_corrections=0, train_every_hours=0)
    assert _due(off, hours_ahead=1000) == []
