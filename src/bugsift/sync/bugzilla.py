"""Bugzilla REST client for incremental sync: `/rest/time` for the server clock, `/rest/bug` searched
by ``last_change_time`` in pages (limit/offset, ordered by bug id), the API key in a header."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from bugsift.sources.base import RecordError, Rejected, Report
from bugsift.sources.bugzilla import from_rest
from bugsift.sync.http import TrackerError, get_json, make_session

INCLUDE_FIELDS = "_default,comments,history"


@dataclass
class Page:
    offset: int
    reports: list[Report]
    rejected: list[Rejected]
    size: int


class BugzillaClient:
    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        retries: int = 5,
        backoff_s: float = 1.0,
        timeout_s: float = 30.0,
        tracker: str = "bugzilla",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.tracker = tracker
        self.timeout_s = timeout_s
        headers = {"X-BUGZILLA-API-KEY": api_key} if api_key else {}
        self.session = make_session(retries, backoff_s, headers)

    def server_time(self) -> str:
        """The database clock of the server (``db_time``), which ``last_change_time`` is compared with."""
        data = get_json(self.session, f"{self.base_url}/rest/time", {}, self.timeout_s)
        if not isinstance(data, dict) or not isinstance(data.get("db_time"), str):
            raise TrackerError(f"{self.base_url}/rest/time: no db_time in the answer")
        return data["db_time"]

    def changed_since(
        self, since: str | None, page_size: int, product: str | None = None, start_offset: int = 0
    ) -> Iterator[Page]:
        """Pages of bugs changed at or after ``since`` (all bugs when None), until an empty page."""
        offset = start_offset
        while True:
            params: dict[str, str | int] = {
                "limit": page_size,
                "offset": offset,
                "order": "bug_id",
                "include_fields": INCLUDE_FIELDS,
            }
            if since:
                params["last_change_time"] = since
            if product:
                params["product"] = product
            data = get_json(self.session, f"{self.base_url}/rest/bug", params, self.timeout_s)
            bugs = data.get("bugs") if isinstance(data, dict) else None
            if not isinstance(bugs, list):
                raise TrackerError(
                    f"{self.base_url}/rest/bug offset {offset}: malformed page (no 'bugs' list)"
                )
            if not bugs:
                return
            yield self._page(offset, bugs)
            offset += len(bugs)

    def _page(self, offset: int, bugs: list[Any]) -> Page:
        reports, rejected = [], []
        for index, bug in enumerate(bugs):
            location = f"{self.base_url}/rest/bug offset {offset + index}"
            try:
                if not isinstance(bug, dict):
                    raise RecordError(f"expected a bug object, got {type(bug).__name__}")
                reports.append(from_rest(bug, self.tracker))
            except RecordError as error:
                rejected.append(Rejected(location=location, reason=str(error)))
        return Page(offset=offset, reports=reports, rejected=rejected, size=len(bugs))
