"""One requests Session for tracker APIs: retries with backoff on 429/5xx and connection errors,
honouring Retry-After."""

from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

RETRY_STATUSES = (429, 500, 502, 503, 504)


class TrackerError(RuntimeError):
    """The tracker answered something unusable (a malformed page, an error after every retry)."""


def make_session(
    retries: int,
    backoff_s: float,
    headers: dict[str, str] | None = None,
    statuses: tuple[int, ...] = RETRY_STATUSES,
) -> requests.Session:
    """``statuses`` are retried by urllib3 (a client that reads rate-limit headers itself drops 429)."""
    retry = Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        backoff_factor=backoff_s,
        backoff_max=60,
        status_forcelist=statuses,
        allowed_methods=frozenset({"GET", "HEAD"}),
        respect_retry_after_header=True,
        raise_on_status=True,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers.update({"Accept": "application/json", "User-Agent": "bugsift-sync"})
    session.headers.update(headers or {})
    return session


def get_json(session: requests.Session, url: str, params: dict[str, str | int], timeout: float) -> object:
    """GET and decode JSON; any failure that survives the retries becomes a TrackerError."""
    try:
        response = session.get(url, params=params, timeout=timeout)
        response.raise_for_status()
    except requests.RequestException as error:
        raise TrackerError(f"GET {url} failed: {error}") from error
    return decode_json(response)


def decode_json(response: requests.Response) -> object:
    try:
        return response.json()
    except ValueError as error:
        raise TrackerError(f"GET {response.url}: malformed JSON ({error})") from None
