"""Helpers and fixtures of the job tests: a store with real reports, the stub task, workers, brokers."""

from __future__ import annotations

import lzma
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from itertools import islice
from pathlib import Path

import jobs_stub
import pytest

from bugsift.jobs import core
from bugsift.jobs.backends import close_backends
from bugsift.jobs.core import database_for
from bugsift.settings import Settings

HERE = Path(__file__).resolve().parent

IN_CI = os.environ.get("CI", "").lower() == "true"
REPO = HERE.parents[1]
SHARED_DATA = Path(os.environ.get("BUGSIFT_SHARED_DATA", REPO.parent / "shared" / "data"))
BUGZILLA = SHARED_DATA / "bugzilla-mozilla"
WORKER_BOOT = (
    "import sys; sys.path.insert(0, {here!r}); import jobs_stub; jobs_stub.register(); "
    "from bugsift.jobs.commands import cli; cli(['worker'])"
)


def missing_dependency(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


def full_bugs(count: int) -> list[dict]:
    """The first ``count`` real Bugzilla REST bugs (with comments and history) of the shared data."""
    import json

    path = BUGZILLA / "bugs_full_add08f170.jsonl.xz"
    if not path.is_file():
        missing_dependency(f"shared data not found at {path}")
    with lzma.open(path, "rt") as fh:
        return [json.loads(line) for line in islice(fh, count)]


def job_settings(home: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "home": home,
        "jobs_queue": f"bugsift-test-{uuid.uuid4().hex[:8]}",
        "jobs_retry_backoff_s": 0.2,
        "jobs_lease_s": 5.0,
        "classify_batch_size": 20,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def settings_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUGSIFT_")}
    for name, value in settings.model_dump().items():
        if value is not None:
            env[f"BUGSIFT_{name.upper()}"] = str(value).lower() if isinstance(value, bool) else str(value)
    env["PYTHONUNBUFFERED"] = "1"
    return env


BROKERS = {
    "redis": ("127.0.0.1", 6379, "redis://127.0.0.1:6379/0"),
    "rabbitmq": ("127.0.0.1", 5672, "amqp://guest:guest@127.0.0.1:5672//"),
}


def backend_settings(home: Path, backend: str, **overrides: object):
    if backend == "embedded":
        return job_settings(home, **overrides)
    host, port, url = BROKERS[backend]
    if not reachable(host, port):
        missing_dependency(f"{backend} broker not reachable at {host}:{port}")
    return job_settings(home, jobs_backend="celery", broker_url=url, **overrides)


@pytest.fixture
def job_home(tmp_path: Path) -> Path:
    """A data directory whose store holds 120 real Bugzilla reports (the first of the shared dump)."""
    from bugsift.sources.bugzilla import from_rest
    from bugsift.store.reports import upsert_reports

    settings = job_settings(tmp_path / "home")
    database = database_for(settings)
    with database.session() as session:
        upsert_reports(session, [from_rest(bug) for bug in full_bugs(120)])
    return tmp_path / "home"


class Worker:
    """A `bugsift worker` process (in its own process group, so a kill -9 takes its children too)."""

    def __init__(self, settings: Settings, log: Path, extra_env: dict[str, str] | None = None) -> None:
        env = {**settings_env(settings), **(extra_env or {})}
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-c", WORKER_BOOT.format(here=str(HERE))],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill9(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill9()


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    workers: list[Worker] = []

    def start(settings: Settings, **env: str) -> Worker:
        worker = Worker(settings, tmp_path / f"worker{len(workers)}.log", env)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


def wait_for(condition: Callable[[], object], timeout: float, what: str, logs: Path | None = None) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    detail = ""
    if logs:
        detail = "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(logs.glob("worker*.log")))
    raise AssertionError(f"timed out waiting for {what}\n{detail}")


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(autouse=True)
def _dispose_databases() -> Iterator[None]:
    yield
    close_backends()
    for database in core._databases.values():
        database.dispose()
    core._databases.clear()


@pytest.fixture(autouse=True, scope="module")
def stub_task() -> Iterator[None]:
    """The stand-in model task, registered only while the job tests run (the registry is global)."""
    jobs_stub.register()
    yield
    jobs_stub.unregister()


class JsonHandler(BaseHTTPRequestHandler):
    """Base of the tests' fake tracker APIs: quiet, and one way to send a JSON answer."""

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def serving_in_thread(server: HTTPServer) -> Iterator[HTTPServer]:
    """Serve ``server`` from a thread for the duration of the block, then shut it down and close it."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
