"""The `bot` job: one pass of the triage bot (as `bugsift bot run --once`), and when one is due.

A worker's sweeper queues one every ``bot_every_minutes``, never while another is queued or running
(two passes at once would be harmless, each action being claimed once, but pointless), and the daily
digest once a day when ``bot_digest_to`` is set.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from bugsift.jobs.args import ArgSpec
from bugsift.jobs.core import JobContext, database_for, submit
from bugsift.settings import Settings
from bugsift.store.job_tables import JobRow

ARGS: dict[str, ArgSpec] = {"digest": ArgSpec("bool", nullable=False)}
"""``digest``: mail the daily digest instead of running a pass."""
DIGEST_EVERY = timedelta(days=1)


def bot(context: JobContext, digest: bool = False) -> dict[str, Any]:
    """One bot pass over every rule (or the digest mail); the counts are the job's result."""
    from bugsift.bot.digest import digest_text, send_digest
    from bugsift.bot.rules import load_rules
    from bugsift.bot.runner import run_once
    from bugsift.bot.trackers import adapter_for, check_rule

    rules = load_rules(context.settings.bot_rules_path)
    if digest:
        subject, body = digest_text(context.database, rules, DIGEST_EVERY.total_seconds() / 3600)
        return {"digest_to": send_digest(context.settings, subject, body)}
    adapters: dict[str, Any] = {}

    def adapter(rule: Any) -> Any:
        kind = rule.kind or rule.tracker
        if kind not in adapters:
            adapters[kind] = adapter_for(kind, context.settings)
        check_rule(adapters[kind], rule)
        return adapters[kind]

    try:
        summary = run_once(context.database, rules, adapter, log=context.log)
    finally:
        for made in adapters.values():
            made.close()
    return summary.as_dict()


def queue_due_bot_runs(settings: Settings, now: datetime | None = None) -> list[int]:
    """Queue the bot pass (and the digest) that is due; returns the job ids."""
    if settings.bot_every_minutes <= 0 or not settings.bot_rules_path.is_file():
        return []
    now = now or datetime.now(UTC)
    queued = []
    with database_for(settings).session() as session:
        jobs = session.scalars(
            select(JobRow).where(JobRow.task == "bot").order_by(JobRow.id.desc()).limit(200)
        ).all()
    passes = [j for j in jobs if not (j.args or {}).get("digest")]
    digests = [j for j in jobs if (j.args or {}).get("digest")]
    if _due(passes, now, timedelta(minutes=settings.bot_every_minutes)):
        queued.append(submit("bot", settings))
    if settings.bot_digest_to and _due(digests, now, DIGEST_EVERY):
        queued.append(submit("bot", settings, digest=True))
    return queued


def _due(jobs: list[JobRow], now: datetime, every: timedelta) -> bool:
    if any(j.state in ("queued", "running") for j in jobs):
        return False
    newest = max((_aware(j.created_at) for j in jobs), default=None)
    return newest is None or now - newest >= every


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
