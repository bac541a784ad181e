"""Redmine sync speed: a local Redmine 5 (Debian's package, its own database copy and port) seeded with
real Apache Jira reports, then full sync cycles (list pages + one /issues/ID.json with journals and
relations per issue) timed for 1 and 4 detail threads.

    .venv/bin/python bench/redmine_sync_speed.py [--issues 150] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "sync"))

from redmine_seed import seed  # noqa: E402
from redmine_server import RedmineServer, redmine_problem  # noqa: E402

from bugsift.jobs.sync_task import run_foreground  # noqa: E402
from bugsift.settings import Settings  # noqa: E402


def one_cycle(server: RedmineServer, home: Path, workers: int) -> tuple[float, dict]:
    settings = Settings(
        home=home,
        redmine_url=server.url,
        redmine_api_key=server.api_key,
        redmine_project="hive",
        redmine_sync_threads=workers,
        embeddings="off",
    )
    start = time.perf_counter()
    result = run_foreground(settings, {"source": "redmine"})
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issues", type=int, default=150)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    args = parser.parse_args()
    problem = redmine_problem()
    if problem:
        sys.exit(problem)
    with tempfile.TemporaryDirectory() as tmp:
        server = RedmineServer(Path(tmp) / "redmine")
        server.start()
        try:
            seeded = seed(server, args.data / "apache-jira", args.issues)
            print(
                f"seeded {len(seeded.ids)} issues ({len(seeded.edited)} edited, "
                f"{len(seeded.duplicates)} duplicates)"
            )
            print("| detail threads | issues | seconds | issues/s |")
            print("| --- | --- | --- | --- |")
            for workers in (1, 4, 8):
                seconds, result = one_cycle(server, Path(tmp) / f"home-{workers}", workers)
                issues = result["imported"] + result["updated"] + result["unchanged"]
                print(f"| {workers} | {issues} | {seconds:.2f} | {issues / seconds:.0f} |")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
