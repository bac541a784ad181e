"""A real Redmine 5 (Debian's ``redmine`` + ``redmine-sqlite``) for the sync tests and the bench.

Each instance gets its own copy of the packaged SQLite database (already migrated, with the default
trackers, statuses and priorities: copying it takes milliseconds where ``rake db:migrate`` +
``redmine:load_default_data`` take a minute), pointed at by ``DATABASE_URL`` (which Rails prefers to
config/database.yml), and a free port. The copy is prepared with sqlite3 before Rails starts: the REST API
on, login required (so that a wrong key is a 401, as on a private Redmine, not an anonymous visitor),
and an API key for ``admin``.

Servers: WEBrick (``gem "webrick"`` in /usr/share/redmine/Gemfile.local), one Ruby process, for the tests;
or Puma in cluster mode (Debian's ``puma``, ``gem "puma"`` in Gemfile.local), 2 workers (a core each) as a
production Redmine is served, for the bench. WEBrick also writes a response's headers and body as two
packets, so a kept-alive connection waits for the client's delayed ACK (about 40 ms a request); Puma does
not.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import requests

REDMINE_ROOT = Path(os.environ.get("BUGSIFT_REDMINE_ROOT", "/usr/share/redmine"))
PACKAGED_DB = Path(
    os.environ.get(
        "BUGSIFT_REDMINE_DB", "/var/lib/dbconfig-common/sqlite3/redmine/instances/default/redmine_default"
    )
)
START_TIMEOUT_S = 90.0
PUMA_THREADS = 4  # per worker: one Ruby runs one request at a time, the others wait on I/O


def redmine_problem() -> str | None:
    """Why no Redmine can be started here (None when it can)."""
    if not (REDMINE_ROOT / "bin" / "rails").is_file():
        return f"no Redmine at {REDMINE_ROOT} (apt-get install redmine redmine-sqlite)"
    if not PACKAGED_DB.is_file():
        return f"no packaged Redmine SQLite database at {PACKAGED_DB} (apt-get install redmine-sqlite)"
    local = REDMINE_ROOT / "Gemfile.local"
    if not local.is_file() or "webrick" not in local.read_text():
        return f'{local} must say gem "webrick" (see .ci/run)'
    if "puma" in local.read_text() and shutil.which("puma") is None:
        return f'{local} says gem "puma" but puma is missing: Bundler stops Redmine (apt-get install puma)'
    if shutil.which("ruby") is None:
        return "no ruby on PATH"
    return None


def puma_problem() -> str | None:
    """Why Redmine cannot be served by Puma here (None when it can)."""
    local = REDMINE_ROOT / "Gemfile.local"
    if shutil.which("puma") is None:
        return "no puma on PATH (apt-get install puma)"
    if not local.is_file() or "puma" not in local.read_text():
        return f'{local} must say gem "puma" (see .ci/run)'
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedmineServer:
    """One Redmine instance: its own database file and port; `start`, `stop`, and a small REST helper."""

    def __init__(self, workdir: Path, server: str = "webrick", workers: int = 2) -> None:
        if server not in ("webrick", "puma"):
            raise ValueError(f"server must be webrick or puma, not {server!r}")
        self.server, self.workers = server, workers
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.database = workdir / "redmine.sqlite3"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api_key = secrets.token_hex(20)
        self.process: subprocess.Popen[bytes] | None = None
        self.session = requests.Session()
        self.session.headers.update({"X-Redmine-API-Key": self.api_key, "Content-Type": "application/json"})
        self._prepare_database()

    def _prepare_database(self) -> None:
        shutil.copyfile(PACKAGED_DB, self.database)
        with sqlite3.connect(self.database) as db:
            for name in ("rest_api_enabled", "login_required"):
                db.execute("DELETE FROM settings WHERE name = ?", (name,))
                db.execute(
                    "INSERT INTO settings (name, value, updated_on) VALUES (?, '1', datetime('now'))", (name,)
                )
            admin = db.execute("SELECT id FROM users WHERE login = 'admin'").fetchone()[0]
            db.execute(
                "INSERT INTO tokens (user_id, action, value, created_on, updated_on) "
                "VALUES (?, 'api', ?, datetime('now'), datetime('now'))",
                (admin, self.api_key),
            )

    def start(self) -> None:
        env = {**os.environ, "DATABASE_URL": f"sqlite3:{self.database}", "RAILS_ENV": "production"}
        log = open(self.workdir / "server.log", "ab")  # noqa: SIM115 (the server owns it until stop)
        self.process = subprocess.Popen(
            self._command(),
            cwd=REDMINE_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self._wait_up()

    def _command(self) -> list[str]:
        pidfile = str(self.workdir / "server.pid")
        if self.server == "puma":
            # Cluster mode: forked workers, each its own Ruby (and lock), as Redmine is served in production.
            threads = f"{PUMA_THREADS}:{PUMA_THREADS}"
            bind = f"tcp://127.0.0.1:{self.port}"
            command = ["puma", "-w", str(self.workers), "-t", threads, "-e", "production", "-b", bind]
            return [*command, "--pidfile", pidfile, "config.ru"]
        command = ["ruby", "bin/rails", "server", "-u", "webrick", "-e", "production"]
        return [*command, "-p", str(self.port), "-b", "127.0.0.1", "-P", pidfile]

    def _wait_up(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"Redmine exited with {self.process.returncode}: {self.log_tail()}")
            try:
                if self.session.get(f"{self.url}/trackers.json", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"Redmine did not answer within {START_TIMEOUT_S:.0f}s: {self.log_tail()}")

    def log_tail(self) -> str:
        path = self.workdir / "server.log"
        return path.read_text(errors="replace")[-1500:] if path.is_file() else ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        (self.workdir / "server.pid").unlink(missing_ok=True)

    # --- REST ----------------------------------------------------------------------------------------

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.session.request(
            method, f"{self.url}{path}", data=json.dumps(body) if body is not None else None, timeout=30
        )
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.json() if response.content.strip() else None
