"""Click commands of the jobs layer: `bugsift worker` and `bugsift jobs list|show|submit|subscribe`."""

from __future__ import annotations

import json
from typing import Any

import click

from bugsift.settings import Settings


def _value(text: str) -> Any:
    """``--arg k=v`` values: JSON when they parse (numbers, true/false, null), else the plain string."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text


@click.command()
@click.option("--concurrency", type=int, default=None, help="Jobs run at once (default: worker_concurrency).")
def worker(concurrency: int | None) -> None:
    """Run jobs from the queue chosen by the settings (embedded or Celery) until stopped."""
    from bugsift.jobs.backends import get_backend
    from bugsift.jobs.core import database_for

    settings = Settings()
    database_for(settings)  # migrate before taking jobs
    click.echo(f"bugsift worker: {settings.jobs_backend} backend, queue {settings.jobs_queue}", err=True)
    get_backend(settings).run_worker(concurrency or settings.worker_concurrency)


@click.group()
def jobs() -> None:
    """Background jobs: list them, show one, submit one, subscribe to notifications."""


@jobs.command("list")
@click.option("--state", type=click.Choice(["queued", "running", "done", "failed"]), help="Only this state.")
@click.option("--limit", type=int, default=50, show_default=True, help="Newest jobs shown.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_command(state: str | None, limit: int, as_json: bool) -> None:
    """List the newest jobs with their state and progress."""
    from bugsift.jobs.core import database_for, list_jobs

    for row in list_jobs(database_for(Settings()), state, limit):
        if as_json:
            click.echo(json.dumps(_as_dict(row, with_log=False)))
        else:
            done, total = row.progress.get("done"), row.progress.get("total")
            shown = f"{done}/{total}" if total is not None else ("" if done is None else str(done))
            click.echo(
                f"{row.id}\t{row.task}\t{row.state}\t{shown}\tattempts {row.attempts}\t{row.created_at:%F %T}"
            )


@jobs.command("show")
@click.argument("job_id", type=int)
def show_command(job_id: int) -> None:
    """Show one job as JSON: arguments, state, progress, result, error and log."""
    from bugsift.jobs.core import database_for, get_job

    row = get_job(database_for(Settings()), job_id)
    if row is None:
        raise click.ClickException(f"no job {job_id}")
    click.echo(json.dumps(_as_dict(row, with_log=True), indent=2))


@jobs.command("submit")
@click.argument("task")
@click.option(
    "--arg", "args", multiple=True, metavar="K=V", help="A task argument (repeatable); JSON values ok."
)
def submit_command(task: str, args: tuple[str, ...]) -> None:
    """Queue a job (classify, train, notify, sync, ping) and print its id."""
    from bugsift.jobs.core import submit, validate_args
    from bugsift.learn.tasks import TASKS as MODEL_TASKS

    values = {}
    for item in args:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected K=V, got {item!r}", param_hint="--arg")
        values[key] = _value(text)
    try:  # checked as the API checks them: names, types, ranges, model tasks, http(s) URLs
        validate_args(task, values, MODEL_TASKS)
        click.echo(submit(task, Settings(), **values))
    except ValueError as error:
        raise click.ClickException(str(error)) from None


@jobs.command("subscribe")
@click.argument("email")
@click.argument("field")
@click.argument("value")
@click.option("--digest", is_flag=True, help="One digest mail per notify run instead of one mail per report.")
def subscribe_command(email: str, field: str, value: str, digest: bool) -> None:
    """Mail EMAIL when a report is predicted VALUE for FIELD (a label name: component, type, defect...)."""
    from bugsift.jobs.core import JobContext
    from bugsift.jobs.notify import subscribe

    subscribe(JobContext.standalone(Settings()), email, field, value, digest)
    click.echo(f"subscribed {email} to {field} = {value}{' (digest)' if digest else ''}")


def _as_dict(row: Any, with_log: bool) -> dict[str, Any]:
    data = {
        "id": row.id,
        "task": row.task,
        "args": row.args,
        "state": row.state,
        "progress": row.progress,
        "attempts": row.attempts,
        "result": row.result,
        "error": row.error,
        "worker": row.worker,
        "created_at": row.created_at.isoformat(),
        "started_at": row.started_at.isoformat() if row.started_at else None,
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
    }
    if with_log:
        data["log"] = row.log
    return data


@click.group()
def cli() -> None:
    """The jobs commands on their own (`python -m bugsift.jobs`), before they are in the main CLI."""


cli.add_command(worker)
cli.add_command(jobs)
