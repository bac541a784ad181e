"""Seed a Redmine with real Apache Jira reports (../shared/data/apache-jira), through its REST API.

Jira issues become Redmine issues of one project: summary -> subject, description, the first component
-> a category (created on the way), priority -> a Redmine priority. Known duplicate pairs
(duplicate_pairs.csv) whose both ends are seeded get a ``duplicates`` relation. Then every fifth issue
is edited (another category, the Support tracker, a note), so that its journals hold the filing-time
values to recover.
"""

from __future__ import annotations

import csv
import json
import lzma
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redmine_server import RedmineServer

PRIORITIES = {
    "Blocker": "Immediate",
    "Critical": "Urgent",
    "Major": "High",
    "Minor": "Normal",
    "Trivial": "Low",
}
PROJECT = "hive"


@dataclass
class Seeded:
    """What the seed put in Redmine: Jira key -> Redmine id, and what each issue was filed with."""

    ids: dict[str, int] = field(default_factory=dict)
    filed_category: dict[int, str] = field(default_factory=dict)
    edited: dict[int, str] = field(default_factory=dict)
    """Redmine id -> the category it was moved to (its tracker became Support)."""
    duplicates: dict[int, int] = field(default_factory=dict)
    """Redmine id of a duplicate -> Redmine id of its original."""


def pick_issues(data: Path, count: int, components: int = 4) -> list[dict[str, Any]]:
    """``count`` HIVE issues with one of the project's ``components`` commonest components, including
    both ends of the HIVE duplicate pairs among them."""
    with lzma.open(data / "jira_issues.jsonl.xz", "rt", encoding="utf-8") as fh:
        hive = [issue for line in fh if (issue := json.loads(line)).get("jira_project") == "HIVE"]
    common = {
        name
        for name, _ in Counter(i["components"][0] for i in hive if i["components"]).most_common(components)
    }
    usable = {i["key"]: i for i in hive if len(i["components"]) == 1 and i["components"][0] in common}
    with open(data / "duplicate_pairs.csv", newline="", encoding="utf-8") as fh:
        pairs = [(row["duplicate"], row["original"]) for row in csv.DictReader(fh)]
    chosen: dict[str, dict[str, Any]] = {}
    for duplicate, original in pairs:
        if duplicate in usable and original in usable and len(chosen) < count // 5:
            chosen[original], chosen[duplicate] = usable[original], usable[duplicate]
    for key, issue in usable.items():
        if len(chosen) >= count:
            break
        chosen.setdefault(key, issue)
    return sorted(chosen.values(), key=lambda issue: issue["created"])


def duplicate_pairs(data: Path) -> list[tuple[str, str]]:
    with open(data / "duplicate_pairs.csv", newline="", encoding="utf-8") as fh:
        return [(row["duplicate"], row["original"]) for row in csv.DictReader(fh)]


def seed(server: RedmineServer, data: Path, count: int = 150) -> Seeded:
    issues = pick_issues(data, count)
    server.api(
        "POST",
        "/projects.json",
        {"project": {"name": "Hive", "identifier": PROJECT, "tracker_ids": [1, 2, 3], "is_public": False}},
    )
    categories = _categories(server, sorted({i["components"][0] for i in issues}))
    priorities = {
        p["name"]: p["id"]
        for p in server.api("GET", "/enumerations/issue_priorities.json")["issue_priorities"]
    }
    seeded = Seeded()
    for issue in issues:
        body = {
            "project_id": PROJECT,
            "tracker_id": 1,
            "subject": issue["summary"][:255],
            "description": issue.get("description") or "",
            "category_id": categories[issue["components"][0]],
            "priority_id": priorities[PRIORITIES.get(issue.get("priority") or "", "Normal")],
        }
        created = server.api("POST", "/issues.json", {"issue": body})["issue"]
        seeded.ids[issue["key"]] = created["id"]
        seeded.filed_category[created["id"]] = issue["components"][0]
    for duplicate, original in duplicate_pairs(data):
        if duplicate in seeded.ids and original in seeded.ids:
            a, b = seeded.ids[duplicate], seeded.ids[original]
            server.api(
                "POST",
                f"/issues/{a}/relations.json",
                {"relation": {"issue_to_id": b, "relation_type": "duplicates"}},
            )
            seeded.duplicates[a] = b
    names = sorted(categories)
    for n, redmine_id in enumerate(sorted(seeded.filed_category)[::5]):
        moved_to = next(c for c in names[n % len(names) :] + names if c != seeded.filed_category[redmine_id])
        edit = {
            "category_id": categories[moved_to],
            "tracker_id": 3,
            "notes": "Triaged: moved to another area.",
        }
        server.api("PUT", f"/issues/{redmine_id}.json", {"issue": edit})
        seeded.edited[redmine_id] = moved_to
    return seeded


def _categories(server: RedmineServer, names: list[str]) -> dict[str, int]:
    return {
        name: server.api(
            "POST", f"/projects/{PROJECT}/issue_categories.json", {"issue_category": {"name": name}}
        )["issue_category"]["id"]
        for name in names
    }
