"""Where the bot reads a report live and writes to it: one adapter per tracker (`base.TrackerAdapter`)."""

from __future__ import annotations

from bugsift.bot.trackers.base import TrackerAdapter
from bugsift.settings import Settings

KINDS = ("redmine", "bugzilla", "github", "jira")


def adapter_for(kind: str, settings: Settings) -> TrackerAdapter:
    """The adapter of a tracker kind, configured from the sync settings (the bot's own key wins)."""
    key = settings.bot_api_key
    if kind == "redmine":
        from bugsift.bot.trackers.redmine import RedmineAdapter

        if not settings.redmine_url:
            raise ValueError("the bot's Redmine rules need BUGSIFT_REDMINE_URL")
        return RedmineAdapter(settings.redmine_url, key or settings.redmine_api_key, settings.http_timeout_s)
    raise ValueError(f"the bot cannot write to {kind!r} trackers yet (it can: {', '.join(KINDS[:1])})")
