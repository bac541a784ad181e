"""Real reports for the Bugzilla, GitHub and Jira bot tests: the older ones triaged (a model learns from
them), the newest few of the same components or types filed again as new and untriaged (Bugzilla: in the
product's Untriaged component; GitHub: with no label; Jira: with no component), for the bot to act on."""

from __future__ import annotations

import csv
import json
import lzma
import sys
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

Records = tuple[list[dict[str, Any]], list[dict[str, Any]]]
FILED_AGO = timedelta(days=2)  # the untriaged reports are new: past the grace time, inside max_age_days
MOZILLA_COMPONENTS = (
    ("Core", "DOM"),
    ("Core", "JavaScript Engine"),
    ("Core", "Layout"),
    ("Core", "Graphics"),
    ("Core", "Graphics: WebRender"),
    ("Core", "Audio/Video: Playback"),
    ("Firefox", "General"),
    ("Firefox Build System", "General"),
)
HIVE_COMPONENTS = ("Metastore", "JDBC", "Spark", "Transactions")
GITHUB_REPO = "facebook/react"


def _filed_now(offset: int) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - FILED_AGO + timedelta(minutes=offset)


@lru_cache(maxsize=1)  # the servers copy what they are seeded with
def bugzilla(data: Path, untriaged_per_component: int = 4) -> Records:
    """The Mozilla bugs of eight components; the newest few of each refiled in their product's Untriaged
    component with only their description (no history yet)."""
    with lzma.open(data / "bugzilla-mozilla" / "bugs_full_add08f170.jsonl.xz", "rt", encoding="utf-8") as fh:
        bugs = sorted((json.loads(line) for line in fh), key=lambda b: b["creation_time"])
    bugs = [b for b in bugs if (b["product"], b["component"]) in MOZILLA_COMPONENTS]
    newest = {
        b["id"]
        for pair in MOZILLA_COMPONENTS
        for b in [b for b in bugs if (b["product"], b["component"]) == pair][-untriaged_per_component:]
    }
    refiled = []
    for offset, bug in enumerate(b for b in bugs if b["id"] in newest):
        filed = _filed_now(offset).strftime("%Y-%m-%dT%H:%M:%SZ")
        refiled.append(
            {
                **bug,
                "component": "Untriaged",
                "history": [],
                "comments": bug["comments"][:1],
                "keywords": [],
                "creation_time": filed,
                "last_change_time": filed,
            }
        )
    return [b for b in bugs if b["id"] not in newest], refiled


@lru_cache(maxsize=1)  # the servers copy what they are seeded with
def github(data: Path, untriaged: int = 12, keep_every: int = 2) -> Records:
    """The facebook/react issues of the NLBSE CSV as REST issues (as tests/sync does), numbered in time
    order; the newest few filed again as new with no label, and one in two of the older ones kept
    triaged (time-spread, so that the newest part a model is judged on holds every label)."""
    csv.field_size_limit(sys.maxsize)
    with (data / "github-issues" / "nlbse24_train.csv").open(newline="", encoding="utf-8") as fh:
        rows = sorted(
            (r for r in csv.DictReader(fh) if r["repo"] == GITHUB_REPO), key=lambda r: r["created_at"]
        )
    issues = []
    triaged = len(rows) - untriaged
    for number, row in enumerate(rows, 1):
        if number <= triaged and number % keep_every == 0:
            continue
        created = row["created_at"].replace(" ", "T") + "Z"
        fresh = number > triaged
        if fresh:
            created = _filed_now(number).strftime("%Y-%m-%dT%H:%M:%SZ")
        issues.append(
            {
                "number": number,
                "title": row["title"],
                "body": row["body"],
                "state": "open",
                "labels": [] if fresh else [{"name": row["label"]}],
                "created_at": created,
                "updated_at": created,
                "user": {"login": f"reporter{number}"},
                "comments": 0,
                "repository_url": f"https://api.github.com/repos/{GITHUB_REPO}",
                "html_url": f"https://github.com/{GITHUB_REPO}/issues/{number}",
                "real_label": row["label"],
            }
        )
    return issues[:-untriaged], issues[-untriaged:]


@lru_cache(maxsize=1)  # the servers copy what they are seeded with
def jira(data: Path, triaged_per_component: int = 60, untriaged_per_component: int = 3) -> Records:
    """HIVE issues of four components as REST issues (``fields`` with name objects, as tests/sync
    does), the newest few of each filed again as new with no component."""
    by_component: dict[str, list[dict[str, Any]]] = {name: [] for name in HIVE_COMPONENTS}
    with lzma.open(data / "apache-jira" / "jira_issues.jsonl.xz", "rt", encoding="utf-8") as fh:
        for line in fh:
            issue = json.loads(line)
            components = issue["components"]
            if issue.get("jira_project") == "HIVE" and len(components) == 1 and components[0] in by_component:
                by_component[components[0]].append(issue)
    triaged, untriaged = [], []
    for issues in by_component.values():
        issues.sort(key=lambda i: i["created"])
        chosen = issues[-(triaged_per_component + untriaged_per_component) :]
        triaged += [_jira_rest(i) for i in chosen[:triaged_per_component]]
        untriaged += [_jira_rest(i, fresh=n) for n, i in enumerate(chosen[triaged_per_component:], 1)]
    return triaged, untriaged


def _jira_rest(item: dict[str, Any], fresh: int = 0) -> dict[str, Any]:
    def named(value: str | None) -> dict[str, str] | None:
        return {"name": value} if value else None

    created = item["created"]
    if fresh:
        created = _filed_now(fresh).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    fields = {
        "project": {"key": item["jira_project"]},
        "summary": item["summary"],
        "description": item["description"],
        "created": created,
        "updated": created if fresh else (item.get("resolutiondate") or created),
        "issuetype": named(item["issuetype"]),
        "priority": named(item["priority"]),
        "status": named("Open" if fresh else item["status"]),
        "resolution": None if fresh else named(item["resolution"]),
        "components": [] if fresh else [{"name": c} for c in item["components"]],
        "labels": [] if fresh else item["labels"],
    }
    return {"key": item["key"], "fields": fields, "real_component": item["components"][0]}


@lru_cache(maxsize=1)  # the servers copy what they are seeded with
def jira_priorities(data: Path, component: str = "Hive", triaged: int = 580, untriaged: int = 40) -> Records:
    """The newest HIVE issues of one component, as REST issues: the older ``triaged`` keep the priority
    their reporters gave them (the dialog's 'Major' for half; most of the others 'Critical' in the
    "Hive" component), the newest ``untriaged`` are filed again as new, each with 'Major', the priority
    Jira's create dialog starts at."""
    issues = []
    with lzma.open(data / "apache-jira" / "jira_issues.jsonl.xz", "rt", encoding="utf-8") as fh:
        for line in fh:
            issue = json.loads(line)
            if issue.get("jira_project") == "HIVE" and issue["components"][:1] == [component]:
                issues.append(issue)
    issues.sort(key=lambda i: i["created"])
    chosen = issues[-(triaged + untriaged) :]
    fresh = [_jira_rest(i, fresh=n) for n, i in enumerate(chosen[triaged:], 1)]
    for issue in fresh:
        issue["fields"]["priority"] = {"name": "Major"}
    return [_jira_rest(i) for i in chosen[:triaged]], fresh
