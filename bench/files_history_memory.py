"""Memory of the files training's history read: the reports with fixed files streamed from the store
(`files.task.load_history`, 0.16) against every stored report read first and filtered after (up to 0.15).
Prints a table; not a timed test.

    nice -n 10 .venv/bin/python bench/files_history_memory.py [--data ../shared/data]

The store: the 32,721 Apache Jira reports in a fresh SQLite file, 1,250 of them with fixed files.
Peak Python allocations (tracemalloc) while each read runs, and the reports it holds at the end.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from component_accuracy import DEFAULT_DATA

from bugsift.ingest import import_reports
from bugsift.learn.files.task import load_history
from bugsift.learn.tasks import TaskOptions
from bugsift.settings import Settings
from bugsift.store.db import Database, open_database
from bugsift.store.reports import iter_reports


def read_all_then_filter(database: Database) -> list[Any]:
    """What 0.15 did: every stored report in memory, then those with fixed files kept."""
    with database.session() as session:
        reports = [r for _, r in iter_reports(session)]
    return [r for r in reports if r.fixed_files]


def measure(name: str, read: Callable[[], Any]) -> str:
    tracemalloc.start()
    started = time.perf_counter()
    result = read()
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    held = sum(len(v) for v in result.values()) if isinstance(result, dict) else len(result)
    return f"| {name} | {held:,} | {peak / 2**20:,.0f} | {seconds:.1f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home))
        database = open_database(settings)
        import_reports(database, "jira", [args.data / "apache-jira" / "jira_issues.jsonl.xz"])
        print("| read | reports held | peak MB (tracemalloc) | s |")
        print("|---|---:|---:|---:|")
        print(measure("every report, then filtered (0.15)", lambda: read_all_then_filter(database)))
        print(measure("streamed, fixed files only (0.16)", lambda: load_history(database, TaskOptions())))
        window = settings.train_max_reports
        print(measure(f"streamed, window {window:,}", lambda: load_history(database, TaskOptions(), window)))
        database.dispose()


if __name__ == "__main__":
    main()
