"""Jira: ``GET /rest/api/2/issue/KEY?expand=changelog`` to read (the changelog for what people removed,
``fields.comment`` for the bot's marked comment), ``PUT /rest/api/2/issue/KEY`` with ``update`` to set the
components or add a label (``update``) or the priority (``fields``), each with the note as a comment of the
same edit; ``POST .../KEY/comment`` to
comment and ``PUT .../KEY/comment/ID`` to edit the bot's comment.

Who is a person: every changelog entry and comment whose author is not the bot's own account
(``GET /rest/api/2/myself``: ``accountId`` on Cloud, ``name``/``key`` on Server). The version is
``fields.updated``. The issue type is not set: where workflows differ Jira changes it only through "Move".
"""

from __future__ import annotations

from typing import Any

from bugsift.bot.trackers.base import LiveReport, Write, marked_rules
from bugsift.bot.trackers.rest import get_json, write_json
from bugsift.sync.http import TrackerError, make_session

FIELDS = ("component", "priority", "label", "comment")
FIELD_WORDS = {"component": "component", "type": "issue type", "priority": "priority", "label": "label"}
# Changelog item field names -> the bot's fields.
CHANGELOG_FIELDS = {"component": "component", "labels": "label", "issuetype": "type", "priority": "priority"}
READ_FIELDS = "updated,components,labels,issuetype,priority,project,comment"
IDENTITY_KEYS = ("accountId", "name", "key")


def auth_of(user: str | None, token: str | None) -> tuple[dict[str, str], tuple[str, str] | None]:
    """(headers, basic auth) as the sync client does: user + token is basic auth (Cloud: e-mail + API
    token), a token alone a personal access token (Server/Data Center). ``user:token`` in one key is
    split, so that the bot's own key can name its own user."""
    if token and not user and ":" in token:
        user, token = token.split(":", 1)
    if token and user:
        return {}, (user, token)
    return ({"Authorization": f"Bearer {token}"} if token else {}), None


class JiraAdapter:
    name = "jira"
    field_words = FIELD_WORDS
    unsupported = "Jira issue types are not set by the bot (Jira changes them through Move): label or comment"

    def __init__(
        self,
        base_url: str,
        user: str | None,
        token: str | None,
        timeout_s: float = 30.0,
        retries: int = 5,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        headers, basic = auth_of(user, token)
        self.session = make_session(retries, 1.0, headers)
        if basic:
            self.session.auth = basic
        self._me: dict[str, str] | None = None

    def close(self) -> None:
        self.session.close()

    def supports(self, field: str) -> bool:
        return field in FIELDS

    # --- reading -------------------------------------------------------------------------------------

    def version_of(self, raw: dict[str, Any]) -> str | None:
        fields = raw.get("fields") if isinstance(raw.get("fields"), dict) else raw
        value = fields.get("updated")
        return value if isinstance(value, str) else None

    @property
    def me(self) -> dict[str, str]:
        if self._me is None:
            data, _ = get_json(self.session, f"{self.base_url}/rest/api/2/myself", None, self.timeout_s)
            me = {k: data[k] for k in IDENTITY_KEYS if isinstance(data, dict) and data.get(k)}
            if not me:
                raise TrackerError(
                    f"{self.base_url}/rest/api/2/myself: no account (is the bot's token right?)"
                )
            self._me = me
        return self._me

    def _is_bot(self, user: Any) -> bool:
        if not isinstance(user, dict):
            return False
        return any(user.get(k) == v for k, v in self.me.items())

    def read(self, external_id: str, project: str) -> LiveReport | None:
        url = f"{self.base_url}/rest/api/2/issue/{external_id}"
        issue, _ = get_json(self.session, url, {"expand": "changelog", "fields": READ_FIELDS}, self.timeout_s)
        fields = issue.get("fields") if isinstance(issue, dict) else None
        if not isinstance(fields, dict):
            return None
        components = [
            c["name"] for c in fields.get("components") or [] if isinstance(c, dict) and c.get("name")
        ]
        live = LiveReport(
            external_id=external_id,
            version=fields.get("updated"),
            values={
                "component": components[0] if components else None,
                "type": (fields.get("issuetype") or {}).get("name"),
                "priority": (fields.get("priority") or {}).get("name"),
            },
            labels=set(fields.get("labels") or []),
        )
        for history in (issue.get("changelog") or {}).get("histories") or []:
            if self._is_bot(history.get("author")):
                continue
            for item in history.get("items") or []:
                field = CHANGELOG_FIELDS.get(str(item.get("field", "")).lower())
                if field is None:
                    continue
                before, after = item.get("fromString") or "", item.get("toString") or ""
                # Labels are one space-separated change; a component item is one value.
                removed = set(before.split()) - set(after.split()) if field == "label" else {before} - {""}
                live.removed_by_people.setdefault(field, set()).update(removed)
                live.changed_by_people_after[field] = max(
                    live.changed_by_people_after.get(field, ""), history.get("created") or ""
                )
        for comment in (fields.get("comment") or {}).get("comments") or []:
            if self._is_bot(comment.get("author")):
                for rule in marked_rules(comment.get("body") or ""):
                    live.bot_comments.setdefault(rule, str(comment["id"]))
        return live

    # --- writing -------------------------------------------------------------------------------------

    def write(self, change: Write) -> dict[str, Any]:
        issue = f"{self.base_url}/rest/api/2/issue/{change.external_id}"
        if change.field == "comment":
            if change.comment_id:  # the rule's earlier comment: edit it, never post another
                return self._send("PUT", f"{issue}/comment/{change.comment_id}", {"body": change.note})
            return self._send("POST", f"{issue}/comment", {"body": change.note})
        if change.field == "unlabel":  # an undo: the note goes in the bot's own comment, edited after
            return self._send("PUT", issue, {"update": {"labels": [{"remove": change.new_value}]}})
        update: dict[str, Any] = {"comment": [{"add": {"body": change.note}}]}
        if change.field == "priority":
            # A plain field, set through "fields"; the note goes in "update" of the same edit.
            priority = {"name": change.new_value} if change.new_value else None
            return self._send("PUT", issue, {"fields": {"priority": priority}, "update": update})
        if change.field == "component":
            # "set" replaces the issue's components: the bot sets one only where there was none (or undoes).
            names = [{"name": change.new_value}] if change.new_value else []
            update["components"] = [{"set": names}]
        elif change.field == "label":
            update["labels"] = [{"add": change.new_value}]
        else:
            raise TrackerError(f"{self.unsupported} (asked to set the {change.field})")
        return self._send("PUT", issue, {"update": update})

    def _send(self, method: str, url: str, body: dict[str, Any]) -> dict[str, Any]:
        answer, _ = write_json(self.session, method, url, body, self.timeout_s)
        return answer
