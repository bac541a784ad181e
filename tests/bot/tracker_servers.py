"""Stateful local servers that answer like Bugzilla, GitHub and Jira for the bot's endpoints, so that the
bot's adapters can be tested end to end without those trackers.

Each keeps its reports in memory and answers the reads and writes the adapters make, with the real
APIs' status codes and error bodies (Bugzilla ``{"error": true, "code", "message"}``, GitHub ``{"message",
"documentation_url"}``, Jira ``{"errorMessages", "errors"}``). The caller is told apart by its key: the bot's
token is the bot, any other known token a person. Every write moves the report's version
(``last_change_time``, ``updated_at``, ``fields.updated``) and appends a history entry, event or changelog
entry naming its writer. Every write is recorded (``writes``), the first ``throttle`` writes are answered
429 with ``Retry-After: 1``, and ``before_bot_read[id]`` lets a person change a report after the bot
decided and before it reads the report again to write.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, unquote, urlparse

from jobs_support import JsonHandler

BOT_TOKEN = "bot-token"
PERSON_TOKEN = "person-token"
BOT_LOGIN = "bugsift-bot"
PERSON_LOGIN = "triager"


class TrackerServer(ThreadingHTTPServer):
    daemon_threads = True
    routes: ClassVar[list[tuple[str, str, str]]] = []  # (method, path pattern, handler method name)

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.lock = threading.RLock()
        self.users = {BOT_TOKEN: BOT_LOGIN, PERSON_TOKEN: PERSON_LOGIN}
        self.writes: list[dict[str, Any]] = []
        """Every write that reached the tracker: method, path, body, status, login."""
        self.throttle = 0
        self.before_bot_read: dict[str, Callable[[], None]] = {}
        self.clock = datetime.now(UTC).replace(microsecond=0)
        self.next_id = 1000

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def tick(self) -> datetime:
        """The server's clock for a change: never the same second twice, so every change is a new version."""
        self.clock = max(datetime.now(UTC).replace(microsecond=0), self.clock + timedelta(seconds=1))
        return self.clock

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def bot_writes(self, status: int | None = None) -> list[dict[str, Any]]:
        bot = self.users[BOT_TOKEN]
        return [w for w in self.writes if w["login"] == bot and status in (None, w["status"])]

    # Overridden per tracker.
    def login_of(self, headers: Any) -> str | None:
        raise NotImplementedError

    def error(self, status: int, message: str, field: str | None = None) -> dict[str, Any]:
        raise NotImplementedError


class Handler(JsonHandler):
    server: TrackerServer

    def _answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, b"" if body is None else json.dumps(body).encode(), headers)

    def _route(self, method: str) -> None:
        url = urlparse(self.path)
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"null") if length else None
        server = self.server
        login = server.login_of(self.headers)
        for route_method, pattern, name in server.routes:
            match = re.fullmatch(pattern, url.path)
            if route_method != method or match is None:
                continue
            if method == "GET":
                target = match.groupdict().get("id")
                by_bot = login == server.users[BOT_TOKEN]
                hook = server.before_bot_read.pop(target, None) if by_bot and target else None
                if hook:
                    hook()
                with server.lock:
                    status, answer, headers = getattr(server, name)(login, params, body, **match.groupdict())
                return self._answer(status, answer, headers)
            return self._write(method, url.path, name, login, params, body, match.groupdict())
        self._answer(404, server.error(404, "Not Found"))

    def _write(
        self, method: str, path: str, name: str, login: str | None, params: dict, body: Any, ids: dict
    ) -> None:
        server = self.server
        with server.lock:
            record = {"method": method, "path": path, "body": body, "login": login}
            if login is None:
                status, answer, headers = 401, server.error(401, "authentication required"), {}
            elif server.throttle > 0:
                server.throttle -= 1
                status, answer, headers = 429, server.error(429, "rate limit"), {"Retry-After": "1"}
            else:
                status, answer, headers = getattr(server, name)(login, params, body, **ids)
            server.writes.append({**record, "status": status})
        self._answer(status, answer, headers)

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_PUT(self) -> None:
        self._route("PUT")

    def do_PATCH(self) -> None:
        self._route("PATCH")

    def do_DELETE(self) -> None:
        self._route("DELETE")


Answer = tuple[int, Any, dict[str, str]]


def _ok(body: Any, status: int = 200) -> Answer:
    return status, body, {}


# --- Bugzilla ----------------------------------------------------------------------------------------

BZ_DOCS = "https://bmo.readthedocs.io/en/latest/api/"
# The legal values of bugzilla.mozilla.org's severity and priority ("--": nobody chose one yet).
BZ_LEGAL = {
    "severity": (
        *("--", "S1", "S2", "S3", "S4", "N/A"),
        *("blocker", "critical", "major", "normal", "minor", "trivial"),
    ),
    "priority": ("--", "P1", "P2", "P3", "P4", "P5"),
}
BZ_CODES = {401: 410, 404: 101, 429: 32000, 400: 51}  # login required, bug does not exist, ...


def bz_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class BugzillaServer(TrackerServer):
    """``/rest/whoami``, ``/rest/bug/ID`` (GET, PUT), ``/history``, ``/comment`` (GET, POST) and
    ``/rest/bug/comment/ID`` (PUT). A component must belong to the bug's product."""

    routes: ClassVar[list[tuple[str, str, str]]] = [
        ("GET", r"/rest/whoami", "whoami"),
        ("GET", r"/rest/bug/(?P<id>\d+)", "get_bug"),
        ("GET", r"/rest/bug/(?P<id>\d+)/history", "get_history"),
        ("GET", r"/rest/bug/(?P<id>\d+)/comment", "get_comments"),
        ("PUT", r"/rest/bug/(?P<id>\d+)", "put_bug"),
        ("POST", r"/rest/bug/(?P<id>\d+)/comment", "post_comment"),
        ("PUT", r"/rest/bug/comment/(?P<cid>\d+)", "put_comment"),
    ]

    def __init__(self, bugs: list[dict[str, Any]]) -> None:
        super().__init__()
        self.users = {BOT_TOKEN: "bugsift-bot@example.org", PERSON_TOKEN: "triager@example.org"}
        self.bugs: dict[str, dict[str, Any]] = {}
        self.history: dict[str, list[dict[str, Any]]] = {}
        self.comments: dict[str, list[dict[str, Any]]] = {}
        self.components: dict[str, set[str]] = {}
        for bug in bugs:
            bug = json.loads(json.dumps(bug))
            bug_id = str(bug["id"])
            self.history[bug_id] = bug.pop("history", [])
            self.comments[bug_id] = [
                {**c, "creator": c.get("creator") or c.get("author"), "count": n, "bug_id": int(bug_id)}
                for n, c in enumerate(bug.pop("comments", []))
            ]
            self.bugs[bug_id] = bug
            # Every product has an Untriaged component, where new bugs wait (as on bugzilla.mozilla.org).
            self.components.setdefault(bug["product"], {"Untriaged"}).add(bug["component"])

    def login_of(self, headers: Any) -> str | None:
        return self.users.get(headers.get("X-BUGZILLA-API-KEY") or "")

    def error(self, status: int, message: str, field: str | None = None) -> dict[str, Any]:
        return {
            "error": True,
            "code": BZ_CODES.get(status, 100500),
            "message": message,
            "documentation": BZ_DOCS,
        }

    def full(self, bug_id: str) -> dict[str, Any]:
        """The bug as a sync stores it (``include_fields=_default,comments,history``)."""
        with self.lock:
            bug = {**self.bugs[bug_id], "comments": self.comments[bug_id], "history": self.history[bug_id]}
            return json.loads(json.dumps(bug))

    def _missing(self, bug_id: str) -> Answer | None:
        if bug_id in self.bugs:
            return None
        return 404, self.error(404, f"Bug #{bug_id} does not exist."), {}

    def whoami(self, login: str | None, params: dict, body: Any) -> Answer:
        if login is None:
            return 401, self.error(401, "You must log in before using this part of Bugzilla."), {}
        return _ok({"id": 7 if "bot" in login else 8, "real_name": login.split("@")[0], "name": login})

    def get_bug(self, login: str | None, params: dict, body: Any, id: str) -> Answer:
        return self._missing(id) or _ok({"bugs": [self.bugs[id]], "faults": []})

    def get_history(self, login: str | None, params: dict, body: Any, id: str) -> Answer:
        bug = {"id": int(id), "alias": [], "history": self.history.get(id, [])}
        return self._missing(id) or _ok({"bugs": [bug]})

    def get_comments(self, login: str | None, params: dict, body: Any, id: str) -> Answer:
        return self._missing(id) or _ok({"bugs": {id: {"comments": self.comments[id]}}, "comments": {}})

    def change(self, bug_id: str, login: str, changes: dict[str, tuple[Any, Any]], note: str | None) -> str:
        """Apply field changes (name -> (removed, added)) as ``login``, with a history entry and comment."""
        when = bz_time(self.tick())
        bug = self.bugs[bug_id]
        entry = []
        for name, (removed, added) in changes.items():
            if name == "keywords":
                bug["keywords"] = sorted((set(bug.get("keywords") or []) - set(removed)) | set(added))
                removed, added = ", ".join(removed), ", ".join(added)
            else:
                bug[name] = added
            entry.append({"field_name": name, "removed": removed or "", "added": added or ""})
        if entry:
            self.history[bug_id].append({"when": when, "who": login, "changes": entry})
        if note:
            self._add_comment(bug_id, login, note, when)
        bug["last_change_time"] = when
        return when

    def _add_comment(self, bug_id: str, login: str, text: str, when: str) -> int:
        comment_id = self.new_id()
        comments = self.comments[bug_id]
        comments.append(
            {
                "id": comment_id,
                "bug_id": int(bug_id),
                "count": len(comments),
                "text": text,
                "creator": login,
                "creation_time": when,
                "time": when,
                "is_private": False,
            }
        )
        return comment_id

    def put_bug(self, login: str, params: dict, body: Any, id: str) -> Answer:
        if missing := self._missing(id):
            return missing
        bug, changes = self.bugs[id], {}
        product = body.get("product", bug["product"])
        if product not in self.components:
            return 400, self.error(400, f"There is no product named '{product}'."), {}
        if "component" in body or product != bug["product"]:
            component = body.get("component", bug["component"])
            if component not in self.components[product]:
                message = f"There is no component named '{component}' in the '{product}' product."
                return 400, self.error(400, message), {}
            for name, value in (("product", product), ("component", component)):
                if value != bug[name]:
                    changes[name] = (bug[name], value)
        for name, legal in BZ_LEGAL.items():
            if name in body and body[name] != bug.get(name):
                if body[name] not in legal:
                    return 400, self.error(400, f"There is no {name.capitalize()} named '{body[name]}'."), {}
                changes[name] = (bug.get(name), body[name])
        if "type" in body and body["type"] != bug.get("type"):
            if body["type"] not in ("defect", "enhancement", "task"):
                return 400, self.error(400, f"There is no Type named '{body['type']}'."), {}
            changes["type"] = (bug.get("type"), body["type"])
        if "keywords" in body:
            added = [k for k in body["keywords"].get("add", []) if k not in (bug.get("keywords") or [])]
            removed = [k for k in body["keywords"].get("remove", []) if k in (bug.get("keywords") or [])]
            if added or removed:
                changes["keywords"] = (removed, added)
        note = (body.get("comment") or {}).get("body")
        if not changes and not note:
            return _ok({"bugs": [{"id": int(id), "alias": [], "changes": {}}]})
        when = self.change(id, login, changes, note)
        shown = {name: {"removed": _text(r), "added": _text(a)} for name, (r, a) in changes.items()}
        return _ok({"bugs": [{"id": int(id), "alias": [], "last_change_time": when, "changes": shown}]})

    def post_comment(self, login: str, params: dict, body: Any, id: str) -> Answer:
        if missing := self._missing(id):
            return missing
        if not (body or {}).get("comment"):
            return 400, self.error(400, "You must specify a comment."), {}
        when = bz_time(self.tick())
        comment_id = self._add_comment(id, login, body["comment"], when)
        self.bugs[id]["last_change_time"] = when
        return _ok({"id": comment_id}, 201)

    def put_comment(self, login: str, params: dict, body: Any, cid: str) -> Answer:
        for bug_id, comments in self.comments.items():
            for comment in comments:
                if str(comment["id"]) != cid:
                    continue
                if comment["creator"] != login:
                    return 401, self.error(401, "You are not allowed to edit this comment."), {}
                comment["text"] = body["comment"]
                self.bugs[bug_id]["last_change_time"] = bz_time(self.tick())
                return _ok({"comments": {cid: {"id": int(cid), "text": body["comment"]}}})
        return 404, self.error(404, f"Comment #{cid} does not exist."), {}


def _text(value: Any) -> str:
    return ", ".join(value) if isinstance(value, list) else (value or "")


# --- GitHub ------------------------------------------------------------------------------------------

GH_DOCS = "https://docs.github.com/rest/issues"
GH_PAGE = 30  # GitHub's default page size: the adapter asks for 100, this server caps it lower to page


def gh_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class GitHubServer(TrackerServer):
    """``/user``, ``/repos/O/R/issues/N`` (GET), ``/events`` and ``/comments`` (GET, paged by Link),
    ``/labels`` and ``/comments`` (POST), ``/labels/NAME`` (DELETE), ``/repos/O/R/issues/comments/ID``
    (PATCH)."""

    def __init__(self, repo: str, issues: list[dict[str, Any]]) -> None:
        super().__init__()
        self.repo = repo
        base = r"/repos/" + re.escape(repo) + r"/issues"
        self.routes = [  # type: ignore[misc]
            ("GET", r"/user", "get_user"),
            ("GET", base + r"/(?P<id>\d+)", "get_issue"),
            ("GET", base + r"/(?P<id>\d+)/events", "get_events"),
            ("GET", base + r"/(?P<id>\d+)/comments", "get_comments"),
            ("POST", base + r"/(?P<id>\d+)/labels", "post_labels"),
            ("DELETE", base + r"/(?P<id>\d+)/labels/(?P<name>[^/]+)", "delete_label"),
            ("POST", base + r"/(?P<id>\d+)/comments", "post_comment"),
            ("PATCH", base + r"/comments/(?P<cid>\d+)", "patch_comment"),
        ]
        self.issues = {str(i["number"]): json.loads(json.dumps(i)) for i in issues}
        self.events: dict[str, list[dict[str, Any]]] = {n: [] for n in self.issues}
        self.comments: dict[str, list[dict[str, Any]]] = {n: [] for n in self.issues}

    def login_of(self, headers: Any) -> str | None:
        auth = headers.get("Authorization") or ""
        return self.users.get(auth.removeprefix("Bearer ").removeprefix("token "))

    def error(self, status: int, message: str, field: str | None = None) -> dict[str, Any]:
        messages = {401: "Requires authentication", 404: "Not Found", 429: "API rate limit exceeded"}
        return {"message": messages.get(status, message), "documentation_url": GH_DOCS, "status": str(status)}

    def full(self, number: str) -> dict[str, Any]:
        with self.lock:
            return json.loads(json.dumps(self.issues[number]))

    def _paged(self, items: list[dict[str, Any]], params: dict, path: str) -> Answer:
        per_page = min(int(params.get("per_page", GH_PAGE)), GH_PAGE)
        page = int(params.get("page", 1))
        headers = {}
        if page * per_page < len(items):
            headers["Link"] = f'<{self.url}{path}?per_page={per_page}&page={page + 1}>; rel="next"'
        return 200, items[(page - 1) * per_page : page * per_page], headers

    def get_user(self, login: str | None, params: dict, body: Any) -> Answer:
        if login is None:
            return 401, self.error(401, ""), {}
        return _ok({"login": login, "id": 7 if login == BOT_LOGIN else 8, "type": "User"})

    def get_issue(self, login: str | None, params: dict, body: Any, id: str) -> Answer:
        if id not in self.issues:
            return 404, self.error(404, ""), {}
        return _ok(self.issues[id])

    def get_events(self, login: str | None, params: dict, body: Any, id: str) -> Answer:
        if id not in self.issues:
            return 404, self.error(404, ""), {}
        return self._paged(self.events[id], params, f"/repos/{self.repo}/issues/{id}/events")

    def get_comments(self, login: str | None, params: dict, body: Any, id: str) -> Answer:
        if id not in self.issues:
            return 404, self.error(404, ""), {}
        return self._paged(self.comments[id], params, f"/repos/{self.repo}/issues/{id}/comments")

    def label(self, number: str, login: str, add: list[str] = (), remove: list[str] = ()) -> None:  # type: ignore[assignment]
        issue, when = self.issues[number], gh_time(self.tick())
        names = [label["name"] for label in issue["labels"]]
        for name in add:
            if name not in names:
                names.append(name)
                self._event(number, "labeled", login, when, name)
        for name in remove:
            if name in names:
                names.remove(name)
                self._event(number, "unlabeled", login, when, name)
        issue["labels"] = [{"name": name, "color": "ededed", "default": False} for name in names]
        issue["updated_at"] = when

    def _event(self, number: str, kind: str, login: str, when: str, name: str) -> None:
        self.events[number].append(
            {
                "id": self.new_id(),
                "event": kind,
                "actor": {"login": login, "type": "User"},
                "label": {"name": name, "color": "ededed"},
                "created_at": when,
            }
        )

    def delete_label(self, login: str, params: dict, body: Any, id: str, name: str) -> Answer:
        name = unquote(name)
        if id not in self.issues:
            return 404, self.error(404, ""), {}
        if name not in [label["name"] for label in self.issues[id]["labels"]]:
            return 404, {"message": "Label does not exist", "documentation_url": GH_DOCS, "status": "404"}, {}
        self.label(id, login, remove=[name])
        return _ok(self.issues[id]["labels"])

    def post_labels(self, login: str, params: dict, body: Any, id: str) -> Answer:
        if id not in self.issues:
            return 404, self.error(404, ""), {}
        labels = (body or {}).get("labels")
        if not isinstance(labels, list) or not all(isinstance(n, str) for n in labels):
            message = "Invalid request.\n\nFor 'links/0/schema', nil is not an array."
            return 422, {"message": message, "documentation_url": GH_DOCS, "status": "422"}, {}
        self.label(id, login, add=labels)
        return _ok(self.issues[id]["labels"])

    def post_comment(self, login: str, params: dict, body: Any, id: str) -> Answer:
        if id not in self.issues:
            return 404, self.error(404, ""), {}
        if not (body or {}).get("body"):
            message = 'Invalid request.\n\n"body" wasn\'t supplied.'
            return 422, {"message": message, "documentation_url": GH_DOCS, "status": "422"}, {}
        when = gh_time(self.tick())
        comment = {
            "id": self.new_id(),
            "user": {"login": login, "type": "User"},
            "body": body["body"],
            "created_at": when,
            "updated_at": when,
        }
        self.comments[id].append(comment)
        self.issues[id]["updated_at"] = when
        self.issues[id]["comments"] = len(self.comments[id])
        return _ok(comment, 201)

    def patch_comment(self, login: str, params: dict, body: Any, cid: str) -> Answer:
        for number, comments in self.comments.items():
            for comment in comments:
                if str(comment["id"]) == cid:
                    comment["body"], comment["updated_at"] = body["body"], gh_time(self.tick())
                    self.issues[number]["updated_at"] = comment["updated_at"]
                    return _ok(comment)
        return 404, self.error(404, ""), {}


# --- Jira --------------------------------------------------------------------------------------------


def jira_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


class JiraServer(TrackerServer):
    """``/rest/api/2/myself``, ``/rest/api/2/issue/KEY`` (GET with ``expand=changelog``, PUT with
    ``update`` and ``fields.priority``), ``/comment`` (POST) and ``/comment/ID`` (PUT). Components must
    exist in the project, a priority in the scheme; labels may not hold spaces."""

    priorities: ClassVar[tuple[str, ...]] = ("Blocker", "Critical", "Major", "Minor", "Trivial")

    routes: ClassVar[list[tuple[str, str, str]]] = [
        ("GET", r"/rest/api/2/myself", "get_myself"),
        ("GET", r"/rest/api/2/issue/(?P<id>[A-Z][A-Z0-9]*-\d+)", "get_issue"),
        ("PUT", r"/rest/api/2/issue/(?P<id>[A-Z][A-Z0-9]*-\d+)", "put_issue"),
        ("POST", r"/rest/api/2/issue/(?P<id>[A-Z][A-Z0-9]*-\d+)/comment", "post_comment"),
        ("PUT", r"/rest/api/2/issue/(?P<id>[A-Z][A-Z0-9]*-\d+)/comment/(?P<cid>\d+)", "put_comment"),
    ]

    def __init__(self, issues: list[dict[str, Any]]) -> None:
        super().__init__()
        self.issues = {i["key"]: json.loads(json.dumps(i)) for i in issues}
        self.components: dict[str, set[str]] = {}
        for issue in self.issues.values():
            fields = issue["fields"]
            fields.setdefault("comment", {"comments": [], "maxResults": 0, "total": 0, "startAt": 0})
            issue.setdefault("changelog", {"startAt": 0, "maxResults": 0, "total": 0, "histories": []})
            names = {c["name"] for c in fields.get("components") or []}
            self.components.setdefault(fields["project"]["key"], set()).update(names)

    def login_of(self, headers: Any) -> str | None:
        return self.users.get((headers.get("Authorization") or "").removeprefix("Bearer "))

    def error(self, status: int, message: str, field: str | None = None) -> dict[str, Any]:
        if field:
            return {"errorMessages": [], "errors": {field: message}}
        texts = {
            401: "You are not authenticated. Authentication required to perform this operation.",
            404: "Issue does not exist or you do not have permission to see it.",
            429: "Rate limit exceeded.",
        }
        return {"errorMessages": [texts.get(status, message)], "errors": {}}

    def user(self, login: str) -> dict[str, Any]:
        return {"name": login, "key": f"JIRAUSER{len(login)}", "displayName": login}

    def full(self, key: str) -> dict[str, Any]:
        with self.lock:
            return json.loads(json.dumps(self.issues[key]))

    def get_myself(self, login: str | None, params: dict, body: Any) -> Answer:
        if login is None:
            return 401, self.error(401, ""), {}
        return _ok(self.user(login))

    def get_issue(self, login: str | None, params: dict, body: Any, id: str) -> Answer:
        if id not in self.issues:
            return 404, self.error(404, ""), {}
        issue = dict(self.issues[id])
        if "changelog" not in params.get("expand", ""):
            issue.pop("changelog", None)
        return _ok(issue)

    def edit(
        self,
        key: str,
        login: str,
        components: list[str] | None = None,
        labels: list[str] = (),  # type: ignore[assignment]
        priority: str | None = None,
        unlabel: list[str] = (),  # type: ignore[assignment]
    ) -> None:
        """A change as ``login``: the new components (None: unchanged), labels to add and the priority
        (None: unchanged), with a changelog entry of one item per component removed or added and one
        for the priority, as Jira writes them."""
        fields, items = self.issues[key]["fields"], []
        old_priority = (fields.get("priority") or {}).get("name")
        if priority is not None and priority != old_priority:
            ids = {name: str(n) for n, name in enumerate(self.priorities, 1)}
            items.append(
                {
                    "field": "priority",
                    "fieldtype": "jira",
                    "from": ids.get(old_priority or ""),
                    "fromString": old_priority,
                    "to": ids[priority],
                    "toString": priority,
                }
            )
            fields["priority"] = {"name": priority, "id": ids[priority]}
        if components is not None:
            old = [c["name"] for c in fields.get("components") or []]
            for name in old:
                if name not in components:
                    items.append(
                        {"field": "Component", "fieldtype": "jira", "fromString": name, "toString": None}
                    )
            for name in components:
                if name not in old:
                    items.append(
                        {"field": "Component", "fieldtype": "jira", "fromString": None, "toString": name}
                    )
            fields["components"] = [{"name": name} for name in components]
        new_labels = [name for name in labels if name not in fields.get("labels", [])]
        kept = [name for name in fields.get("labels", []) if name not in unlabel]
        if new_labels or len(kept) < len(fields.get("labels", [])):
            before = " ".join(fields.get("labels", []))
            fields["labels"] = [*kept, *new_labels]
            items.append(
                {
                    "field": "labels",
                    "fieldtype": "jira",
                    "fromString": before,
                    "toString": " ".join(fields["labels"]),
                }
            )
        when = jira_time(self.tick())
        if items:
            history = {"id": str(self.new_id()), "author": self.user(login), "created": when, "items": items}
            self.issues[key]["changelog"]["histories"].append(history)
        fields["updated"] = when

    def put_issue(self, login: str, params: dict, body: Any, id: str) -> Answer:
        if id not in self.issues:
            return 404, self.error(404, ""), {}
        update = (body or {}).get("update") or {}
        project = self.issues[id]["fields"]["project"]["key"]
        components, labels, unlabel = None, [], []
        priority = ((body or {}).get("fields") or {}).get("priority")
        if priority is not None and priority.get("name") not in self.priorities:
            message = f"Priority name '{priority.get('name')}' is not valid"
            return 400, self.error(400, message, "priority"), {}
        for operation in update.get("components", []):
            names = [c["name"] for c in operation.get("set", [])]
            for name in names:
                if name not in self.components.get(project, set()):
                    return 400, self.error(400, f"Component name '{name}' is not valid", "components"), {}
            components = names
        for operation in update.get("labels", []):
            if "remove" in operation:
                unlabel.append(operation["remove"])
                continue
            name = operation.get("add", "")
            if not name or " " in name:
                return (
                    400,
                    self.error(400, f"The label '{name}' contains spaces which is invalid.", "labels"),
                    {},
                )
            labels.append(name)
        self.edit(id, login, components, labels, priority["name"] if priority else None, unlabel)
        for operation in update.get("comment", []):
            self._add_comment(id, login, operation["add"]["body"])
        return 204, None, {}

    def _add_comment(self, key: str, login: str, text: str) -> dict[str, Any]:
        when = jira_time(self.tick())
        comment = {
            "id": str(self.new_id()),
            "author": self.user(login),
            "body": text,
            "created": when,
            "updated": when,
        }
        block = self.issues[key]["fields"]["comment"]
        block["comments"].append(comment)
        block["total"] = block["maxResults"] = len(block["comments"])
        self.issues[key]["fields"]["updated"] = when
        return comment

    def post_comment(self, login: str, params: dict, body: Any, id: str) -> Answer:
        if id not in self.issues:
            return 404, self.error(404, ""), {}
        if not (body or {}).get("body"):
            return 400, self.error(400, "Comment body can not be empty!", "comment"), {}
        return _ok(self._add_comment(id, login, body["body"]), 201)

    def put_comment(self, login: str, params: dict, body: Any, id: str, cid: str) -> Answer:
        for comment in self.issues.get(id, {}).get("fields", {}).get("comment", {}).get("comments", []):
            if comment["id"] == cid:
                comment["body"] = body["body"]
                comment["updated"] = self.issues[id]["fields"]["updated"] = jira_time(self.tick())
                return _ok(comment)
        return 404, self.error(404, "Can not find a comment for the id: " + cid), {}
