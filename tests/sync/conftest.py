"""The sync tests share the job tests' helpers (jobs_support) and their database cleanup."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "jobs"))
sys.path.insert(0, str(HERE))

from jobs_support import _dispose_databases, job_home, start_worker, stub_task  # noqa: E402

__all__ = ["_dispose_databases", "job_home", "start_worker", "stub_task"]
