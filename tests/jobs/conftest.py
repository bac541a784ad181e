"""The job tests' fixtures live in jobs_support (importable by the test modules, unlike a conftest)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from collections.abc import Iterator

import jobs_stub
import pytest
from jobs_support import _dispose_databases, job_home, start_worker

__all__ = ["_dispose_databases", "job_home", "start_worker", "stub_task"]


@pytest.fixture(autouse=True, scope="module")
def stub_task() -> Iterator[None]:
    """The stand-in model task, registered only while the job tests run (the registry is global)."""
    jobs_stub.register()
    yield
    jobs_stub.unregister()
