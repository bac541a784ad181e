"""Local HTTP servers that answer like the GitHub and Jira REST APIs, from real records of ../shared/data.

The records are real (NLBSE GitHub issues of facebook/react, Apache Jira issues); only their envelope is
built here: GitHub issue objects (number = the row's rank, updated_at = created_at) and Jira REST issues
(``fields`` with name objects, ``updated`` = resolution date or creation date, an empty changelog).
Faults are played per page: ``"500"``, ``"junk"`` (a truncated JSON body), ``"ratelimit"`` (GitHub:
403 with ``X-RateLimit-Remaining: 0`` and a reset one second ahead), ``"429"`` (Retry-After: 1).
"""

from __future__ import annotations

import csv
import hashlib
import json
import lzma
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from email.utils import formatdate
from http.server import ThreadingHTTPServer
from itertools import islice
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

from jobs_support import SHARED_DATA, JsonHandler, missing_dependency, serving_in_thread

REPO = "facebook/react"


def github_issues(count: int) -> list[dict[str, Any]]:
    """The oldest ``count`` facebook/react issues of the NLBSE CSV as REST issue objects."""
    path = SHARED_DATA / "github-issues" / "nlbse24_train.csv"
    if not path.is_file():
        missing_dependency(f"shared data not found at {path}")
    csv.field_size_limit(sys.maxsize)
    with path.open(newline="", encoding="utf-8") as fh:
        rows = [row for row in csv.DictReader(fh) if row["repo"] == REPO]
    rows.sort(key=lambda row: row["created_at"])
    issues = []
    for number, row in enumerate(rows[:count], 1):
        created = row["created_at"].replace(" ", "T") + "Z"
        issues.append(
            {
                "number": number,
                "title": row["title"],
                "body": row["body"],
                "state": "open",
                "labels": [{"name": row["label"]}],
                "created_at": created,
                "updated_at": created,
                "repository_url": f"https://api.github.com/repos/{REPO}",
                "html_url": f"https://github.com/{REPO}/issues/{number}",
            }
        )
    return issues


def jira_issues(count: int) -> list[dict[str, Any]]:
    """The first ``count`` Apache Jira issues of the shared dump as REST issue objects."""
    path = SHARED_DATA / "apache-jira" / "jira_issues.jsonl.xz"
    if not path.is_file():
        missing_dependency(f"shared data not found at {path}")
    with lzma.open(path, "rt", encoding="utf-8") as fh:
        flat = [json.loads(line) for line in islice(fh, count)]

    def named(value: str | None) -> dict[str, str] | None:
        return {"name": value} if value else None

    issues = []
    for item in flat:
        fields = {
            "project": {"key": item["jira_project"]},
            "summary": item["summary"],
            "description": item["description"],
            "created": item["created"],
            "updated": item.get("resolutiondate") or item["created"],
            "issuetype": named(item["issuetype"]),
            "priority": named(item["priority"]),
            "status": named(item["status"]),
            "resolution": named(item["resolution"]),
            "resolutiondate": item.get("resolutiondate"),
            "components": [{"name": c} for c in item["components"]],
            "labels": item["labels"],
            "versions": [{"name": v} for v in item["versions"]],
            "fixVersions": [{"name": v} for v in item["fixVersions"]],
        }
        issues.append({"key": item["key"], "fields": fields, "changelog": {"histories": []}})
    return issues


def jira_minute(timestamp: str) -> str:
    return datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%S.%f%z").strftime("%Y-%m-%d %H:%M")


class ReplayServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, records: list[dict[str, Any]]) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.records = records
        self.faults: dict[str, list[str]] = {}  # page key ("page=2", "startAt=10") -> faults, in order
        self.requests: list[tuple[str, dict[str, str], dict[str, str]]] = []
        self.delay_s = 0.0  # per page request, to catch a worker mid-sync
        self.now = time.time()  # the server clock (GitHub Date header)
        self.server_time = "2026-11-25T10:00:42.000+0000"  # Jira serverInfo
        self.max_results = 1000  # Jira caps maxResults like a real server
        self.remaining = 5000

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(JsonHandler):
    server: ReplayServer

    def date_time_string(self, timestamp: float | None = None) -> str:
        return formatdate(self.server.now, usegmt=True)

    def _fault(self, page: str) -> bool:
        faults = self.server.faults.get(page)
        if not faults:
            return False
        fault = faults.pop(0)
        if fault == "500":
            self._send(500, b'{"message": "Server Error"}')
        elif fault == "429":
            self._send(429, b'{"message": "slow down"}', {"Retry-After": "1"})
        elif fault == "ratelimit":
            reset = str(int(time.time()) + 1)
            headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}
            self._send(403, b'{"message": "API rate limit exceeded"}', headers)
        else:
            self._send(200, b'[{"number": 1, "tit')  # truncated: malformed JSON
        return True

    def do_GET(self) -> None:
        url = urlparse(self.path)
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.server.requests.append((url.path, params, dict(self.headers)))
        if url.path == "/rate_limit":
            return self._send(200, b'{"resources": {}}')
        if url.path == f"/repos/{REPO}/issues":
            return self._github_issues(url.path, params)
        if url.path == "/rest/api/2/serverInfo":
            return self._send(200, json.dumps({"serverTime": self.server.server_time}).encode())
        if url.path == "/rest/api/2/search":
            return self._jira_search(params)
        self._send(404, b'{"message": "Not Found"}')

    def _github_issues(self, path: str, params: dict[str, str]) -> None:
        time.sleep(self.server.delay_s)
        page, per_page = int(params.get("page", 1)), int(params["per_page"])
        if self._fault(f"page={page}"):
            return
        since = params.get("since")
        issues = [i for i in self.server.records if not since or i["updated_at"] >= since]
        issues.sort(key=lambda i: (i["created_at"], i["number"]))
        body = json.dumps(issues[(page - 1) * per_page : page * per_page]).encode()
        etag = 'W/"' + hashlib.sha256(body).hexdigest() + '"'
        self.server.remaining -= 1
        headers = {"ETag": etag, "X-RateLimit-Remaining": str(self.server.remaining)}
        headers["X-RateLimit-Reset"] = str(int(time.time()) + 3600)
        if page * per_page < len(issues):
            base = f"{self.server.url}{path}?"
            last = -(-len(issues) // per_page)
            links = [(page + 1, "next"), (last, "last")]
            headers["Link"] = ", ".join(
                f'<{base}{urlencode({**params, "page": n})}>; rel="{rel}"' for n, rel in links
            )
        if self.headers.get("If-None-Match") == etag:
            return self._send(304, b"", {"ETag": etag})
        self._send(200, body, headers)

    def _jira_search(self, params: dict[str, str]) -> None:
        time.sleep(self.server.delay_s)
        start = int(params["startAt"])
        if self._fault(f"startAt={start}"):
            return
        size = min(int(params["maxResults"]), self.server.max_results)
        found = re.search(r'updated >= "([^"]+)"', params["jql"])
        issues = [
            i for i in self.server.records if not found or jira_minute(i["fields"]["updated"]) >= found[1]
        ]
        issues.sort(key=lambda i: (i["fields"]["created"], i["key"]))
        page = {
            "startAt": start,
            "maxResults": size,
            "total": len(issues),
            "issues": issues[start : start + size],
        }
        self._send(200, json.dumps(page).encode())


@contextmanager
def serving(records: list[dict[str, Any]]) -> Iterator[ReplayServer]:
    with serving_in_thread(ReplayServer(records)) as server:
        yield server
