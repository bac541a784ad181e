"""Redmine sync speed: a local Redmine 5 (Debian's package, its own database copy and port) seeded with
real Apache Jira reports, then full sync cycles (list pages with relations + one /issues/ID.json with
journals and relations per issue that can have journals) timed by number of detail threads.

Two states of the same issues: as seeded (every fifth issue edited, both ends of the duplicate pairs
related; the others never touched, so they need no detail request), then "all edited" after a note and a
status change on every issue, as in a tracker where most issues have been closed or commented: every
issue then gets its detail request.

Served by Puma in cluster mode (2 workers, as production Redmine runs) when Debian's ``puma`` is installed,
otherwise by WEBrick; ``--server`` chooses. Each row is REPEAT cycles (the range: the machine is shared),
with the CPU Redmine and this process spent per issue, which the other work on the machine does not
change much.

    .venv/bin/python bench/redmine_sync_speed.py [--issues 150] [--server puma|webrick] [--data DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "sync"))

from redmine_seed import seed  # noqa: E402
from redmine_server import RedmineServer, puma_problem, redmine_problem  # noqa: E402

from bugsift.jobs.sync_task import run_foreground  # noqa: E402
from bugsift.settings import Settings  # noqa: E402

THREADS = (1, 2, 4, 8)
REPEAT = 2  # cycles per row: the machine is shared, so the table gives the range
CLOSED = 5  # Redmine's default "Closed" status


@dataclass
class Cycle:
    seconds: float
    issues: int
    details: str  # "57 of 150": detail requests of listed issues
    redmine_cpu_s: float  # CPU of the Redmine processes (Puma's master and workers) during the cycle
    client_cpu_s: float  # CPU of this process: HTTP, JSON, mapping, upsert (and the new home's database)


def process_group_cpu_s(pgid: int) -> float:
    """user + system CPU seconds of the live processes of a process group (Redmine's server and workers)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def one_cycle(server: RedmineServer, home: Path, workers: int) -> Cycle:
    """One full first cycle into an empty home, timed, with the CPU each side spent on it."""
    settings = Settings(
        home=home,
        redmine_url=server.url,
        redmine_api_key=server.api_key,
        redmine_project="hive",
        redmine_sync_threads=workers,
        embeddings="off",
    )
    logs: list[str] = []
    assert server.process is not None
    redmine_cpu, client_cpu = process_group_cpu_s(server.process.pid), time.process_time()
    start = time.perf_counter()
    result = run_foreground(settings, {"source": "redmine"}, on_log=logs.append)
    seconds = time.perf_counter() - start
    detail_line = next((line for line in logs if "read one by one" in line), "")
    return Cycle(
        seconds=seconds,
        issues=result["imported"] + result["updated"] + result["unchanged"],
        details=detail_line.split(" listed")[0],
        redmine_cpu_s=process_group_cpu_s(server.process.pid) - redmine_cpu,
        client_cpu_s=time.process_time() - client_cpu,
    )


def edit_all(server: RedmineServer, ids: list[int]) -> None:
    """A note and a status change on every issue (each one then has journals)."""
    for redmine_id in ids:
        edit = {"status_id": CLOSED, "notes": "Fixed in the next release."}
        server.api("PUT", f"/issues/{redmine_id}.json", {"issue": edit})


def table(server: RedmineServer, tmp: Path, state: str) -> None:
    for workers in THREADS:
        cycles = [one_cycle(server, tmp / f"home-{state}-{workers}-{run}", workers) for run in range(REPEAT)]
        fast, slow = min(cycles, key=lambda c: c.seconds), max(cycles, key=lambda c: c.seconds)
        issues = fast.issues
        redmine_ms = 1000 * min(c.redmine_cpu_s for c in cycles) / issues
        client_ms = 1000 * min(c.client_cpu_s for c in cycles) / issues
        rate = f"{issues / slow.seconds:.0f}-{issues / fast.seconds:.0f}"
        print(
            f"| {state} | {workers} | {issues} | {fast.details} | {fast.seconds:.2f}-{slow.seconds:.2f} "
            f"| {rate} | {redmine_ms:.1f} + {client_ms:.1f} |",
            flush=True,
        )


def pick_server(wanted: str | None) -> str:
    if wanted:
        return wanted
    problem = puma_problem()
    if problem:
        print(f"serving with WEBrick: {problem}")
        return "webrick"
    return "puma"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issues", type=int, default=150)
    parser.add_argument("--server", choices=("puma", "webrick"))
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    args = parser.parse_args()
    problem = redmine_problem() or (puma_problem() if args.server == "puma" else None)
    if problem:
        sys.exit(problem)
    kind = pick_server(args.server)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        server = RedmineServer(tmp / "redmine", server=kind)
        server.start()
        try:
            seeded = seed(server, args.data / "apache-jira", args.issues)
            workers = f", {server.workers} workers" if kind == "puma" else ""
            print(
                f"Redmine served by {kind}{workers}; seeded {len(seeded.ids)} issues "
                f"({len(seeded.edited)} edited, {len(seeded.duplicates)} duplicate relations)"
            )
            print(
                "| issues | detail threads | synced | detail requests | seconds | issues/s "
                "| CPU ms per issue: Redmine + client |"
            )
            print("| --- | --- | --- | --- | --- | --- | --- |")
            table(server, tmp, "as seeded")
            edit_all(server, sorted(seeded.ids.values()))
            table(server, tmp, "all edited")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
