"""A Redis broker that dies (SIGKILL) under a running Celery worker and comes back on the same port:
the running job and the job still queued in the broker both finish, and the queue works afterwards.

The test runs its own redis-server on a free port (append-only file, fsync always, like a broker that
must not lose messages); the shared Redis on 6379 is never touched.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from jobs_support import job_settings, missing_dependency, reachable, wait_for
from sqlalchemy import select

from bugsift.jobs.core import database_for, get_job, submit
from bugsift.store.job_tables import JobRow


class RedisServer:
    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            missing_dependency("redis-server is not installed (apt-get install redis-server)")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        directory.mkdir(parents=True, exist_ok=True)
        self.command = [
            str(binary),
            "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(directory),
            "--appendonly", "yes", "--appendfsync", "always", "--save", "",
        ]  # fmt: skip
        self.log = directory / "redis.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(self.command, stdout=out, stderr=subprocess.STDOUT)
        wait_for(lambda: reachable("127.0.0.1", self.port), 10, "redis-server to listen")

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    if server.process and server.process.poll() is None:
        server.process.terminate()
        server.process.wait(10)


def test_a_broker_that_dies_and_comes_back_loses_no_job(
    job_home: Path, start_worker, redis_server, tmp_path
) -> None:
    settings = job_settings(
        job_home, jobs_backend="celery", broker_url=redis_server.url, classify_batch_size=10
    )
    database = database_for(settings)
    running = submit("classify", settings, task="stub")
    start_worker(settings, STUB_DELAY_S="0.25")  # 12 batches: about 3 s
    wait_for(lambda: get_job(database, running).state == "running", 30, "the first job to start", tmp_path)
    queued = submit("notify", settings)  # waits in the broker behind the running job (prefetch 1)
    redis_server.kill9()
    time.sleep(1.0)
    assert get_job(database, queued).state == "queued"
    with pytest.raises(Exception, match=r"(?i)connect"):  # while it is down, submit says so ...
        submit("notify", settings)
    with database.session() as session:  # ... and its row is failed, not left queued forever
        lost = session.scalar(select(JobRow).order_by(JobRow.id.desc()).limit(1))
        assert lost.state == "failed" and lost.error.startswith("could not queue")
    redis_server.start()  # same port, same append-only file
    wait_for(lambda: get_job(database, running).state == "done", 60, "the running job", tmp_path)
    wait_for(lambda: get_job(database, queued).state == "done", 60, "the queued job", tmp_path)
    assert get_job(database, running).result["predicted"] == 120
    after = submit("notify", settings)
    wait_for(lambda: get_job(database, after).state == "done", 60, "a job submitted afterwards", tmp_path)
