"""A Redmine for the bot tests: real HIVE issues of four components, the older ones triaged (a category
set, and the priority their Jira reporters gave them), the newest filed with no category and Redmine's
default priority (the untriaged reports the bot acts on), and a bot user."""

from __future__ import annotations

import json
import lzma
import secrets
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redmine_seed import PRIORITIES
from redmine_server import RedmineServer

PROJECT = "hive"
COMPONENTS = ("Metastore", "JDBC", "Spark", "Transactions")


@dataclass
class BotSeed:
    categories: dict[str, int] = field(default_factory=dict)
    """Category name -> Redmine id."""
    priorities: dict[str, int] = field(default_factory=dict)
    """Priority name -> Redmine id (``GET /enumerations/issue_priorities.json``)."""
    untriaged: dict[int, str] = field(default_factory=dict)
    """Redmine id of an issue filed with no category -> the component Jira gave it."""
    texts: dict[int, dict[str, Any]] = field(default_factory=dict)
    """Redmine id of an untriaged issue -> the Jira issue it was filed from (to file copies of it)."""
    reserve: list[dict[str, Any]] = field(default_factory=list)
    """Newer real issues not filed yet, for a test that needs untriaged issues of its own."""
    bot_key: str = ""


def pick(data: Path, triaged: int, untriaged: int, reserve: int) -> list[list[dict[str, Any]]]:
    """Per component, its ``triaged`` older issues, then ``untriaged`` newer ones, then ``reserve`` newest
    ones: three lists in time order."""
    by_component: dict[str, list[dict[str, Any]]] = {name: [] for name in COMPONENTS}
    with lzma.open(data / "jira_issues.jsonl.xz", "rt", encoding="utf-8") as fh:
        for line in fh:
            issue = json.loads(line)
            components = issue["components"]
            if issue.get("jira_project") == "HIVE" and len(components) == 1 and components[0] in by_component:
                by_component[components[0]].append(issue)
    parts: list[list[dict[str, Any]]] = [[], [], []]
    for issues in by_component.values():
        issues.sort(key=lambda issue: issue["created"])
        chosen = issues[-(triaged + untriaged + reserve) :]
        parts[0] += chosen[:triaged]
        parts[1] += chosen[triaged : triaged + untriaged]
        parts[2] += chosen[triaged + untriaged :]
    return [sorted(part, key=lambda i: i["created"]) for part in parts]


def seed(
    server: RedmineServer, data: Path, triaged: int = 100, untriaged: int = 8, reserve: int = 4
) -> BotSeed:
    old, new, held_back = pick(data, triaged, untriaged, reserve)
    server.api(
        "POST",
        "/projects.json",
        {"project": {"name": "Hive", "identifier": PROJECT, "tracker_ids": [1, 2, 3], "is_public": False}},
    )
    result = BotSeed(reserve=held_back)
    for name in COMPONENTS:
        body = {"issue_category": {"name": name}}
        created = server.api("POST", f"/projects/{PROJECT}/issue_categories.json", body)
        result.categories[name] = created["issue_category"]["id"]
    listed = server.api("GET", "/enumerations/issue_priorities.json")["issue_priorities"]
    result.priorities = {p["name"]: p["id"] for p in listed}
    for issue in old:
        # Jira's priority mapped as tests/sync does (its 'Major' is Redmine's 'High').
        priority = result.priorities[PRIORITIES.get(issue.get("priority") or "", "Normal")]
        _file(server, issue, result.categories[issue["components"][0]], priority)
    for issue in new:
        redmine_id = _file(server, issue, None)
        result.untriaged[redmine_id] = issue["components"][0]
        result.texts[redmine_id] = issue
    result.bot_key = add_bot_user(server)
    return result


def file_untriaged(server: RedmineServer, issues: list[dict[str, Any]]) -> dict[int, str]:
    """File real issues with no category; Redmine id -> the component Jira gave them."""
    return {_file(server, issue, None): issue["components"][0] for issue in issues}


def _file(
    server: RedmineServer, issue: dict[str, Any], category: int | None, priority: int | None = None
) -> int:
    body: dict[str, Any] = {
        "project_id": PROJECT,
        "tracker_id": 1,
        "subject": issue["summary"][:255],
        "description": (issue.get("description") or "")[:20_000],
    }
    if category is not None:
        body["category_id"] = category
    if priority is not None:  # else Redmine's default, 'Normal'
        body["priority_id"] = priority
    return int(server.api("POST", "/issues.json", {"issue": body})["issue"]["id"])


def add_bot_user(server: RedmineServer) -> str:
    """A Redmine user of the bot's own (an administrator, so that it may edit every project), with an API
    key: its journals are the bot's, everyone else's are a person's."""
    user = server.api(
        "POST",
        "/users.json",
        {
            "user": {
                "login": "bugsift-bot",
                "firstname": "bugsift",
                "lastname": "bot",
                "mail": "bugsift-bot@example.org",
                "password": secrets.token_hex(12),
                "admin": True,
            }
        },
    )["user"]
    key = secrets.token_hex(20)
    with sqlite3.connect(server.database) as db:
        db.execute(
            "INSERT INTO tokens (user_id, action, value, created_on, updated_on) "
            "VALUES (?, 'api', ?, datetime('now'), datetime('now'))",
            (user["id"], key),
        )
    return key
