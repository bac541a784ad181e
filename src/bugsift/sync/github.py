"""GitHub REST client for incremental sync of one repository's issues.

``GET /repos/{owner}/{repo}/issues?state=all&since=...&sort=created&direction=asc&per_page=N``, following
the ``Link: <...>; rel="next"`` header. Sorted by creation, which never changes: an issue that starts
matching ``since`` mid-cycle shifts later pages forward (read twice), never backward (skipped). Pull
requests come through the same endpoint and are dropped by the importer.

Rate limits are waited out, not failed: a 403/429 with ``Retry-After`` or with
``X-RateLimit-Remaining: 0`` sleeps until ``X-RateLimit-Reset`` (up to ``max_wait_s``), and a page that
leaves no quota pauses before the next request. The first page is a conditional request
(``If-None-Match`` with the ETag of the previous cycle's first page): a 304 costs no quota and means
nothing changed. The server clock is the ``Date`` header of ``/rate_limit``, which costs no quota either.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from email.utils import parsedate_to_datetime
from urllib.parse import urlencode

import requests

from bugsift.sources.github import from_record
from bugsift.sync.http import TrackerError, decode_json, make_session
from bugsift.sync.page import Page, build_page

API_VERSION = "2022-11-28"
RATE_LIMIT_MARGIN_S = 0.5  # the reset time is whole seconds: wait a little past it


def rate_limit_wait(response: requests.Response, now: float) -> float | None:
    """Seconds to wait before asking again, from Retry-After or the rate-limit headers; None if none."""
    headers = response.headers
    retry_after = headers.get("Retry-After")
    if retry_after and retry_after.strip().isdigit():
        return float(retry_after)
    reset = headers.get("X-RateLimit-Reset")
    if headers.get("X-RateLimit-Remaining") == "0" and reset and reset.isdigit():
        return max(0.0, int(reset) - now) + RATE_LIMIT_MARGIN_S
    return None


class GitHubClient:
    def __init__(
        self,
        base_url: str,
        repo: str,
        token: str | None = None,
        retries: int = 5,
        backoff_s: float = 1.0,
        timeout_s: float = 30.0,
        max_wait_s: float = 900.0,
        tracker: str = "github",
        log: Callable[[str], None] | None = None,
    ) -> None:
        if repo.count("/") != 1:
            raise ValueError(f"a GitHub repository is owner/name, not {repo!r}")
        self.base_url = base_url.rstrip("/")
        self.repo = repo
        self.tracker = tracker
        self.timeout_s = timeout_s
        self.max_wait_s = max_wait_s
        self.log = log or (lambda message: None)
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        # 5xx are retried by urllib3; 403/429 are rate limits, read by `_get` from GitHub's own headers.
        self.session = make_session(retries, backoff_s, headers, statuses=(500, 502, 503, 504))
        self.etag: str | None = None  # ETag of this cycle's first page (for the next cycle)
        self.not_modified = False  # the first page answered 304
        self._pause_until = 0.0

    def server_time(self) -> str:
        """The server clock (``Date`` of ``/rate_limit``) as ISO 8601, the form ``since`` takes."""
        response = self._get(f"{self.base_url}/rate_limit")
        try:
            moment = parsedate_to_datetime(response.headers["Date"])
        except (KeyError, TypeError, ValueError):
            raise TrackerError(f"{self.base_url}/rate_limit: no usable Date header") from None
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    def first_url(self, since: str | None, page_size: int) -> str:
        params: dict[str, str | int] = {"state": "all", "sort": "created", "direction": "asc"}
        params["per_page"] = page_size
        if since:
            params["since"] = since
        return f"{self.base_url}/repos/{self.repo}/issues?{urlencode(params)}"

    def pages(
        self, since: str | None, cursor: int | str | None, page_size: int, etag: str | None = None
    ) -> Iterator[Page]:
        """Pages from ``cursor`` (a next-page URL) or the first page; ``etag`` makes the first conditional."""
        url: str | None = str(cursor) if cursor else self.first_url(since, page_size)
        first = not cursor
        while url:
            response = self._get(url, {"If-None-Match": etag} if first and etag else None)
            if response.status_code == 304:
                self.not_modified = True
                return
            if first:
                self.etag = response.headers.get("ETag")
                first = False
            issues = decode_json(response)
            if not isinstance(issues, list):
                raise TrackerError(f"GET {url}: malformed page (expected a list of issues)")
            next_url = response.links.get("next", {}).get("url")
            here = url
            yield build_page(
                issues,
                lambda issue: from_record(issue, self.tracker),
                lambda index: f"{here} item {index}",  # noqa: B023 (called before the loop moves on)
                next_url,
            )
            url = next_url

    def _get(self, url: str, headers: dict[str, str] | None = None) -> requests.Response:
        while True:
            pause = self._pause_until - time.time()
            if pause > 0:
                self._wait(pause, "the last answer left no quota")
            try:
                response = self.session.get(url, headers=headers, timeout=self.timeout_s)
            except requests.RequestException as error:
                raise TrackerError(f"GET {url} failed: {error}") from error
            wait = rate_limit_wait(response, time.time())
            if response.status_code in (403, 429) and wait is not None:
                self._wait(wait, f"rate limited ({response.status_code})")
                continue
            if response.status_code >= 400:
                raise TrackerError(f"GET {url} failed: {response.status_code} {response.text[:200]}")
            if response.headers.get("X-RateLimit-Remaining") == "0" and wait is not None:
                self._pause_until = time.time() + wait
            return response

    def _wait(self, seconds: float, why: str) -> None:
        if seconds > self.max_wait_s:
            raise TrackerError(f"{why}: the quota resets in {seconds:.0f}s, over sync_max_wait_s")
        self.log(f"{why}: waiting {seconds:.1f}s for the quota")
        time.sleep(seconds)
        self._pause_until = 0.0
