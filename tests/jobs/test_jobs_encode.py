"""The encode job: a sync with BUGSIFT_EMBEDDINGS=on queues it, it fills the encoding cache, and a second
run finds everything there. Needs the real encoder (skipped on a laptop without it, fails under CI=true)."""

from __future__ import annotations

from pathlib import Path

import pytest
from jobs_support import full_bugs, job_settings, serving_in_thread
from sqlalchemy import select
from test_jobs_sync import FakeBugzilla

from bugsift.jobs.core import database_for, get_job, run_job, submit
from bugsift.learn import embeddings
from bugsift.learn.encoding_store import EncodingStore, use_disk_cache
from bugsift.store.job_tables import JobRow

pytestmark = pytest.mark.usefixtures("sentence_model")


def queued_encode_jobs(settings) -> list[JobRow]:  # type: ignore[no-untyped-def]
    with database_for(settings).session() as session:
        return list(session.scalars(select(JobRow).where(JobRow.task == "encode")))


def sync_settings(tmp_path: Path, server: FakeBugzilla, embeddings: str):  # type: ignore[no-untyped-def]
    return job_settings(
        tmp_path / "home",
        bugzilla_url=f"http://127.0.0.1:{server.server_address[1]}",
        bugzilla_api_key="secret-key",
        embeddings=embeddings,
    )


def test_a_sync_with_embeddings_on_queues_an_encode_job_that_fills_the_cache(tmp_path: Path) -> None:
    with serving_in_thread(FakeBugzilla(full_bugs(12))) as server:
        settings = sync_settings(tmp_path, server, "on")
        embeddings.clear_cache()  # other tests of this process may have encoded the same bugs
        try:
            assert run_job(submit("sync", settings), settings).state == "done"
            [job] = queued_encode_jobs(settings)
            assert job.args == {"tracker": "bugzilla"} and job.state == "queued"
            assert run_job(job.id, settings).state == "done"
            result = get_job(database_for(settings), job.id).result
            assert result["reports"] == 12 and result["encoded"]["kind views"] > 12
            cache = settings.home / "cache" / "encodings.sqlite3"
            assert len(EncodingStore(cache, embeddings.DIMENSIONS)) == result["encoded"]["kind views"]
            embeddings.clear_cache()  # a later job in another process: only the file remembers
            again = submit("encode", settings, tracker="bugzilla")
            assert run_job(again, settings).state == "done"
            second = get_job(database_for(settings), again).result
            assert second["encoded"] == {"kind views": 0}
            assert second["cached"] == {"kind views": result["encoded"]["kind views"]}
            progress = get_job(database_for(settings), again).progress
            assert progress["done"] == progress["total"] == 12
        finally:
            use_disk_cache(None)


def test_without_embeddings_on_a_sync_queues_no_encode_job_and_encode_refuses(tmp_path: Path) -> None:
    with serving_in_thread(FakeBugzilla(full_bugs(3))) as server:
        settings = sync_settings(tmp_path, server, "off")
        assert run_job(submit("sync", settings), settings).state == "done"
        assert queued_encode_jobs(settings) == []
        job_id = submit("encode", settings)
        run_job(job_id, settings)
        job = get_job(database_for(settings), job_id)
        assert job.state in ("failed", "queued") and "BUGSIFT_EMBEDDINGS is off" in (job.error or "")
