"""Bugzilla: ``GET /rest/bug/ID`` to read (``/history`` for what people removed, ``/comment`` for the bot's
marked comment), ``PUT /rest/bug/ID`` to set the component (with its product), the type, the severity or
the priority, or add a keyword, each with the note as the change's comment; ``POST /rest/bug/ID/comment``
to comment and ``PUT /rest/bug/comment/ID`` to edit the bot's comment (Bugzilla 5.1+ / BMO).

Who is a person: every history entry and comment whose ``who`` / ``creator`` is not the bot's own login
(``GET /rest/whoami`` for the API key the bot writes with). The version is ``last_change_time``.
"""

from __future__ import annotations

from typing import Any

from bugsift.bot.trackers.base import LiveReport, Write, marked_rules
from bugsift.bot.trackers.rest import get_json, write_json
from bugsift.sync.http import TrackerError, make_session

FIELDS = ("component", "type", "severity", "priority", "label", "comment")
FIELD_WORDS = {
    "component": "component",
    "type": "type",
    "severity": "severity",
    "priority": "priority",
    "label": "keyword",
}
# History field names -> the bot's fields (older Bugzilla calls the type bug_type, the severity
# bug_severity).
HISTORY_FIELDS = {
    "component": "component",
    "type": "type",
    "bug_type": "type",
    "severity": "severity",
    "bug_severity": "severity",
    "priority": "priority",
    "keywords": "label",
}
UNSET = "--"  # what Bugzilla's severity and priority hold when nobody chose one


class BugzillaAdapter:
    name = "bugzilla"
    field_words = FIELD_WORDS

    def __init__(self, base_url: str, api_key: str | None, timeout_s: float = 30.0, retries: int = 5) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        headers = {"X-BUGZILLA-API-KEY": api_key} if api_key else {}
        self.session = make_session(retries, 1.0, headers)
        self._bot_login: str | None = None
        self._products: dict[str, str] = {}  # bug id -> its product, from the last read

    def close(self) -> None:
        self.session.close()

    def supports(self, field: str) -> bool:
        return field in FIELDS

    # --- reading -------------------------------------------------------------------------------------

    def version_of(self, raw: dict[str, Any]) -> str | None:
        bugs = raw.get("bugs")
        bug = bugs[0] if isinstance(bugs, list) and bugs and isinstance(bugs[0], dict) else raw
        value = bug.get("last_change_time")
        return value if isinstance(value, str) else None

    def _get(self, path: str) -> Any:
        data, _ = get_json(self.session, f"{self.base_url}{path}", None, self.timeout_s)
        return data

    @property
    def bot_login(self) -> str:
        if self._bot_login is None:
            data = self._get("/rest/whoami")
            if not isinstance(data, dict) or not isinstance(data.get("name"), str):
                raise TrackerError(f"{self.base_url}/rest/whoami: no user (is the bot's API key right?)")
            self._bot_login = data["name"]
        return self._bot_login

    def read(self, external_id: str, project: str) -> LiveReport | None:
        data = self._get(f"/rest/bug/{external_id}")
        bugs = data.get("bugs") if isinstance(data, dict) else None
        if not bugs or not isinstance(bugs[0], dict):
            return None
        bug = bugs[0]
        self._products[external_id] = bug.get("product") or ""
        live = LiveReport(
            external_id=external_id,
            version=bug.get("last_change_time"),
            values={
                "component": bug.get("component"),
                "type": bug.get("type"),
                "severity": bug.get("severity"),
                "priority": bug.get("priority"),
                "product": bug.get("product"),
            },
            labels=set(bug.get("keywords") or []),
        )
        self._read_history(external_id, live)
        self._read_comments(external_id, live)
        return live

    def _read_history(self, external_id: str, live: LiveReport) -> None:
        data = self._get(f"/rest/bug/{external_id}/history") or {}
        for bug in data.get("bugs") or []:
            for entry in bug.get("history") or []:
                if entry.get("who") == self.bot_login:
                    continue
                for change in entry.get("changes") or []:
                    field = HISTORY_FIELDS.get(change.get("field_name"))
                    if field is None:
                        continue
                    removed = change.get("removed") or ""
                    # Keywords are one comma-separated change; a component or type is one value.
                    values = [v.strip() for v in removed.split(",")] if field == "label" else [removed]
                    live.removed_by_people.setdefault(field, set()).update(v for v in values if v)
                    live.changed_by_people_after[field] = max(
                        live.changed_by_people_after.get(field, ""), entry.get("when") or ""
                    )

    def _read_comments(self, external_id: str, live: LiveReport) -> None:
        data = self._get(f"/rest/bug/{external_id}/comment") or {}
        comments = ((data.get("bugs") or {}).get(str(external_id)) or {}).get("comments") or []
        for comment in comments:
            if (comment.get("creator") or comment.get("author")) != self.bot_login:
                continue
            for rule in marked_rules(comment.get("text") or comment.get("raw_text") or ""):
                live.bot_comments.setdefault(rule, str(comment["id"]))

    # --- writing -------------------------------------------------------------------------------------

    def write(self, change: Write) -> dict[str, Any]:
        bug_id = change.external_id
        if change.field == "comment":
            if change.comment_id:  # the rule's earlier comment: edit it, never post another
                return self._send("PUT", f"/rest/bug/comment/{change.comment_id}", {"comment": change.note})
            return self._send("POST", f"/rest/bug/{bug_id}/comment", {"comment": change.note})
        if change.field == "unlabel":  # an undo: the note goes in the bot's own comment, edited after
            return self._send("PUT", f"/rest/bug/{bug_id}", {"keywords": {"remove": [change.new_value]}})
        body: dict[str, Any] = {"comment": {"body": change.note}}
        if change.field == "component":
            # Bugzilla checks a component against the bug's product: send the product it has (the planner
            # never moves a bug to another product), so that the pair is checked as one.
            product = self._products.get(bug_id) or change.project
            body.update({"component": change.new_value, **({"product": product} if product else {})})
        elif change.field == "type":
            body["type"] = change.new_value
        elif change.field in ("severity", "priority"):
            body[change.field] = change.new_value or UNSET  # an undo back to "nothing chosen"
        elif change.field == "label":
            body["keywords"] = {"add": [change.new_value]}
        else:
            raise TrackerError(f"Bugzilla has no field for {change.field!r} (it can set {', '.join(FIELDS)})")
        return self._send("PUT", f"/rest/bug/{bug_id}", body)

    def _send(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer, response = write_json(self.session, method, f"{self.base_url}{path}", body, self.timeout_s)
        # PUT /rest/bug/ID answers the bug's new last_change_time: the version the bot's own write made.
        try:
            changed = (response.json().get("bugs") or [{}])[0]
        except (ValueError, AttributeError, IndexError):
            changed = {}
        if isinstance(changed, dict) and isinstance(changed.get("last_change_time"), str):
            answer["version"] = changed["last_change_time"]
        return answer
