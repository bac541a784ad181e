"""Background jobs: one seam, `submit(task, **plain_args) -> job id`, and a jobs table everyone reads.

Backends (setting ``jobs_backend``): embedded (Huey on SQLite, default) or Celery (Redis/RabbitMQ).
Tasks: classify, train, notify, sync, encode, bot (see `bugsift.jobs.core.TASKS`).
"""

from bugsift.jobs.core import JobContext, get_job, list_jobs, run_job, submit

__all__ = ["JobContext", "get_job", "list_jobs", "run_job", "submit"]
