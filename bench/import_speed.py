"""Import speed: the 32,721 Apache Jira reports into a fresh SQLite (and optionally PostgreSQL) store.

    python bench/import_speed.py [--data ../shared/data] [--runs 3] [--postgres URL]

Prints one row per backend: median wall seconds over the runs, reports/s, the median CPU seconds
(user + sys of the importing process and its reader child during `import_reports`) and the peak RSS
of a run (the larger of the importer and its reader).
Each run is a child process, so its peak memory and CPU time are its own.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import json, resource, sys, time
from pathlib import Path
from bugsift.ingest import import_reports
from bugsift.settings import Settings
from bugsift.store.db import open_database
path, home, url = sys.argv[1], sys.argv[2], sys.argv[3] or None
database = open_database(Settings(home=Path(home), database_url=url))
def cpu():  # this process and its finished children: a big file is read by a child process
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
start, cpu_start = time.perf_counter(), cpu()
summary = import_reports(database, "jira", [Path(path)])
seconds, cpu_seconds = time.perf_counter() - start, cpu() - cpu_start
with open("/proc/self/status") as status:  # VmHWM: ru_maxrss also counts the parent at the fork
    own_mb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
peak_mb = max(own_mb, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
print(json.dumps({"seconds": seconds, "n": summary.counts.imported, "rejected": len(summary.rejected),
                  "cpu": cpu_seconds, "peak_mb": peak_mb}))
"""


def run_once(path: Path, url: str | None) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as home:
        output = subprocess.run(
            [sys.executable, "-c", CHILD, str(path), home, url or ""],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    return json.loads(output.strip().splitlines()[-1])


def fresh_postgres(url: str) -> tuple[str, str]:
    name = f"bench_{uuid.uuid4().hex[:10]}"
    with create_engine(url, isolation_level="AUTOCOMMIT").connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    return url.rsplit("/", 1)[0] + f"/{name}", name


def drop_postgres(url: str, name: str) -> None:
    with create_engine(url, isolation_level="AUTOCOMMIT").connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--postgres", help="Also measure on this PostgreSQL server URL (a scratch db is made)."
    )
    args = parser.parse_args()
    path = args.data / "apache-jira" / "jira_issues.jsonl.xz"
    backends: list[tuple[str, str | None]] = [("sqlite", None)]
    if args.postgres:
        backends.append(("postgresql", args.postgres))
    print(
        f"{'backend':<12}{'reports':>9}{'median s':>10}{'reports/s':>11}{'CPU s':>8}{'peak MB':>9}"
        "   runs (wall s / CPU s)"
    )
    for name, url in backends:
        results = []
        for _ in range(args.runs):
            if url:
                scratch, db_name = fresh_postgres(url)
                try:
                    results.append(run_once(path, scratch))
                finally:
                    drop_postgres(url, db_name)
            else:
                results.append(run_once(path, None))
        seconds = statistics.median(r["seconds"] for r in results)
        n = int(results[0]["n"])
        cpu = statistics.median(r["cpu"] for r in results)
        peak = max(r["peak_mb"] for r in results)
        runs = ", ".join(f"{r['seconds']:.1f}/{r['cpu']:.1f}" for r in results)
        print(f"{name:<12}{n:>9}{seconds:>10.1f}{n / seconds:>11.0f}{cpu:>8.1f}{peak:>9.0f}   {runs}")


if __name__ == "__main__":
    main()
