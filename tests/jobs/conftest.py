"""The job tests' fixtures live in jobs_support (importable by the test modules, unlike a conftest)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from jobs_support import _dispose_databases, job_home, start_worker, stub_task

__all__ = ["_dispose_databases", "job_home", "start_worker", "stub_task"]
