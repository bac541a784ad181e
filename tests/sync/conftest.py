"""The sync tests share the job tests' helpers (jobs_support) and their database cleanup."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "jobs"))
sys.path.insert(0, str(HERE))

from collections.abc import Iterator  # noqa: E402

import jobs_stub  # noqa: E402
import pytest  # noqa: E402
from jobs_support import _dispose_databases, job_home, start_worker  # noqa: E402

__all__ = ["_dispose_databases", "job_home", "start_worker", "stub_task"]


@pytest.fixture(autouse=True, scope="module")
def stub_task() -> Iterator[None]:
    """The job tests' stand-in model task, for classify jobs queued by sync and webhooks."""
    jobs_stub.register()
    yield
    jobs_stub.unregister()
