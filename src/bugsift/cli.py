"""The bugsift command line: one click group, thin commands calling plain functions."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from bugsift import __version__
from bugsift.learn.encoding_store import use_settings
from bugsift.learn.tasks import TASKS
from bugsift.settings import Settings

TASK_NAMES = tuple(TASKS)


class TaskName(click.ParamType):
    """A task name: one of TASK_NAMES, or label:NAME / field:NAME (`bugsift.learn.tasks.TASKS`)."""

    name = "task"

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "{" + "|".join(TASK_NAMES) + "|label:NAME|field:NAME}"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        if value not in TASKS:
            self.fail(f"{value!r} is not a task; tasks: {TASKS.listing()}", param, ctx)
        return str(value)


class AppContext:
    """Settings plus a database opened (and migrated) on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._database: Any = None

    @property
    def database(self) -> Any:
        if self._database is None:
            from bugsift.store.db import open_database

            self._database = open_database(self.settings)
        return self._database


pass_app = click.make_pass_decorator(AppContext)


def _fail(message: str) -> None:
    raise click.ClickException(message)


class OutputFile(click.Path):
    """A file to write: its folder must exist and be writable, checked when the command line is read,
    so that a typo fails at once, not after a training or a prediction run (`click.Path` checks only
    paths that exist)."""

    def __init__(self) -> None:
        super().__init__(dir_okay=False, writable=True, path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        path = super().convert(value, param, ctx)
        folder = Path(path).parent
        if not folder.is_dir():
            self.fail(f"cannot write {path}: the folder {folder} does not exist", param, ctx)
        if not os.access(folder, os.W_OK | os.X_OK):
            self.fail(f"cannot write {path}: the folder {folder} is not writable", param, ctx)
        return path


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bugsift")
@click.pass_context
def main(ctx: click.Context) -> None:
    """bugsift: triage bug reports with models learned from your tracker's history.

    Settings come from BUGSIFT_* environment variables (see `bugsift settings`).
    """
    settings = Settings()
    use_settings(settings)  # encodings (when embeddings are on) persist under $BUGSIFT_HOME/cache
    ctx.obj = AppContext(settings)


# --- import -------------------------------------------------------------------------------------------


@main.command("import")
@click.argument("fmt", metavar="FORMAT", type=click.Choice(["bugzilla", "github", "jira", "redmine", "csv"]))
@click.argument(
    "paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--tracker", help="Tracker name to file the reports under (default: the format name).")
@click.option(
    "--show-rejected",
    default=10,
    show_default=True,
    help="How many rejected records (and warnings) to list.",
)
@pass_app
def import_command(
    app: AppContext, fmt: str, paths: tuple[Path, ...], tracker: str | None, show_rejected: int
) -> None:
    """Import tracker reports from FORMAT files (JSON lines, JSON, CSV; plain, .gz or .xz).

    Re-importing is idempotent: reports are matched by tracker, project and id, and only changed ones
    are updated. Malformed records are listed with file:line and skipped; the rest is imported.
    """
    from sqlalchemy.exc import DBAPIError

    from bugsift.ingest import ImportStopped, database_problem, import_reports

    with tqdm(desc=f"import {fmt}", unit=" reports", file=sys.stderr, disable=None) as bar:
        try:
            summary = import_reports(
                app.database,
                fmt,
                paths,
                tracker=tracker,
                batch_size=app.settings.import_batch_size,
                progress=bar.update,
            )
        except (ValueError, ImportStopped) as error:  # ImportStopped: a database error, without its SQL
            _fail(str(error))
        except DBAPIError as error:  # before any batch: opening or migrating the store
            _fail(database_problem(error))
    _echo_some("warning", summary.warnings, show_rejected)
    _echo_some("rejected", summary.rejected, show_rejected)
    click.echo(summary.line())
    empty = summary.files_without_reports()
    if not summary.stored:  # nothing was done: say why, with a failing exit status for scripts
        _fail("; ".join(empty))
    for note in empty:  # other files of the same import were stored
        click.echo(f"warning {note}", err=True)


def _echo_some(prefix: str, items: list[Any], shown: int) -> None:
    """The first ``shown`` items on stderr, then how many more there are."""
    for item in items[:shown]:
        click.echo(f"{prefix} {item}", err=True)
    if len(items) > shown:
        more = len(items) - shown
        click.echo(f"... and {more} more {prefix} lines (--show-rejected N lists more)", err=True)


# --- sync ---------------------------------------------------------------------------------------------


@main.command("sync")
@click.argument("source", type=click.Choice(["bugzilla", "github", "jira", "redmine"]))
@click.option("--url", help="Tracker base URL (default: the source's setting, e.g. BUGSIFT_REDMINE_URL).")
@click.option("--product", help="bugzilla: the product to read.")
@click.option("--repo", help="github: owner/name (default: BUGSIFT_GITHUB_REPO).")
@click.option("--jql", help="jira: a JQL filter (default: BUGSIFT_JIRA_JQL).")
@click.option("--project", help="redmine: a project identifier (default: BUGSIFT_REDMINE_PROJECT).")
@click.option("--since", help="First cycle only: read changes since this ISO 8601 date-time.")
@click.option("--tracker", help="Tracker name to file the reports under (default: SOURCE).")
@pass_app
def sync_command(app: AppContext, source: str, **options: Any) -> None:
    """Run one incremental sync cycle of SOURCE in the foreground (the same work as the sync job).

    Reads what changed on the tracker since the last complete cycle (the watermark), upserts it, and moves
    the watermark to the server time read at the start. An interrupted run reads those pages again.
    """
    from sqlalchemy.exc import DBAPIError

    from bugsift.ingest import database_problem
    from bugsift.jobs.sync_task import run_foreground
    from bugsift.sync.http import TrackerError

    with tqdm(desc=f"sync {source}", unit=" reports", file=sys.stderr, disable=None) as bar:
        try:
            result = run_foreground(
                app.settings,
                {"source": source, **options},
                on_progress=lambda values: bar.update(values.get("done", bar.n) - bar.n),
                on_log=lambda line: tqdm.write(line, file=sys.stderr),
            )
        except (ValueError, TrackerError) as error:
            _fail(str(error))
        except DBAPIError as error:
            _fail(database_problem(error))
    click.echo(
        f"sync {source}: imported {result['imported']}, updated {result['updated']}, "
        f"unchanged {result['unchanged']}, rejected {result['rejected']}; watermark {result['watermark']}"
    )


# --- labels -------------------------------------------------------------------------------------------


@main.group()
def labels() -> None:
    """Named label sets (human labels, corrections), kept apart from the reports."""


@labels.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", required=True, help="Name of the label set, e.g. is_bug.")
@click.option("--column", help="Column (or JSON key) holding the value (default: NAME, then label, value).")
@click.option("--id-column", help="Column holding the report id (default: id, bug_id, key, number ...).")
@click.option("--tracker", help="Only match reports of this tracker.")
@click.option(
    "--source",
    type=click.Choice(["import", "human"]),
    default="import",
    show_default=True,
    help="Who made these labels: an import, or people (human labels win over all others).",
)
@pass_app
def labels_import(
    app: AppContext,
    path: Path,
    name: str,
    column: str | None,
    id_column: str | None,
    tracker: str | None,
    source: str,
) -> None:
    """Import labels from a CSV (id,label) or JSON-lines file for reports already imported."""
    from bugsift.ingest import import_labels

    try:
        summary = import_labels(app.database, path, name, column, id_column, tracker, source)
    except ValueError as error:
        _fail(str(error))
    for rejected in summary.rejected[:10]:
        click.echo(f"rejected {rejected}", err=True)
    if summary.unknown_ids:
        shown = ", ".join(summary.unknown_ids[:5])
        click.echo(f"not in the database (import the reports first): {shown} ...", err=True)
    click.echo(summary.line())


@labels.command("list")
@pass_app
def labels_list(app: AppContext) -> None:
    """List label sets with how many reports carry each."""
    from bugsift.store.labels import label_names

    with app.database.session() as session:
        names = label_names(session)
    if not names:
        click.echo("no labels yet: `bugsift labels import FILE --name NAME`")
    for name, count in sorted(names.items()):
        click.echo(f"{name}\t{count}")


# --- train / evaluate / predict -----------------------------------------------------------------------

task_argument = click.argument("task", type=TaskName())
label_option = click.option("--label", help="Named label set to learn (default: the tracker's own field).")
mode_option = click.option(
    "--mode",
    type=click.Choice(["filing", "backlog"]),
    help="filing (default): only what the reporter wrote and set; backlog: all known now but the label.",
)
tracker_option = click.option("--tracker", help="Only use reports of this tracker.")
project_option = click.option("--project", help="Only use reports of this project.")


def files_options(command: Any) -> Any:
    """Options only the files task reads."""
    command = click.option(
        "--repo",
        type=click.Path(exists=True, file_okay=False),
        help="files: a local git repository (fixes named in commit messages, files at the buggy version).",
    )(command)
    return click.option(
        "--candidates",
        type=click.Path(exists=True),
        help="files: candidate file lists (Eclipse delta files, folder or file; or a text file of paths).",
    )(command)


def component_options(command: Any) -> Any:
    """Options only the component task reads."""
    command = click.option(
        "--exclude",
        multiple=True,
        help="component: a label never to predict (repeatable; globs: 'Firefox::*').",
    )(command)
    command = click.option(
        "--min-support", type=int, help="component: fold components with fewer training reports (default 10)."
    )(command)
    return click.option(
        "--suggest-precision", type=float, help="component: precision the 'suggest' threshold aims for (0.6)."
    )(command)


@main.command()
@task_argument
@label_option
@mode_option
@tracker_option
@project_option
@component_options
@files_options
@pass_app
def train(app: AppContext, task: str, **options: Any) -> None:
    """Train a model for TASK, evaluate it on the newest reports, and register it.

    label:NAME learns an imported label set, field:NAME a tracker field as filed (a Bugzilla cf_* field,
    a Jira field, labels with a prefix such as 'priority: high' or 'area/ui'): docs/fields.md.
    """
    from sqlalchemy.exc import DBAPIError

    from bugsift.ingest import database_problem
    from bugsift.learn.persist import ModelWriteError
    from bugsift.learn.tasks import TaskOptions, get_task

    try:
        outcome = get_task(task).train(app.database, app.settings, TaskOptions(**options))
    except (ValueError, LookupError) as error:
        _fail(str(error))
    except ModelWriteError as error:
        _fail(f"cannot write the model file {error.filename}: {error.strerror}; nothing was registered")
    except OSError as error:  # e.g. the evaluation kept beside the model file: a full disk
        _fail(f"cannot write {error.filename or 'a file'}: {error.strerror or error}")
    except DBAPIError as error:  # e.g. the registry's write on a full disk: the SQL and its values stay out
        _fail(f"{database_problem(error)}; no model was registered")
    click.echo(outcome.text)


@main.command()
@task_argument
@label_option
@mode_option
@tracker_option
@project_option
@click.option(
    "--split",
    type=click.Choice(["time", "random", "kfold"]),
    default="time",
    show_default=True,
    help="time: test on the newest reports of each project; random: stratified; kfold: k folds.",
)
@click.option("--folds", default=5, show_default=True, help="Number of folds for --split kfold.")
@click.option(
    "--test-fraction", type=float, help="Share of reports held out (default: BUGSIFT_TEST_FRACTION)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the numbers as JSON.")
@click.option(
    "--report",
    "report_path",
    type=OutputFile(),
    help="Also write a self-contained HTML validation report (plots, summary) to this file.",
)
@component_options
@files_options
@pass_app
def evaluate(app: AppContext, task: str, as_json: bool, report_path: Path | None, **options: Any) -> None:
    """Evaluate TASK on held-out reports, beside the majority-class baseline."""
    from bugsift.learn.tasks import TaskOptions, get_task

    try:
        task_options = TaskOptions(learning_curve=report_path is not None, **options)
        outcome = get_task(task).evaluate(app.database, app.settings, task_options)
    except (ValueError, LookupError) as error:
        _fail(str(error))
    click.echo(json.dumps(outcome.evaluation, indent=2) if as_json else outcome.text)
    if report_path:
        from bugsift.report import find_previous, write_report

        label, mode = _registry_key(task, outcome.evaluation, options.get("tracker"))
        with app.database.session() as session:
            previous = find_previous(session, task, label, mode)
        try:
            write_report(outcome.evaluation, report_path, task, previous=previous)
        except OSError as error:  # e.g. a full disk; the folder was checked before the evaluation
            _fail(f"cannot write {report_path}: {error.strerror or error}")
        click.echo(f"wrote the validation report to {report_path}", err=True)


def _registry_key(task: str, evaluation: dict[str, Any], tracker: str | None) -> tuple[str, str]:
    """(label, mode) under which a task's models are registered, to find the previous version."""
    if task in ("type", "defect", "severity", "priority") or ":" in task:  # label:NAME, field:NAME
        return evaluation["label"], evaluation["mode"]
    return {"files": "fixed_files", "duplicates": tracker or "all"}.get(task, task), "filing"


def input_options(command: Any) -> Any:
    """--input, --format and --output, shared by predict and duplicates."""
    command = click.option(
        "--output",
        type=OutputFile(),
        help="Write JSON lines here (default: stdout).",
    )(command)
    command = click.option(
        "--format",
        "fmt",
        type=click.Choice(["auto", "bugzilla", "github", "jira", "csv"]),
        default="auto",
        show_default=True,
        help="Input format; auto detects it from the content.",
    )(command)
    return click.option(
        "--input",
        "input_path",
        required=True,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Reports to answer for, in any import format (need not be in the database).",
    )(command)


@main.command()
@task_argument
@input_options
@click.option(
    "--top-k", type=int, help="How many candidates to list per report (default 3; component 5; files 10)."
)
@label_option
@mode_option
@tracker_option
@files_options
@pass_app
def predict(
    app: AppContext,
    task: str,
    input_path: Path,
    fmt: str,
    output: Path | None,
    top_k: int | None,
    **options: Any,
) -> None:
    """Predict TASK for each report of --input: one JSON line per report.

    A generic record (CSV row or JSON line with title and description) needs no id: it gets its line
    number. A report with neither a title nor a description is rejected, not predicted. A model without
    sentence embeddings never imports torch (about 3.5 s and 220 MB for 5 reports); one with them
    imports it and loads the encoder: 3-4 s and ~185 MB more, plus 2-5 s (BUGSIFT_EMBEDDINGS).
    """
    from bugsift.learn.tasks import TaskOptions, get_task
    from bugsift.sources.base import Rejected, Report
    from bugsift.sources.detect import detect_format
    from bugsift.sources.predict_input import read_predict_input
    from bugsift.store.registry import load_with_fallback

    top_k = top_k or {"component": 5, "files": 10, "duplicates": 10}.get(task, 3)
    try:
        # A missing, truncated or refused model file: the newest earlier version that loads, with a warning.
        predictor, _ = load_with_fallback(
            app.database.session,
            lambda: get_task(task).predictor(app.database, TaskOptions(top_k=top_k, **options)),
            warn=lambda message: click.echo(f"warning: {message}", err=True),
        )
        items = list(read_predict_input(detect_format(input_path) if fmt == "auto" else fmt, input_path))
    except (ValueError, LookupError) as error:
        _fail(str(error))
    for item in items:
        if isinstance(item, Rejected):
            click.echo(f"rejected {item}", err=True)
        elif isinstance(item, Report):
            for warning in item.warnings:
                click.echo(f"warning {warning}", err=True)
    reports = [item for item in items if isinstance(item, Report)]
    if not reports:
        rejected = sum(isinstance(item, Rejected) for item in items)
        _fail(f"{input_path}: no report to predict for ({rejected} rejected, listed above)")
    try:
        _write_predictions(predictor, reports, top_k, output)
    except OSError as error:  # the folder was checked up front; this is e.g. a full disk
        _fail(f"cannot write {output or 'the predictions'}: {error.strerror or error}")
    if output:
        click.echo(f"wrote {len(reports)} predictions ({predictor.version_name}) to {output}", err=True)


def _write_predictions(predictor: Any, reports: list[Any], top_k: int, output: Path | None) -> None:
    """One JSON line per report, to ``output`` or stdout, 1,000 reports per model call."""
    out = output.open("w", encoding="utf-8") if output else sys.stdout
    try:
        for start in range(0, len(reports), 1000):
            for result in predictor.predict(reports[start : start + 1000], top_k):
                out.write(json.dumps(result, ensure_ascii=False) + "\n")
    finally:
        if output:
            out.close()


@main.command()
@input_options
@click.option("--top-k", type=int, default=10, show_default=True, help="How many existing reports to list.")
@tracker_option
@click.pass_context
def duplicates(ctx: click.Context, **options: Any) -> None:
    """Find the stored reports each report of --input probably duplicates (same as `predict duplicates`).

    Candidates are suggestions with their score, matched terms, status and canonical report (the end of
    their duplicate-of chain); nothing is ever closed automatically.
    """
    ctx.invoke(predict, task="duplicates", **options)


@main.command()
@tracker_option
@project_option
@pass_app
def encode(app: AppContext, tracker: str | None, project: str | None) -> None:
    """Encode stored reports with the sentence-embedding model ahead of training.

    Models with embeddings spend nearly all their training time encoding (15-20 minutes for 22,000 Jira
    reports on 2 idle cores; an hour for all 32,721 on busy ones). Run this once after a large import
    (the sync job does it by itself when BUGSIFT_EMBEDDINGS=on): later trainings read the vectors from
    $BUGSIFT_HOME/cache. Only reports not encoded yet are encoded; an interrupted run resumes where it
    stopped.
    """
    from bugsift.learn.encode_ahead import check_can_encode, encode_reports

    try:
        check_can_encode(app.settings.embeddings)
    except ValueError as error:
        _fail(str(error))
    with tqdm(desc="encoding reports", unit=" reports", file=sys.stderr, disable=None) as bar:

        def progress(summary: Any, total: int) -> None:
            bar.total = total
            bar.update(summary.reports - bar.n)

        summary = encode_reports(app.database, tracker, project, on_progress=progress)
    if summary.reports == 0:
        named = (("tracker", tracker), ("project", project))
        scope = "".join(f" for {name} {value!r}" for name, value in named if value)
        _fail(f"no stored reports{scope} to encode")
    click.echo(summary.text())


# --- models, db, settings, demo -----------------------------------------------------------------------


@main.command()
@pass_app
def models(app: AppContext) -> None:
    """List trained models with their held-out scores."""
    from bugsift.store.registry import list_models

    with app.database.session() as session:
        rows = list_models(session)
    if not rows:
        click.echo("no models yet: `bugsift train TASK`")
    from bugsift.jobs.train import held_out_score

    for row in rows:
        test = row.metrics.get("test", {})
        if "accuracy" in test and "macro_f1" in test:
            scores = f"accuracy {test['accuracy']:.3f}  macro-F1 {test['macro_f1']:.3f}"
        else:  # component top-1, files recall@5, duplicates MRR, fix-time MAE of log-days...
            headline = held_out_score(row.metrics)
            scores = f"{headline[0]} {headline[1]:.3f}" if headline else "no held-out score"
        click.echo(
            f"{'*' if row.active else ' '} {row.task:10} {row.label:18} {row.mode:8} v{row.version:<3} "
            f"{scores:34}  {row.created_at:%Y-%m-%d %H:%M}  {row.path}"
        )


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@pass_app
def db_upgrade(app: AppContext) -> None:
    """Apply pending migrations (every command does this on first use too)."""
    app.database  # noqa: B018 - opening the database migrates it
    click.echo(f"database at {app.settings.resolved_database_url} is up to date")


@db.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON, with counts per tracker and project.")
@pass_app
def db_status(app: AppContext, as_json: bool) -> None:
    """Show the schema revision and what the database holds."""
    from sqlalchemy import func, select

    from bugsift.store.migrate import current_revision
    from bugsift.store.models import LabelRow, ModelRow, ReportRow

    database = app.database
    status: dict[str, Any] = {
        "database": str(database.url),
        "schema_revision": current_revision(database.engine),
    }
    with database.session() as session:
        for name, table in (("reports", ReportRow), ("labels", LabelRow), ("models", ModelRow)):
            status[name] = session.scalar(select(func.count()).select_from(table))
        if as_json:
            columns = (ReportRow.tracker, ReportRow.project)
            query = select(*columns, func.count()).group_by(*columns).order_by(*columns)
            per_tracker: dict[str, dict[str, int]] = {}
            for tracker, project, count in session.execute(query):
                per_tracker.setdefault(tracker, {})[project] = count
            status["reports_by_tracker"] = {
                tracker: {"reports": sum(projects.values()), "projects": projects}
                for tracker, projects in per_tracker.items()
            }
    if as_json:
        click.echo(json.dumps(status, indent=2))
        return
    click.echo(f"database: {status['database']}")
    click.echo(f"schema revision: {status['schema_revision']}")
    for name in ("reports", "labels", "models"):
        click.echo(f"{name}: {status[name]}")


@db.command("vacuum")
@click.option(
    "--full",
    is_flag=True,
    help="PostgreSQL: VACUUM FULL, which returns free space to the system but locks each table while it "
    "rewrites it (SQLite's VACUUM always does).",
)
@pass_app
def db_vacuum(app: AppContext, full: bool) -> None:
    """Give back the space deleted and rewritten rows leave behind (after an upgrade or a re-import)."""
    from bugsift.store.maintenance import vacuum

    click.echo("compacting the database (SQLite rewrites the whole file: it needs that much free disk)...")
    click.echo(vacuum(app.database, full).line())


@main.command("settings")
def settings_command() -> None:
    """Print every setting with its environment variable, current value and meaning."""
    current = Settings()
    for name, info in Settings.model_fields.items():
        click.echo(f"BUGSIFT_{name.upper()} = {getattr(current, name)!s}")
        click.echo(f"    {info.description}")


@main.command()
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("../shared/data"),
    show_default=True,
    help="Folder of the shared real data.",
)
@click.option("--serve/--no-serve", default=False, help="End by serving the web app with the demo models.")
@click.option("--port", default=8000, show_default=True, help="Port of the web app with --serve.")
@click.option("--retrain", is_flag=True, help="Train every model again, even where one exists.")
@click.pass_context
def demo(ctx: click.Context, data_dir: Path, serve: bool, port: int, retrain: bool) -> None:
    """Show all five answers on the real Mozilla, GitHub and Eclipse samples; optionally serve them."""
    from bugsift.demo import run_demo
    from bugsift.demo_serve import demo_login, page_guide, queue_improvements

    app: AppContext = ctx.obj
    try:
        models = run_demo(app.database, app.settings, data_dir, echo=click.echo, retrain=retrain)
    except (ValueError, LookupError, FileNotFoundError) as error:
        _fail(str(error))
    if serve:
        from bugsift.web.commands import serve as serve_command

        improvements = queue_improvements(app.database, app.settings, models)
        for line in [*improvements, *demo_login(app.database), *page_guide(port)]:
            click.echo(line)
        ctx.invoke(serve_command, port=port, with_worker=True)


def _register_commands() -> None:
    """Commands that live beside the code they drive."""
    from bugsift.bot.commands import bot
    from bugsift.jobs.commands import jobs, worker
    from bugsift.web.commands import serve, tokens, users

    for command in (serve, worker, jobs, users, tokens, bot):
        main.add_command(command)


_register_commands()

if __name__ == "__main__":
    main()
