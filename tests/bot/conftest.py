"""The bot tests drive a real Redmine of their own (tests/sync/redmine_server.py, served by Puma), seeded
with real Apache Jira reports: older ones triaged, the newest filed with no category (bot_seed.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "sync"))
sys.path.insert(0, str(HERE.parent / "jobs"))
sys.path.insert(0, str(HERE))

from jobs_support import _dispose_databases  # noqa: E402

__all__ = ["_dispose_databases"]


@pytest.fixture(scope="module")
def redmine(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Iterator[Any]:
    """A Redmine with triaged and untriaged real HIVE issues and a bot user (``server.seed.bot_key``);
    admin's edits are a person's. Skipped without Redmine on a laptop; under CI=true a missing one fails."""
    from bot_seed import seed
    from jobs_support import missing_dependency
    from redmine_server import RedmineServer, puma_problem, redmine_problem

    problem = redmine_problem() or puma_problem()
    if problem:
        missing_dependency(problem)
    server = RedmineServer(tmp_path_factory.mktemp("redmine-bot"), server="puma")
    server.start()
    try:
        server.seed = seed(server, shared_data / "apache-jira")  # type: ignore[attr-defined]
        yield server
    finally:
        server.stop()
