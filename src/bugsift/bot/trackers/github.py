"""GitHub: ``GET /repos/O/R/issues/N`` to read (``/events`` for labels people removed, ``/comments`` for the
bot's marked comment), ``POST .../issues/N/labels`` to add a label, ``POST .../issues/N/comments`` to comment
and ``PATCH .../issues/comments/ID`` to edit the bot's comment; an undo takes the label off with
``DELETE .../issues/N/labels/NAME``.

GitHub issues have no component or type field: both are labels there, so a rule may only label or comment
(`supports`). A label is added with the rule's note as a comment of its own, right after it. Who is a
person: every event and comment whose actor / user is not the bot's own login (``GET /user``). The version
is ``updated_at``, which labels and comments move too.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from bugsift.bot.trackers.base import LiveReport, Write, marked_rules
from bugsift.bot.trackers.rest import get_json, write_json
from bugsift.sources.github import type_from_labels
from bugsift.sync.github import API_VERSION
from bugsift.sync.http import TrackerError, make_session

FIELDS = ("label", "comment")
FIELD_WORDS = {field: "label" for field in ("component", "type", "severity", "priority", "label")}
UNSUPPORTED = (
    "GitHub issues have no component or type field (nor severity or priority): "
    'use action = "label" (or "comment"), e.g. with label_format = "priority: {value}"'
)
PER_PAGE = 100
MAX_PAGES = 20  # 2,000 events or comments: far more than one issue's triage history


class GitHubAdapter:
    name = "github"
    field_words = FIELD_WORDS
    unsupported = UNSUPPORTED

    def __init__(
        self, base_url: str, repo: str, token: str | None, timeout_s: float = 30.0, retries: int = 5
    ) -> None:
        if repo.count("/") != 1:
            raise ValueError(f"a GitHub repository is owner/name, not {repo!r}")
        self.base_url = base_url.rstrip("/")
        self.repo = repo
        self.timeout_s = timeout_s
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.session = make_session(retries, 1.0, headers)
        self._bot_login: str | None = None

    def close(self) -> None:
        self.session.close()

    def supports(self, field: str) -> bool:
        return field in FIELDS

    def _repo(self, project: str) -> str:
        """The report's own repository (stored as its project), else the configured one."""
        return project if project.count("/") == 1 else self.repo

    # --- reading -------------------------------------------------------------------------------------

    def version_of(self, raw: dict[str, Any]) -> str | None:
        value = raw.get("updated_at")
        return value if isinstance(value, str) else None

    @property
    def bot_login(self) -> str:
        if self._bot_login is None:
            data, _ = get_json(self.session, f"{self.base_url}/user", None, self.timeout_s)
            if not isinstance(data, dict) or not isinstance(data.get("login"), str):
                raise TrackerError(f"{self.base_url}/user: no login (is the bot's token right?)")
            self._bot_login = data["login"]
        return self._bot_login

    def _all(self, url: str) -> list[dict[str, Any]]:
        """Every item of a paged list, following the ``Link: rel="next"`` header."""
        items: list[dict[str, Any]] = []
        params: dict[str, str] | None = {"per_page": str(PER_PAGE)}
        for _ in range(MAX_PAGES):
            data, response = get_json(self.session, url, params, self.timeout_s)
            if response is None or not isinstance(data, list):
                break
            items += [item for item in data if isinstance(item, dict)]
            url, params = response.links.get("next", {}).get("url"), None
            if not url:
                break
        return items

    def read(self, external_id: str, project: str) -> LiveReport | None:
        base = f"{self.base_url}/repos/{self._repo(project)}/issues/{external_id}"
        issue, _ = get_json(self.session, base, None, self.timeout_s)
        if not isinstance(issue, dict):
            return None
        names = [label["name"] for label in issue.get("labels") or [] if isinstance(label, dict)]
        live = LiveReport(
            external_id=external_id,
            version=issue.get("updated_at"),
            values={"type": type_from_labels(names), "component": None},
            labels=set(names),
        )
        for event in self._all(f"{base}/events"):
            if event.get("event") != "unlabeled" or (event.get("actor") or {}).get("login") == self.bot_login:
                continue
            name = (event.get("label") or {}).get("name")
            if name:
                live.removed_by_people.setdefault("label", set()).add(name)
                live.changed_by_people_after["label"] = max(
                    live.changed_by_people_after.get("label", ""), event.get("created_at") or ""
                )
        for comment in self._all(f"{base}/comments"):
            if (comment.get("user") or {}).get("login") == self.bot_login:
                for rule in marked_rules(comment.get("body") or ""):
                    live.bot_comments.setdefault(rule, str(comment["id"]))
        return live

    # --- writing -------------------------------------------------------------------------------------

    def write(self, change: Write) -> dict[str, Any]:
        repo = f"{self.base_url}/repos/{self._repo(change.project)}"
        if change.field == "label":
            # The label first: if the run dies before the comment, a rerun finds the label and stops,
            # rather than finding a comment about a label that is not there.
            labelled = self._send(
                "POST", f"{repo}/issues/{change.external_id}/labels", {"labels": [change.new_value]}
            )
            noted = self._comment(repo, change)
            return {**noted, "label": labelled}
        if change.field == "comment":
            return self._comment(repo, change)
        if change.field == "unlabel":
            name = quote(change.new_value, safe="")
            return {"labels": self._send("DELETE", f"{repo}/issues/{change.external_id}/labels/{name}", None)}
        raise TrackerError(f"{UNSUPPORTED} (asked to set the {change.field})")

    def _comment(self, repo: str, change: Write) -> dict[str, Any]:
        if change.comment_id:  # the rule's earlier comment: edit it, never post another
            return self._send("PATCH", f"{repo}/issues/comments/{change.comment_id}", {"body": change.note})
        return self._send("POST", f"{repo}/issues/{change.external_id}/comments", {"body": change.note})

    def _send(self, method: str, url: str, body: dict[str, Any] | None) -> dict[str, Any]:
        answer, _ = write_json(self.session, method, url, body, self.timeout_s)
        return answer
