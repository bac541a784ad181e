"""Incremental import from a live tracker: Bugzilla, GitHub, Jira or Redmine REST.

A cycle reads the server clock first, then everything changed since the saved watermark, page by page;
each page is upserted (idempotently) together with the job's checkpoint (the cursor of the next page:
an offset, or GitHub's next-page URL) in one transaction, so a job killed mid-cycle resumes at the page
it was on. The watermark moves to the clock read at the start of the cycle only after the last page, so
changes made during a cycle are read again by the next one and nothing is skipped.

GitHub keeps the old watermark when nothing changed, so that the next cycle asks the very same URL and
its conditional request (the ETag kept in the last cycle's job result) gets a free 304.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from bugsift.jobs.args import SINCE_PATTERN, ArgSpec, http_url, iso_datetime
from bugsift.jobs.core import JobContext
from bugsift.settings import Settings
from bugsift.store.job_tables import JobRow, SyncStateRow
from bugsift.store.models import utcnow
from bugsift.store.reports import UpsertCounts, upsert_reports
from bugsift.sync.bugzilla import BugzillaClient
from bugsift.sync.github import GitHubClient
from bugsift.sync.jira import JiraClient
from bugsift.sync.page import Page
from bugsift.sync.redmine import RedmineClient

SOURCES = ("bugzilla", "github", "jira", "redmine")
URL_SETTINGS = {
    "bugzilla": "bugzilla_url",
    "github": "github_api_url",
    "jira": "jira_url",
    "redmine": "redmine_url",
}
"""The setting holding each tracker's base URL (``BUGSIFT_`` + its name in capitals)."""
SCOPES = {"bugzilla": "product", "github": "repo", "jira": "jql", "redmine": "project"}
"""The argument that scopes each source's sync."""
ARGS = {
    "source": ArgSpec("str", nullable=False, choices=SOURCES),
    "url": ArgSpec("str", max_length=2000, check=http_url, description="Default: the source's URL setting."),
    "product": ArgSpec("str", description="Bugzilla product."),
    "repo": ArgSpec("str", pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", description="GitHub owner/name."),
    "jql": ArgSpec("str", max_length=2000, description="Jira JQL filter."),
    "project": ArgSpec(
        "str", max_length=100, pattern=r"^[A-Za-z0-9_-]+$", description="Redmine project identifier or id."
    ),
    "since": ArgSpec(
        "str", max_length=40, pattern=SINCE_PATTERN, check=iso_datetime, description="ISO 8601 date-time."
    ),
    "tracker": ArgSpec("str"),
    "classify_task": ArgSpec("str", model_task=True),
}
"""What `sync` takes (checked on submit, `bugsift.jobs.args`)."""


def check_combination(args: dict[str, Any]) -> None:
    """The scope argument must be the source's own (a repo given to a Bugzilla sync would be a product)."""
    source = args.get("source") or "bugzilla"
    for other, name in SCOPES.items():
        if other != source and args.get(name) is not None:
            raise ValueError(f"args.{name} is for a {other} sync, not {source} (use {SCOPES[source]})")


def tracker_url(settings: Settings, source: str, url: str | None) -> str:
    """The tracker's base URL: the argument, else its setting; refused unless it is http(s)."""
    name = "BUGSIFT_" + URL_SETTINGS[source].upper()
    where, url = ("argument url", url) if url else (name, getattr(settings, URL_SETTINGS[source]))
    if not url:
        raise ValueError(f"sync {source} needs a url (argument url or {name})")
    problem = http_url(url)
    if problem:
        raise ValueError(f"{where} {url[:100]!r}: {problem}")
    return url


def source_key(source: str, url: str, scope: str | None) -> str:
    return f"{source}:{url.rstrip('/')}:{scope or ''}"


def watermark(context: JobContext, key: str) -> str | None:
    with context.database.session() as session:
        row = session.scalar(select(SyncStateRow).where(SyncStateRow.source == key))
        return row.watermark if row else None


def last_cycle(context: JobContext, key: str) -> dict[str, Any]:
    """The result of the newest finished sync job of ``key`` ({} if none)."""
    query = (
        select(JobRow.result)
        .where(JobRow.task == "sync", JobRow.state == "done")
        .order_by(JobRow.id.desc())
        .limit(50)
    )
    with context.database.session() as session:
        for result in session.scalars(query):
            if result and result.get("source") == key:
                return dict(result)
    return {}


class _Source:
    """One tracker's client behind the same three calls: clock, pages, next watermark."""

    def __init__(self, context: JobContext, source: str, url: str | None, scope: str | None, tracker: str):
        settings: Settings = context.settings
        common = {
            "retries": settings.sync_retries,
            "backoff_s": settings.sync_backoff_s,
            "timeout_s": settings.http_timeout_s,
            "tracker": tracker,
        }
        self.page_size = settings.sync_page_size
        self.etag: str | None = None
        self.client: Any
        if source not in SOURCES:
            raise ValueError(f"sync source must be one of {', '.join(SOURCES)}, not {source!r}")
        url = tracker_url(settings, source, url)
        if source == "bugzilla":
            self.client = BugzillaClient(url, settings.bugzilla_api_key, **common)
        elif source == "github":
            scope = scope or settings.github_repo
            if not scope:
                raise ValueError("sync github needs a repository (argument repo or BUGSIFT_GITHUB_REPO)")
            self.client = GitHubClient(
                url,
                scope,
                settings.github_token,
                max_wait_s=settings.sync_max_wait_s,
                log=context.log,
                **common,
            )
        elif source == "jira":
            scope = scope or settings.jira_jql
            self.client = JiraClient(url, scope, settings.jira_user, settings.jira_token, **common)
        else:
            scope = scope or settings.redmine_project
            self.client = RedmineClient(
                url,
                settings.redmine_api_key,
                scope,
                workers=settings.redmine_sync_threads,
                log=context.log,
                **common,
            )
        self.source, self.key = source, source_key(source, url, scope)
        self.scope = scope

    def pages(self, since: str | None, cursor: int | str | None) -> Iterator[Page]:
        if self.source == "bugzilla":
            return self.client.pages(since, cursor, self.page_size, self.scope)
        if self.source == "github":
            return self.client.pages(since, cursor, self.page_size, self.etag)
        return self.client.pages(since, cursor, self.page_size)

    def next_watermark(self, cycle_start: str, previous: str | None, changed: bool) -> str | None:
        if self.source == "github" and not changed and previous:
            return previous  # same URL next time: the conditional request stays valid
        return cycle_start


def sync(
    context: JobContext,
    source: str = "bugzilla",
    url: str | None = None,
    product: str | None = None,
    repo: str | None = None,
    jql: str | None = None,
    since: str | None = None,
    tracker: str | None = None,
    classify_task: str | None = None,
    project: str | None = None,
) -> dict[str, Any]:
    """Import what changed on the tracker since the last full cycle (or since ``since``, first time).

    The scope is ``product`` (Bugzilla), ``repo`` owner/name (GitHub), a ``jql`` filter (Jira) or a
    ``project`` (Redmine).
    With ``classify_task`` a classify job (with notifications) follows for the new reports; with
    ``BUGSIFT_EMBEDDINGS=on`` an ``encode`` job (`bugsift.jobs.encode`) for the tracker's reports.
    """
    tracker = tracker or source
    tracker_source = _Source(context, source, url, product or repo or jql or project, tracker)
    key = tracker_source.key
    state = context.current_progress()
    if state.get("source") == key and state.get("cycle_start"):
        cycle_start, start_from = state["cycle_start"], state.get("since")
        cursor, paged = state.get("cursor"), bool(state.get("paged"))
        counts = UpsertCounts(**state.get("counts", {}))
        rejected = int(state.get("rejected", 0))
        context.log(f"resuming the cycle started at {cycle_start} at {cursor}")
    else:
        cycle_start = tracker_source.client.server_time()
        start_from = watermark(context, key) or since
        cursor, paged, counts, rejected = None, False, UpsertCounts(), 0
        context.progress(source=key, cycle_start=cycle_start, since=start_from, cursor=None, paged=False)
        context.log(f"sync {key}: changes since {start_from or 'the beginning'}, server time {cycle_start}")
    previous = last_cycle(context, key)
    if previous.get("etag_since") == start_from:
        tracker_source.etag = previous.get("etag")
    for page in [] if paged else tracker_source.pages(start_from, cursor):
        for bad in page.rejected:
            context.log(f"rejected {bad}")
        with context.database.session() as session:
            counts.add(upsert_reports(session, page.reports))
            rejected += len(page.rejected)
            context.progress(
                session,
                cursor=page.next_cursor,
                paged=page.next_cursor is None,
                counts=vars(counts),
                rejected=rejected,
                done=counts.imported + counts.updated + counts.unchanged + rejected,
            )
    changed = bool(counts.imported or counts.updated)
    new_watermark = tracker_source.next_watermark(cycle_start, start_from, changed)
    with context.database.session() as session:
        row = session.scalar(select(SyncStateRow).where(SyncStateRow.source == key))
        if row is None:
            row = SyncStateRow(source=key)
            session.add(row)
        row.watermark = new_watermark
        row.updated_at = utcnow()
        context.progress(session, cycle_start=None, finished_cycle=cycle_start)
    context.log(f"cycle complete: {vars(counts)}, rejected {rejected}; watermark {new_watermark}")
    if changed and context.settings.embeddings == "on":  # so that trainings need not encode them
        context.submit("encode", tracker=tracker)
    if classify_task and changed:
        context.submit("classify", task=classify_task, notify=True)
    result: dict[str, Any] = {"source": key, "watermark": new_watermark, **vars(counts), "rejected": rejected}
    client = tracker_source.client
    if isinstance(client, GitHubClient):
        result["not_modified"] = client.not_modified
        etag = client.etag or (tracker_source.etag if client.not_modified else None)
        if etag:  # valid for the first page of the cycle that starts from this watermark
            result.update(etag=etag, etag_since=start_from)
    return result


@dataclass
class ForegroundContext(JobContext):
    """A job context without a job row, for `bugsift sync`: progress and log lines go to callbacks."""

    on_progress: Callable[[dict[str, Any]], None] | None = None
    on_log: Callable[[str], None] | None = None

    def progress(self, session: Any = None, **values: Any) -> dict[str, Any]:
        if self.on_progress is not None:
            self.on_progress(values)
        return values

    def log(self, message: str) -> None:
        super().log(message)
        if self.on_log is not None:
            self.on_log(message)


def run_foreground(
    settings: Settings,
    args: dict[str, Any],
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    on_log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """One sync cycle in this process, with the job's own argument checks and function (`sync`).

    Without a job row there is no checkpoint: an interrupted run starts again from the saved watermark,
    and the idempotent upsert makes the pages it reads again change nothing.
    """
    from bugsift.jobs.core import database_for, validate_args

    checked = validate_args("sync", {k: v for k, v in args.items() if v is not None})
    context = ForegroundContext(
        settings=settings, database=database_for(settings), on_progress=on_progress, on_log=on_log
    )
    return sync(context, **checked)
