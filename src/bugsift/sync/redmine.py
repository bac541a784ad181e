"""Redmine REST client for incremental sync.

``GET /issues.json?status_id=*&updated_on=>=W&sort=id&offset=N&limit=L&include=relations`` (closed
issues too, optionally ``project_id``), then, because the list cannot include journals,
``/issues/ID.json?include=journals,relations`` for each listed issue that can have some, a few at a time
(a small thread pool, one Session per thread). The API key goes in ``X-Redmine-API-Key``.

Which issues can have journals (checked on Redmine 5.0): a note or a field change bumps ``updated_on``;
adding or removing a relation journals both ends but bumps neither. So an issue whose ``updated_on``
equals its ``created_on`` and that has no relation has no journal that could say anything: its list
record, with ``journals: []``, is the whole story and it gets no request of its own. The exceptions are
journals of a relation since removed (they hold neither notes nor replayed fields) and an edit in the
creation's own second (the API gives whole seconds).

The watermark is the server's clock: the ``Date`` header of the cycle's first answer (``/trackers.json``,
read with the other lookup tables that name the journals' ids: ``/enumerations/issue_priorities.json``,
``/projects.json`` and each project's issue categories); this machine's clock less a margin when the
server sends no ``Date``.

Ordered by id, not by ``updated_on``: with offset paging, an issue edited mid-cycle would move to the end
of an ``updated_on`` order and every later issue would slide back one place, so the next page would skip
one. Ordered by id, an edit only ever adds an issue to the result (read twice at worst), as for Bugzilla.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from urllib3.util.retry import Retry

from bugsift.sources.io import loads_json
from bugsift.sources.redmine import Names, from_record
from bugsift.sync.http import TrackerError, make_session
from bugsift.sync.page import Page, build_page

INCLUDE = "journals,relations"
MAX_LIMIT = 100  # Redmine's default cap on `limit`
CLOCK_SKEW_MARGIN = timedelta(minutes=15)


class _LoggedRetry(Retry):
    """urllib3's Retry that also notes each retry (the main thread logs the notes after the request)."""

    notes: list[str]

    def increment(self, method: Any = None, url: Any = None, *args: Any, **kwargs: Any) -> Retry:
        response, error = kwargs.get("response"), kwargs.get("error")
        if args:
            response = args[0]
            error = args[1] if len(args) > 1 else error
        why = type(error).__name__ if error is not None else f"HTTP {getattr(response, 'status', '?')}"
        self.notes.append(f"Redmine did not answer {method} {url} ({why}); retrying")
        return super().increment(method, url, *args, **kwargs)


class RedmineClient:
    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        project: str | None = None,
        retries: int = 5,
        backoff_s: float = 1.0,
        timeout_s: float = 30.0,
        tracker: str = "redmine",
        workers: int = 4,
        log: Callable[[str], None] | None = None,
        skip_unedited: bool = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.project = project
        self.tracker = tracker
        self.timeout_s = timeout_s
        self.workers = workers
        self.skip_unedited = skip_unedited
        self.listed = self.detailed = 0  # issues listed / read one by one, for the cycle's log line
        self._count_lock = threading.Lock()
        self.log = log or (lambda message: None)
        self.names: Names | None = None
        self._category_projects: set[str] = set()
        self._notes: list[str] = []
        self._retries, self._backoff_s = retries, backoff_s
        self._headers = {"X-Redmine-API-Key": api_key} if api_key else {}
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        # Retry.new() copies by type(self): a subclass per client carries this client's list of notes.
        self._retry_class = type("RedmineRetry", (_LoggedRetry,), {"notes": self._notes})

    # --- HTTP ----------------------------------------------------------------------------------------

    @property
    def session(self) -> requests.Session:
        """One Session per thread (the detail requests run in a pool)."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = make_session(self._retries, self._backoff_s, self._headers)
            for prefix in ("http://", "https://"):
                adapter = session.get_adapter(prefix)
                logged = self._retry_class.__new__(self._retry_class)
                logged.__dict__.update(adapter.max_retries.__dict__)  # type: ignore[attr-defined]
                adapter.max_retries = logged  # type: ignore[attr-defined]
            self._local.session = session
            self._sessions.append(session)
        return session

    def close(self) -> None:
        """Close every thread's Session (their pooled connections)."""
        sessions, self._sessions[:] = list(self._sessions), []
        for session in sessions:
            session.close()
        self._local = threading.local()

    def _get(self, path: str, params: dict[str, str | int] | None = None) -> tuple[Any, requests.Response]:
        """GET a JSON answer; every unusable answer becomes a one-line TrackerError saying what to check."""
        url = f"{self.base_url}{path}"
        try:
            response = self.session.get(url, params=params, timeout=self.timeout_s)
        except requests.RequestException as error:
            raise TrackerError(f"GET {url} failed: {_short(error)}") from None
        if response.status_code >= 400:
            raise TrackerError(self._status_problem(url, response.status_code))
        kind = response.headers.get("Content-Type", "")
        if "json" not in kind:
            raise TrackerError(
                f"GET {url}: the answer is {kind.split(';')[0] or 'untyped'}, not JSON "
                f"(is {self.base_url} the Redmine root URL, with the REST API enabled?)"
            )
        try:
            return loads_json(response.text), response
        except ValueError as error:
            raise TrackerError(f"GET {url}: malformed JSON ({str(error)[:120]})") from None

    def _status_problem(self, url: str, status: int) -> str:
        if status == 401:
            return f"GET {url}: 401 Unauthorized: Redmine refused the API key (check BUGSIFT_REDMINE_API_KEY)"
        if status == 403:
            return (
                f"GET {url}: 403 Forbidden: the REST API is off (Administration > Settings > API) "
                "or the key's user may not see this"
            )
        if status == 404 and self.project and "/issues.json" in url:
            return f"GET {url}: 404 Not Found: no Redmine project {self.project!r} (BUGSIFT_REDMINE_PROJECT)"
        return f"GET {url} failed: HTTP {status}"

    def drain_notes(self) -> None:
        """Log the retries noted since the last call, once each."""
        notes, self._notes[:] = list(dict.fromkeys(self._notes)), []
        for note in notes:
            self.log(note)

    # --- clock and names -----------------------------------------------------------------------------

    def server_time(self) -> str:
        """The server clock (``Date`` of the cycle's first answer) as ISO 8601, as ``updated_on>=`` takes it;
        the lookup tables are loaded on the way."""
        try:
            response = self._load_names()
        except TrackerError:
            self.close()  # the cycle ends here: no connection left behind
            raise
        date = response.headers.get("Date")
        if date is None:
            # Puma (Redmine's Docker image) sends no Date unless a proxy adds it: this machine's clock, less
            # a margin for clock skew (the changes of the margin are read again, which changes nothing).
            moment = datetime.now(UTC) - CLOCK_SKEW_MARGIN
            self.log(
                f"Redmine sent no Date header: the watermark is this machine's clock less {CLOCK_SKEW_MARGIN}"
            )
            return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        try:
            moment = parsedate_to_datetime(date)
        except (TypeError, ValueError):
            raise TrackerError(f"{self.base_url}/trackers.json: no usable Date header ({date!r})") from None
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    def _load_names(self) -> requests.Response:
        names = Names()
        data, first = self._get("/trackers.json")
        names.add("trackers", _items(data, "trackers", "/trackers.json"))
        data, _ = self._get("/enumerations/issue_priorities.json")
        names.add("priorities", _items(data, "issue_priorities", "/enumerations/issue_priorities.json"))
        offset = 0
        while True:
            data, _ = self._get("/projects.json", {"offset": offset, "limit": MAX_LIMIT})
            projects = _items(data, "projects", "/projects.json")
            names.add("projects", projects)
            offset += len(projects)
            if not projects or offset >= _total(data, offset):
                break
        self.names, self._category_projects = names, set()
        self.drain_notes()
        return first

    def _load_categories(self, details: list[dict[str, Any]]) -> None:
        """Categories are per project: read those of every project the issues are or were in, once."""
        assert self.names is not None
        wanted = set()
        for issue in details:
            project = issue.get("project")
            if isinstance(project, dict) and project.get("id") is not None:
                wanted.add(str(project["id"]))
            for journal in issue.get("journals") or []:
                for detail in (journal.get("details") or []) if isinstance(journal, dict) else []:
                    if isinstance(detail, dict) and detail.get("name") == "project_id":
                        wanted |= {str(v) for v in (detail.get("old_value"), detail.get("new_value")) if v}
        for project_id in sorted(wanted - self._category_projects):
            self._category_projects.add(project_id)
            path = f"/projects/{project_id}/issue_categories.json"
            try:
                data, _ = self._get(path)
            except TrackerError as error:
                if "404" in str(error) or "403" in str(error):  # a deleted or hidden project
                    continue
                raise
            self.names.add("categories", _items(data, "issue_categories", path))

    # --- pages ---------------------------------------------------------------------------------------

    def list_params(self, since: str | None, offset: int, page_size: int) -> dict[str, str | int]:
        params: dict[str, str | int] = {
            "status_id": "*",
            "sort": "id",
            "offset": offset,
            "limit": min(page_size, MAX_LIMIT),
            "include": "relations",  # duplicates from the list, for the issues that get no detail request
        }
        if since:
            params["updated_on"] = f">={since}"
        if self.project:
            params["project_id"] = self.project
        return params

    def pages(self, since: str | None, cursor: int | str | None, page_size: int) -> Iterator[Page]:
        """Pages of issues updated at or after ``since`` from offset ``cursor``, journals included."""
        try:
            if self.names is None:  # a resumed cycle did not read the clock
                self._load_names()
            yield from self._pages(since, int(cursor or 0), page_size)
            self.log(
                f"{self.detailed} of {self.listed} listed issues read one by one for their journals "
                "(the others were never edited)"
            )
        finally:
            self.close()

    def _pages(self, since: str | None, offset: int, page_size: int) -> Iterator[Page]:
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="redmine") as pool:
            while True:
                data, _ = self._get("/issues.json", self.list_params(since, offset, page_size))
                issues = _items(data, "issues", "/issues.json")
                total = _total(data, None)
                if not issues:
                    return
                try:
                    details = [d for d in pool.map(self._full_issue, issues) if d is not None]
                finally:
                    self.drain_notes()
                self._load_categories(details)
                start, offset = offset, offset + len(issues)  # the server may cap limit: count what came
                yield self._page(details, start, offset if offset < total else None)
                if offset >= total:
                    return

    def _full_issue(self, listed: Any) -> dict[str, Any] | None:
        """A listed issue with its journals: the list record itself when it cannot have any, otherwise
        its ``/issues/ID.json`` (None when it was deleted since it was listed)."""
        with self._count_lock:
            self.listed += 1
        if isinstance(listed, dict) and self.skip_unedited and never_edited(listed):
            return {**listed, "journals": []}
        with self._count_lock:
            self.detailed += 1
        return self._detail(listed.get("id") if isinstance(listed, dict) else None)

    def _detail(self, issue_id: Any) -> dict[str, Any] | None:
        """One issue with its journals and relations; None when it was deleted since it was listed."""
        if isinstance(issue_id, bool) or not isinstance(issue_id, int):
            return {"id": issue_id}  # rejected by the parser with its location
        path = f"/issues/{issue_id}.json"
        try:
            data, _ = self._get(path, {"include": INCLUDE})
        except TrackerError as error:
            if "HTTP 404" in str(error):
                self._notes.append(f"issue {issue_id} was deleted during the cycle: skipped")
                return None
            raise
        issue = data.get("issue") if isinstance(data, dict) else None
        if not isinstance(issue, dict):
            raise TrackerError(f"{self.base_url}{path}: malformed answer (no 'issue' object)")
        return issue

    def _page(self, details: list[dict[str, Any]], start: int, next_cursor: int | None) -> Page:
        names = self.names
        assert names is not None
        for issue in details:
            names.learn(issue)
        return build_page(
            details,
            lambda issue: from_record(issue, self.tracker, names),
            lambda index: f"{self.base_url}/issues/{details[index].get('id')}.json (offset {start + index})",
            next_cursor,
        )


def never_edited(issue: dict[str, Any]) -> bool:
    """True when a list record shows an issue that has no journal worth a request: never updated after
    its creation (notes and field changes bump ``updated_on``) and no relation (whose journals do not)."""
    created, updated = issue.get("created_on"), issue.get("updated_on")
    return isinstance(created, str) and created == updated and issue.get("relations") == []


def _items(data: Any, key: str, path: str) -> list[Any]:
    items = data.get(key) if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise TrackerError(f"{path}: malformed answer (no '{key}' list)")
    return items


def _total(data: dict[str, Any], default: int | None) -> int:
    total = data.get("total_count")
    if isinstance(total, int) and not isinstance(total, bool):
        return total
    if default is None:
        raise TrackerError("/issues.json: malformed page (no 'total_count')")
    return default


def _short(error: Exception) -> str:
    """requests' connection errors nest urllib3's long repr; the innermost reason is what matters."""
    text = str(error)
    reason = text.rsplit("Caused by ", 1)[-1] if "Caused by " in text else text
    return reason[:300]
