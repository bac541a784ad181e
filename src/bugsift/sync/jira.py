"""Jira REST client for incremental sync: ``/rest/api/2/serverInfo`` for the server clock,
``/rest/api/2/search`` with JQL ``updated >= "..."`` in pages (startAt/maxResults), the fields a report
needs and ``expand=changelog`` (from which the importer rolls fields back to filing time).

Ordered by creation (then key), not by ``updated``: with ``ORDER BY updated`` an issue edited mid-cycle
moves to the end and every later issue shifts back one place, so a startAt page would skip one; ordered
by creation, a change only ever adds an issue to the result (read twice at worst). JQL dates have minute
precision in the user's time zone: the watermark is the server time floored to the minute, in the
server's offset (``>=`` then re-reads at most one minute).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from bugsift.sources.jira import from_record
from bugsift.sync.http import TrackerError, get_json, make_session
from bugsift.sync.page import Page, build_page

FIELDS = (
    "summary,description,environment,created,updated,reporter,project,issuetype,priority,status,"
    "resolution,resolutiondate,components,labels,versions,fixVersions,issuelinks,comment"
)
ORDER = "ORDER BY created ASC, key ASC"


def jql_time(server_time: str) -> str:
    """``2026-11-25T10:00:59.123+0000`` -> ``2026-11-25 10:00`` (JQL's minute precision)."""
    try:
        moment = datetime.strptime(server_time, "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        raise TrackerError(f"unexpected Jira serverTime {server_time!r}") from None
    return moment.strftime("%Y-%m-%d %H:%M")


class JiraClient:
    def __init__(
        self,
        base_url: str,
        jql: str | None = None,
        user: str | None = None,
        token: str | None = None,
        retries: int = 5,
        backoff_s: float = 1.0,
        timeout_s: float = 30.0,
        tracker: str = "jira",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.jql = jql
        self.tracker = tracker
        self.timeout_s = timeout_s
        # Jira Cloud: e-mail + API token (basic auth); Server/Data Center: a personal access token.
        headers = {"Authorization": f"Bearer {token}"} if token and not user else {}
        self.session = make_session(retries, backoff_s, headers)
        if token and user:
            self.session.auth = (user, token)

    def server_time(self) -> str:
        data = get_json(self.session, f"{self.base_url}/rest/api/2/serverInfo", {}, self.timeout_s)
        if not isinstance(data, dict) or not isinstance(data.get("serverTime"), str):
            raise TrackerError(f"{self.base_url}/rest/api/2/serverInfo: no serverTime in the answer")
        return jql_time(data["serverTime"])

    def query(self, since: str | None) -> str:
        clauses = [f"({self.jql})"] if self.jql else []
        if since:
            clauses.append(f'updated >= "{since}"')
        return f"{' AND '.join(clauses)} {ORDER}" if clauses else ORDER

    def pages(self, since: str | None, cursor: int | str | None, page_size: int) -> Iterator[Page]:
        """Pages of issues updated at or after ``since`` from startAt ``cursor``, until ``total``."""
        start = int(cursor or 0)
        url = f"{self.base_url}/rest/api/2/search"
        while True:
            params: dict[str, str | int] = {
                "jql": self.query(since),
                "startAt": start,
                "maxResults": page_size,
                "fields": FIELDS,
                "expand": "changelog",
            }
            data = get_json(self.session, url, params, self.timeout_s)
            issues = data.get("issues") if isinstance(data, dict) else None
            total = data.get("total") if isinstance(data, dict) else None
            if not isinstance(issues, list) or not isinstance(total, int):
                raise TrackerError(f"{url} startAt {start}: malformed page (no 'issues' list and 'total')")
            if not issues:
                return
            here, start = start, start + len(issues)  # the server may cap maxResults: count what came
            yield build_page(
                issues,
                lambda issue: from_record(issue, self.tracker),
                lambda index: f"{url} startAt {here + index}",  # noqa: B023 (called before the loop moves on)
                start if start < total else None,
            )
            if start >= total:
                return
