"""The sync tests share the job tests' helpers (jobs_support) and their database cleanup."""

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "jobs"))
sys.path.insert(0, str(HERE))

from jobs_support import _dispose_databases, job_home, start_worker, stub_task  # noqa: E402

__all__ = ["_dispose_databases", "job_home", "start_worker", "stub_task"]


# --- a real Redmine (Debian's redmine + redmine-sqlite), one per test session -------------------------

import pytest  # noqa: E402

REDMINE_SEED_COUNT = 150


@pytest.fixture(scope="session")
def redmine(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Iterator[Any]:
    """A Redmine of its own (database copy, free port) seeded with real Apache Jira reports; stopped at the
    end. Skipped without Redmine on a laptop; under CI=true a missing Redmine fails."""
    from jobs_support import missing_dependency
    from redmine_seed import seed
    from redmine_server import RedmineServer, redmine_problem

    problem = redmine_problem()
    if problem:
        missing_dependency(problem)
    server = RedmineServer(tmp_path_factory.mktemp("redmine"))
    server.start()
    try:
        server.seeded = seed(server, shared_data / "apache-jira", REDMINE_SEED_COUNT)  # type: ignore[attr-defined]
        yield server
    finally:
        server.stop()
