"""`bugsift serve --worker` for real: a subprocess serving on a free port runs the job the API queues,
and Ctrl-C (SIGINT) stops the server and the worker together."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from bugsift.settings import Settings
from bugsift.store.db import open_database
from bugsift.store.reports import upsert_reports
from bugsift.web import accounts
from bugsift.web.suggest import parse_report

from .conftest import PASSWORD, register


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _call(port: int, method: str, path: str, token: str, body: Any = None) -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    connection.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
    response = connection.getresponse()
    status, data = response.status, json.loads(response.read() or b"null")
    connection.close()
    return status, data


@pytest.mark.slow
def test_serve_with_worker_runs_queued_jobs_and_stops_on_ctrl_c(
    tmp_path: Path, defect_model: dict[str, Any]
) -> None:
    home = tmp_path / "home"
    database = open_database(Settings(home=home))
    try:
        register(database, defect_model)
        with database.session() as session:
            upsert_reports(session, [parse_report({"id": "w1", "title": "Crash when printing a page"})])
            admin = accounts.create_user(session, "admin", PASSWORD, "admin")
            token = accounts.create_token(session, admin, "ops", ("read", "jobs"))[1]
    finally:
        database.dispose()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUGSIFT_")}
    env["BUGSIFT_HOME"] = str(home)
    command = [
        sys.executable,
        "-m",
        "bugsift.cli",
        "serve",
        "--worker",
        "--port",
        str(port),
        "--threads",
        "4",
    ]
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert server.poll() is None, server.communicate()
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        status, job = _call(
            port, "POST", "/api/v1/jobs", token, {"task": "classify", "args": {"task": "defect"}}
        )
        assert status == 202, job
        while job["state"] in ("queued", "running"):
            assert time.monotonic() < deadline, f"the job was not run: {job}"
            time.sleep(0.3)
            status, job = _call(port, "GET", f"/api/v1/jobs/{job['id']}", token)
        assert job["state"] == "done", job
        assert job["result"]["predicted"] == 1
        assert job["worker"].endswith(f":{server.pid}")  # run inside the serving process
    finally:
        server.send_signal(signal.SIGINT)
        try:
            out, err = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            out, err = server.communicate()
            pytest.fail(f"serve --worker did not stop on SIGINT:\n{err}")
    assert server.returncode == 0, err
    assert f"http://127.0.0.1:{port}/" in out and "run here" in err
