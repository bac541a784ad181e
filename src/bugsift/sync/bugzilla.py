"""Bugzilla REST client for incremental sync: `/rest/time` for the server clock, `/rest/bug` searched
by ``last_change_time`` in pages (limit/offset, ordered by bug id), the API key in a header."""

from __future__ import annotations

from collections.abc import Iterator

from bugsift.sources.bugzilla import from_rest
from bugsift.sync.http import TrackerError, get_json, make_session
from bugsift.sync.page import Page, build_page

INCLUDE_FIELDS = "_default,comments,history"


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

    def pages(
        self, since: str | None, cursor: int | str | None, page_size: int, product: str | None = None
    ) -> Iterator[Page]:
        """Pages of bugs changed at or after ``since`` (all bugs when None) from offset ``cursor``, until an
        empty page. Ordered by bug id, which never changes: a bug that starts matching mid-cycle shifts
        later pages forward (a bug read twice), never backward (a bug skipped)."""
        offset = int(cursor or 0)
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
            start = offset
            offset += len(bugs)
            yield build_page(
                bugs,
                lambda bug: from_rest(bug, self.tracker),
                lambda index: f"{self.base_url}/rest/bug offset {start + index}",  # noqa: B023 (called at once)
                offset,
            )
