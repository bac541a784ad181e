"""Where the bot reads a report live and writes to it: one adapter per tracker (`base.TrackerAdapter`)."""

from __future__ import annotations

from typing import Any

from bugsift.bot.trackers.base import TrackerAdapter
from bugsift.settings import Settings

KINDS = ("redmine", "bugzilla", "github", "jira")
# What each action of a rule writes (a set writes the task's field).
ACTION_FIELDS = {"label": "label", "comment": "comment"}


def adapter_for(kind: str, settings: Settings) -> TrackerAdapter:
    """The adapter of a tracker kind, configured from the sync settings (the bot's own key wins)."""
    key = settings.bot_api_key
    timeout = settings.http_timeout_s
    if kind == "redmine":
        from bugsift.bot.trackers.redmine import RedmineAdapter

        if not settings.redmine_url:
            raise ValueError("the bot's Redmine rules need BUGSIFT_REDMINE_URL")
        return RedmineAdapter(settings.redmine_url, key or settings.redmine_api_key, timeout)
    if kind == "bugzilla":
        from bugsift.bot.trackers.bugzilla import BugzillaAdapter

        if not settings.bugzilla_url:
            raise ValueError("the bot's Bugzilla rules need BUGSIFT_BUGZILLA_URL")
        return BugzillaAdapter(settings.bugzilla_url, key or settings.bugzilla_api_key, timeout)
    if kind == "github":
        from bugsift.bot.trackers.github import GitHubAdapter

        if not settings.github_repo:
            raise ValueError("the bot's GitHub rules need BUGSIFT_GITHUB_REPO (owner/name)")
        return GitHubAdapter(
            settings.github_api_url, settings.github_repo, key or settings.github_token, timeout
        )
    if kind == "jira":
        from bugsift.bot.trackers.jira import JiraAdapter

        if not settings.jira_url:
            raise ValueError("the bot's Jira rules need BUGSIFT_JIRA_URL")
        # The bot's own key is its user's token (or "user:token"); without one it writes as the sync user.
        user = None if key else settings.jira_user
        return JiraAdapter(settings.jira_url, user, key or settings.jira_token, timeout)
    raise ValueError(f"the bot cannot write to {kind!r} trackers (it can: {', '.join(KINDS)})")


def check_rule(adapter: Any, rule: Any) -> None:
    """Say at plan and run time, not at the first write, when a rule asks a tracker for what it lacks
    (GitHub has no component or type field; Redmine has no labels; Jira's severity is a custom field)."""
    field = ACTION_FIELDS.get(rule.action, rule.task)
    supports = getattr(adapter, "supports", None)
    if supports is None or supports(field):
        return
    # An adapter's own explanation is about the fields it lacks for every rule (GitHub) or its type.
    own = getattr(adapter, "unsupported", None) if adapter.name == "github" or field == "type" else None
    why = own or f"{adapter.name} has no {field} field to write"
    raise ValueError(f"{rule.action} {rule.task} is not possible on {adapter.name}: {why}")
