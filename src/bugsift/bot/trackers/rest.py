"""What the Bugzilla, GitHub and Jira adapters share: a GET that says "gone" instead of failing, and a
write that goes through `base.send` (429/503 and Retry-After) and turns a 4xx/5xx into `WriteRefused`."""

from __future__ import annotations

from typing import Any

import requests

from bugsift.bot.trackers.base import WriteRefused, answer_of, send
from bugsift.sync.http import TrackerError

GONE = (404, 410)  # deleted, moved out of reach, or never there


def get_json(
    session: requests.Session, url: str, params: dict[str, str] | None, timeout: float
) -> tuple[Any, requests.Response | None]:
    """The decoded answer and the response, or (None, None) when the report is gone."""
    try:
        response = session.get(url, params=params, timeout=timeout)
    except requests.RequestException as error:
        raise TrackerError(f"GET {url} failed: {error}") from None
    if response.status_code in GONE:
        return None, None
    if response.status_code >= 400:
        raise TrackerError(f"GET {url} failed: HTTP {response.status_code} {response.text[:200]}")
    try:
        return response.json(), response
    except ValueError as error:
        raise TrackerError(f"GET {url}: malformed JSON ({error})") from None


def write_json(
    session: requests.Session, method: str, url: str, body: dict[str, Any] | None, timeout: float
) -> tuple[dict[str, Any], requests.Response]:
    """One write (retried only on answers that say nothing was done); (answer for the log, response)."""
    response = send(session, method, url, body, timeout)
    answer = answer_of(response)
    if response.status_code >= 400:
        raise WriteRefused(f"{method} {url}: HTTP {response.status_code} {response.text[:300]}", answer)
    return answer, response
