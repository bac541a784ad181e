"""Redmine: ``GET /issues/ID.json?include=journals`` to read, ``PUT /issues/ID.json`` with ``category_id``,
``tracker_id``, ``priority_id`` (ids from ``GET /enumerations/issue_priorities.json``) and ``notes`` to
write, ``PUT /journals/ID.json`` to edit the bot's note (Redmine 5.0+).

Who is a person: every journal whose user is not the bot's own user (``/users/current.json`` for the
API key the bot writes with). Redmine has no labels and no severity: a rule may set the category, the
tracker or the priority, or comment.
"""

from __future__ import annotations

from typing import Any

import requests

from bugsift.bot.trackers.base import LiveReport, Write, WriteRefused, answer_of, marked_rules, send
from bugsift.sync.http import TrackerError, make_session

# The bot's field -> the issue attribute Redmine changes and journals.
ATTRIBUTES = {"component": "category_id", "type": "tracker_id", "priority": "priority_id"}
FIELDS = ("component", "type", "priority", "comment")
FIELD_WORDS = {"component": "category", "type": "tracker", "priority": "priority"}  # Redmine's own words


class RedmineAdapter:
    name = "redmine"
    field_words = FIELD_WORDS

    def __init__(self, base_url: str, api_key: str | None, timeout_s: float = 30.0, retries: int = 5) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        headers = {"X-Redmine-API-Key": api_key} if api_key else {}
        self.session = make_session(retries, 1.0, headers)
        self._bot_user: int | None = None
        self._trackers: dict[str, str] | None = None
        self._priorities: dict[str, str] | None = None
        self._categories: dict[str, dict[str, str]] = {}  # project id -> category id -> name
        self._project_ids: dict[str, str] = {}  # issue id -> its project's id, from the last read

    def close(self) -> None:
        self.session.close()

    def supports(self, field: str) -> bool:
        return field in FIELDS

    # --- reading -------------------------------------------------------------------------------------

    def version_of(self, raw: dict[str, Any]) -> str | None:
        issue = raw.get("issue") if isinstance(raw.get("issue"), dict) else raw
        value = issue.get("updated_on")
        return value if isinstance(value, str) else None

    def _get(self, path: str, params: dict[str, str] | None = None) -> Any:
        url = f"{self.base_url}{path}"
        try:
            response = self.session.get(url, params=params, timeout=self.timeout_s)
        except requests.RequestException as error:
            raise TrackerError(f"GET {url} failed: {error}") from None
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise TrackerError(f"GET {url} failed: HTTP {response.status_code} {response.text[:200]}")
        return response.json()

    @property
    def bot_user(self) -> int:
        if self._bot_user is None:
            data = self._get("/users/current.json")
            if not isinstance(data, dict) or not isinstance(data.get("user"), dict):
                raise TrackerError(
                    f"{self.base_url}/users/current.json: no user (is the bot's API key right?)"
                )
            self._bot_user = int(data["user"]["id"])
        return self._bot_user

    def _tracker_names(self) -> dict[str, str]:
        if self._trackers is None:
            data = self._get("/trackers.json") or {}
            self._trackers = {str(t["id"]): t["name"] for t in data.get("trackers", [])}
        return self._trackers

    def _priority_names(self) -> dict[str, str]:
        if self._priorities is None:
            data = self._get("/enumerations/issue_priorities.json") or {}
            self._priorities = {str(p["id"]): p["name"] for p in data.get("issue_priorities", [])}
        return self._priorities

    def _category_names(self, project_id: str) -> dict[str, str]:
        if project_id not in self._categories:
            data = self._get(f"/projects/{project_id}/issue_categories.json") or {}
            self._categories[project_id] = {str(c["id"]): c["name"] for c in data.get("issue_categories", [])}
        return self._categories[project_id]

    def _names(self, attribute: str, project_id: str) -> dict[str, str]:
        if attribute == "priority_id":
            return self._priority_names()
        return self._category_names(project_id) if attribute == "category_id" else self._tracker_names()

    def read(self, external_id: str, project: str) -> LiveReport | None:
        data = self._get(f"/issues/{external_id}.json", {"include": "journals"})
        issue = data.get("issue") if isinstance(data, dict) else None
        if not isinstance(issue, dict):
            return None
        project_id = str((issue.get("project") or {}).get("id", ""))
        self._project_ids[external_id] = project_id
        live = LiveReport(
            external_id=external_id,
            version=issue.get("updated_on"),
            values={
                "component": (issue.get("category") or {}).get("name"),
                "type": (issue.get("tracker") or {}).get("name"),
                "priority": (issue.get("priority") or {}).get("name"),
            },
        )
        for journal in issue.get("journals") or []:
            by_bot = (journal.get("user") or {}).get("id") == self.bot_user
            notes = journal.get("notes") or ""
            if by_bot:
                for rule in marked_rules(notes):
                    live.bot_comments.setdefault(rule, str(journal["id"]))
            if by_bot:
                continue
            for detail in journal.get("details") or []:
                field = next((f for f, a in ATTRIBUTES.items() if detail.get("name") == a), None)
                if field is None or detail.get("property") != "attr":
                    continue
                names = self._names(ATTRIBUTES[field], project_id)
                old = detail.get("old_value")
                if old:
                    live.removed_by_people.setdefault(field, set()).add(names.get(str(old), f"#{old}"))
                live.changed_by_people_after[field] = max(
                    live.changed_by_people_after.get(field, ""), journal.get("created_on") or ""
                )
        return live

    # --- writing -------------------------------------------------------------------------------------

    def write(self, change: Write) -> dict[str, Any]:
        if change.field == "comment":
            return self._comment(change)
        attribute = ATTRIBUTES.get(change.field)
        if attribute is None:
            raise TrackerError(
                f"Redmine has no field for {change.field!r} (it can set {', '.join(ATTRIBUTES)})"
            )
        value_id: str | int = ""
        if change.new_value:
            value_id = self._id_of(attribute, change.new_value, change.external_id)
        if attribute == "priority_id":
            if not value_id:
                raise TrackerError("a Redmine issue always has a priority: there is none to clear")
            value_id = int(value_id)
        body = {"issue": {attribute: value_id, "notes": change.note}}
        return self._put(f"/issues/{change.external_id}.json", body)

    def _id_of(self, attribute: str, name: str, external_id: str) -> str:
        project_id = self._project_ids.get(external_id)
        if project_id is None:
            data = self._get(f"/issues/{external_id}.json") or {}
            project_id = str(((data.get("issue") or {}).get("project") or {}).get("id", ""))
        for value_id, value_name in self._names(attribute, project_id).items():
            if value_name == name:
                return value_id
        what = {"category_id": "category of this issue's project", "priority_id": "issue priority"}.get(
            attribute, "tracker"
        )
        raise TrackerError(f"Redmine has no {what} named {name!r}")

    def _comment(self, change: Write) -> dict[str, Any]:
        if change.comment_id:  # the rule's earlier comment: edit it, never post another
            return self._put(f"/journals/{change.comment_id}.json", {"journal": {"notes": change.note}})
        return self._put(f"/issues/{change.external_id}.json", {"issue": {"notes": change.note}})

    def _put(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.base_url}{path}"
        response = send(self.session, "PUT", url, body, self.timeout_s)
        answer = answer_of(response)
        if response.status_code >= 400:
            raise WriteRefused(f"PUT {url}: HTTP {response.status_code} {response.text[:300]}", answer)
        return answer
