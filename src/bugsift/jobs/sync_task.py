"""Incremental import from a live tracker (Bugzilla REST for now).

A cycle reads the server clock first, then every bug changed since the saved watermark, page by page;
each page is upserted (idempotently) together with the job's checkpoint (the next offset) in one
transaction, so a job killed mid-cycle resumes at the page it was on. The watermark moves to the clock
read at the start of the cycle only after the last page, so changes made during a cycle are read again
by the next one and nothing is skipped.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bugsift.jobs.core import JobContext
from bugsift.jobs.models import SyncStateRow
from bugsift.store.models import utcnow
from bugsift.store.reports import UpsertCounts, upsert_reports
from bugsift.sync.bugzilla import BugzillaClient

SOURCES = ("bugzilla",)


def source_key(source: str, url: str, product: str | None) -> str:
    return f"{source}:{url.rstrip('/')}:{product or ''}"


def watermark(context: JobContext, key: str) -> str | None:
    with context.database.session() as session:
        row = session.scalar(select(SyncStateRow).where(SyncStateRow.source == key))
        return row.watermark if row else None


def sync(
    context: JobContext,
    source: str = "bugzilla",
    url: str | None = None,
    product: str | None = None,
    since: str | None = None,
    tracker: str | None = None,
    classify_task: str | None = None,
) -> dict[str, Any]:
    """Import what changed on the tracker since the last full cycle (or since ``since``, first time).

    With ``classify_task`` a classify job (with notifications) follows for the new reports.
    """
    settings = context.settings
    if source not in SOURCES:
        raise ValueError(f"sync source must be one of {', '.join(SOURCES)}, not {source!r}")
    url = url or settings.bugzilla_url
    if not url:
        raise ValueError("sync bugzilla needs a url (argument url or BUGSIFT_BUGZILLA_URL)")
    client = BugzillaClient(
        url,
        settings.bugzilla_api_key,
        retries=settings.sync_retries,
        backoff_s=settings.sync_backoff_s,
        timeout_s=settings.http_timeout_s,
        tracker=tracker or source,
    )
    key = source_key(source, url, product)
    state = context.current_progress()
    if state.get("source") == key and state.get("cycle_start"):
        cycle_start, start_from, offset = (
            state["cycle_start"],
            state.get("since"),
            int(state.get("offset", 0)),
        )
        counts = UpsertCounts(**state.get("counts", {}))
        rejected = int(state.get("rejected", 0))
        context.log(f"resuming the cycle started at {cycle_start} at offset {offset}")
    else:
        cycle_start = client.server_time()
        start_from = watermark(context, key) or since
        offset, counts, rejected = 0, UpsertCounts(), 0
        context.progress(source=key, cycle_start=cycle_start, since=start_from, offset=0)
        context.log(f"sync {key}: changes since {start_from or 'the beginning'}, server time {cycle_start}")
    for page in client.changed_since(start_from, settings.sync_page_size, product, start_offset=offset):
        for bad in page.rejected:
            context.log(f"rejected {bad}")
        with context.database.session() as session:
            counts.add(upsert_reports(session, page.reports))
            rejected += len(page.rejected)
            context.progress(
                session,
                offset=page.offset + page.size,
                counts=vars(counts),
                rejected=rejected,
                done=counts.imported + counts.updated + counts.unchanged + rejected,
            )
    with context.database.session() as session:
        row = session.scalar(select(SyncStateRow).where(SyncStateRow.source == key))
        if row is None:
            row = SyncStateRow(source=key)
            session.add(row)
        row.watermark = cycle_start
        row.updated_at = utcnow()
        context.progress(session, cycle_start=None, finished_cycle=cycle_start)
    context.log(f"cycle complete: {vars(counts)}, rejected {rejected}; watermark {cycle_start}")
    if classify_task and (counts.imported or counts.updated):
        context.submit("classify", task=classify_task, notify=True)
    return {"source": key, "watermark": cycle_start, **vars(counts), "rejected": rejected}
