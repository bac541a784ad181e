"""Two hosts simulated on one machine: two data directories sharing only PostgreSQL, the Redis broker and
one models directory (`BUGSIFT_MODELS_PATH`), as docs/deployment.md describes. A model trained by one
host's worker is served by the other's, and a backlog split in shards is classified by both, each report
once."""

from __future__ import annotations

import shutil
from pathlib import Path

from jobs_support import backend_settings, full_bugs, wait_for
from sqlalchemy import func, select

from bugsift.jobs.core import database_for, get_job, submit
from bugsift.settings import Settings
from bugsift.store.models import LabelRow, ModelRow

N_REPORTS = 300


def host(root: Path, name: str, database_url: str, models: Path, queue: str) -> Settings:
    # a lease longer than loading a model on a loaded machine: no job is handed to the other host midway
    settings = backend_settings(
        root / name, "redis", database_url=database_url, models_path=models, jobs_lease_s=60.0
    )
    return settings.model_copy(update={"jobs_queue": queue})


def finished(database: object, job_id: int) -> bool:
    return get_job(database, job_id).state in ("done", "failed")


def model_labels(settings: Settings) -> tuple[int, int]:
    """(model labels, distinct reports they are on): the one model here is `defect`'s."""
    with database_for(settings).session() as session:
        where = (LabelRow.source == "model",)
        total = session.scalar(select(func.count()).select_from(LabelRow).where(*where))
        distinct = session.scalar(select(func.count(func.distinct(LabelRow.report_id))).where(*where))
    return int(total or 0), int(distinct or 0)


def test_a_model_trained_on_one_host_serves_the_other_and_both_share_the_backlog(
    postgres_db, start_worker, tmp_path: Path
) -> None:
    from bugsift.sources.bugzilla import from_rest
    from bugsift.store.reports import upsert_reports

    url = postgres_db.engine.url.render_as_string(hide_password=False)
    shared_models = tmp_path / "shared-models"  # the one mount every host sees at the same path
    queue = f"two-hosts-{tmp_path.name}"
    host_a = host(tmp_path, "host-a", url, shared_models, queue)
    host_b = host(tmp_path, "host-b", url, shared_models, queue)
    with postgres_db.session() as session:
        upsert_reports(session, [from_rest(bug) for bug in full_bugs(N_REPORTS)])

    # Host A's worker trains; the file lands in the shared directory, not in host A's data directory.
    database = database_for(host_a)
    worker_a = start_worker(host_a)
    trained = submit("train", host_a, task="defect")
    wait_for(lambda: finished(database, trained), 240, "train on A", tmp_path)
    assert get_job(database, trained).state == "done", get_job(database, trained).error
    worker_a.stop()
    with postgres_db.session() as session:
        row = session.scalars(select(ModelRow).where(ModelRow.task == "defect")).one()
    assert Path(row.path).parent == shared_models and Path(row.path).is_file()
    # Host A's own disk is another machine's: host B must not need it.
    (tmp_path / "host-a").mkdir(exist_ok=True)
    shutil.move(tmp_path / "host-a", tmp_path / "host-a-elsewhere")

    start_worker(host_b)
    classified = submit("classify", host_b, task="defect")
    database = database_for(host_b)
    wait_for(lambda: finished(database, classified), 120, "classify on B", tmp_path)
    job = get_job(database, classified)
    assert job.state == "done", job.error
    assert job.result["predicted"] > 0 and model_labels(host_b) == (job.result["predicted"],) * 2
    assert not list((tmp_path / "host-b").rglob("*.skops"))

    # Both hosts on one backlog: each shard is one job, each report labelled once.
    shutil.move(tmp_path / "host-a-elsewhere", tmp_path / "host-a")
    with postgres_db.session() as session:
        session.query(LabelRow).filter(LabelRow.source == "model").delete()
    start_worker(host_a)
    shards = [submit("classify", host_a, task="defect", shard=n, shards=2) for n in range(2)]
    wait_for(lambda: all(finished(database, j) for j in shards), 180, "two shards", tmp_path)
    jobs = [get_job(database, j) for j in shards]
    assert [j.state for j in jobs] == ["done", "done"], [j.error for j in jobs]
    everything = job.result["predicted"]
    assert model_labels(host_a) == (everything, everything)  # every report once, none twice
    assert all(j.result["predicted"] > 0 for j in jobs)  # the ids split in two non-empty halves
