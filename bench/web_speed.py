"""Web speed on loopback: the suggest endpoint under 16 concurrent clients (requests/s, p50/p99) and the
form page's server time. Prints a table; not a timed test.

    python bench/web_speed.py [--data ../shared/data] [--clients 16] [--seconds 15] [--threads N]

Trains `defect` on the oldest 300 Mozilla bugs in a temporary data directory, starts `bugsift serve`
(waitress, threads from the setting web_threads unless --threads) in a subprocess with the suggest rate
limit lifted, and drives it with plain HTTP clients in threads (each with its own session cookie and
CSRF token), in the same machine. Two rounds: every request a new text (the model answers each one;
the figure the target is about), then texts repeated as while a reporter pauses (the suggestion cache
answers). Targets (issue 6): >= 100 requests/s and p99 <= 200 ms for suggest; <= 100 ms for the form.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TITLES = [
    "Crash when opening preferences",
    "Add a setting to hide the toolbar",
    "Page renders blank after update",
    "Typo in the about dialog",
]


def train(home: Path, data: Path) -> None:
    from bugsift.learn.lifecycle import train_task
    from bugsift.settings import Settings
    from bugsift.sources import read_reports
    from bugsift.sources.base import Report
    from bugsift.store.db import open_database
    from bugsift.store.reports import upsert_reports

    path = data / "bugzilla-mozilla" / "bugs_compact_labeled.jsonl"
    reports = sorted(
        (r for r in read_reports("bugzilla", path) if isinstance(r, Report)), key=lambda r: r.created_at
    )
    settings = Settings(home=home)
    database = open_database(settings)
    with database.session() as session:
        upsert_reports(session, reports[:300])
    train_task(database, settings, "defect", "is_bug_derived")
    database.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def session(port: int) -> tuple[http.client.HTTPConnection, dict[str, str]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/")
    response = connection.getresponse()
    page = response.read().decode()
    cookie = response.getheader("Set-Cookie", "").split(";", 1)[0]
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    return connection, {"Cookie": cookie, "X-CSRFToken": token, "Content-Type": "application/json"}


def client(
    port: int, stop: float, latencies: list[float], failures: list[int], seed: int, repeat: bool
) -> None:
    connection, headers = session(port)
    i = seed * 100_000
    while time.perf_counter() < stop:
        step = i % 8 if repeat else i  # repeat: 8 distinct texts in all, so nearly every one is cached
        body = json.dumps({"title": TITLES[i % len(TITLES)], "description": f"step {step}: it broke"})
        start = time.perf_counter()
        connection.request("POST", "/suggest", body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        latencies.append(time.perf_counter() - start)
        if response.status != 200:
            failures.append(response.status)
        i += 1


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def drive(port: int, args: argparse.Namespace, repeat: bool) -> tuple[list[float], list[int], float]:
    """One round of ``args.seconds`` with ``args.clients`` client threads: latencies, failures, seconds."""
    latencies: list[float] = []
    failures: list[int] = []
    stop = time.perf_counter() + args.seconds
    workers = [
        threading.Thread(target=client, args=(port, stop, latencies, failures, i, repeat))
        for i in range(args.clients)
    ]
    began = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return latencies, failures, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=15, help="Length of each round.")
    parser.add_argument("--threads", type=int, default=None, help="waitress threads (default: setting).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        train(home, args.data)
        port = free_port()
        env = {**os.environ, "BUGSIFT_HOME": str(home), "BUGSIFT_WEB_SUGGEST_RATE_LIMIT": "100000 per second"}
        server = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from bugsift.web.commands import serve; serve()",
                "--port",
                str(port),
                *(["--threads", str(args.threads)] if args.threads else []),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.2)
            connection, _ = session(port)
            page: list[float] = []
            for _ in range(200):
                start = time.perf_counter()
                connection.request("GET", "/")
                connection.getresponse().read()
                page.append(time.perf_counter() - start)
            rounds = {
                name: drive(port, args, repeat) for name, repeat in (("new", False), ("repeated", True))
            }
        finally:
            server.terminate()
            server.wait(timeout=10)
    print(f"{'measure':<50} {'value':>10}  target")
    for name, (latencies, failures, elapsed) in rounds.items():
        label = f"suggest, {name} texts, requests/s ({args.clients} clients)"
        print(f"{label:<50} {len(latencies) / elapsed:>10.1f}  >= 100")
        print(f"{f'suggest, {name} texts, p50 ms':<50} {percentile(latencies, 0.5) * 1000:>10.1f}")
        print(f"{f'suggest, {name} texts, p99 ms':<50} {percentile(latencies, 0.99) * 1000:>10.1f}  <= 200")
        print(f"{f'suggest, {name} texts, non-200 answers':<50} {len(failures):>10d}  0")
    print(f"{'form page p50 ms':<50} {percentile(page, 0.5) * 1000:>10.1f}  <= 100")
    print(f"{'form page p99 ms':<50} {percentile(page, 0.99) * 1000:>10.1f}")


if __name__ == "__main__":
    main()
