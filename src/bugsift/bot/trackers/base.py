"""What the bot needs of a tracker: a live read of one report and a write, each tracker in its own module.

Every adapter answers the same questions right before a write, so that people win (`bugsift.bot.runner`):
what the field holds now, the tracker's own version of the report, which values a person removed from it
before, and where the bot's own comment for a rule is (to edit it, never to repeat it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests

from bugsift.sync.http import TrackerError

MARKER = "bugsift-bot"
MAX_WRITE_ATTEMPTS = 4
MAX_RETRY_AFTER_S = 120.0


@dataclass
class LiveReport:
    """A report as the tracker shows it now."""

    external_id: str
    version: str | None
    """The tracker's own version: updated_on, last_change_time, updated_at, fields.updated."""
    values: dict[str, str | None] = field(default_factory=dict)
    """Field -> current value (component, type) as the tracker names it; labels as a sorted, joined list."""
    labels: set[str] = field(default_factory=set)
    removed_by_people: dict[str, set[str]] = field(default_factory=dict)
    """Field -> values a person changed away from or removed on this report at some point."""
    changed_by_people_after: dict[str, str] = field(default_factory=dict)
    """Field -> the newest time a person changed it (ISO 8601), for undo and revert checks."""
    bot_comments: dict[str, str] = field(default_factory=dict)
    """Rule name -> id of the bot's comment carrying that rule's marker."""


@dataclass
class Write:
    """One change to make: the field's new value (or a label or a comment) and the note that says why."""

    external_id: str
    project: str
    field: str  # component | type | label | comment; unlabel: take off the label new_value (an undo)
    new_value: str
    old_value: str | None
    note: str
    rule: str
    comment_id: str | None = None
    """The bot's earlier comment for this rule, to edit instead of posting another."""


class TrackerAdapter(Protocol):
    name: str

    def version_of(self, raw: dict[str, Any]) -> str | None:
        """The tracker's version of a stored report's raw record (what the bot saw when it decided)."""
        ...

    def read(self, external_id: str, project: str) -> LiveReport | None:
        """The report live; None when it is gone (deleted, moved out of reach)."""
        ...

    def write(self, change: Write) -> dict[str, Any]:
        """Make the change; returns what the tracker answered (status and ids) for the action log."""
        ...

    def close(self) -> None: ...


class WriteRefused(TrackerError):
    """The tracker refused a write (a 4xx or 5xx after the retries); ``answer`` goes to the action log."""

    def __init__(self, message: str, answer: dict[str, Any]) -> None:
        super().__init__(message)
        self.answer = answer


def marker(rule: str) -> str:
    """The line that marks the bot's notes and comments for one rule (found again to edit, never repeat)."""
    return f"[{MARKER}:{rule}]"


def send(
    session: requests.Session,
    method: str,
    url: str,
    body: dict[str, Any] | None,
    timeout: float,
    sleep: Any = time.sleep,
) -> requests.Response:
    """One write, retried on 429 and 503 after the tracker's Retry-After (writes are not retried by the
    sync session: a field set twice is harmless, a comment posted twice is not, so only answers that say
    nothing was done are retried)."""
    for attempt in range(1, MAX_WRITE_ATTEMPTS + 1):
        try:
            response = session.request(method, url, json=body, timeout=timeout)
        except requests.RequestException as error:
            raise TrackerError(f"{method} {url} failed: {error}") from None
        if response.status_code not in (429, 503) or attempt == MAX_WRITE_ATTEMPTS:
            return response
        sleep(min(retry_after(response, attempt), MAX_RETRY_AFTER_S))
    raise AssertionError("unreachable")


def retry_after(response: requests.Response, attempt: int) -> float:
    """Seconds to wait: the Retry-After header (seconds; an HTTP date counts as 60), else 2^attempt."""
    value = response.headers.get("Retry-After", "")
    if value.strip().isdigit():
        return float(value)
    return 60.0 if value else float(2**attempt)


def marked_rules(notes: str) -> list[str]:
    """The rules whose marker a note carries (on a line of its own)."""
    prefix = f"[{MARKER}:"
    return [
        line[len(prefix) : -1]
        for line in notes.splitlines()
        if line.startswith(prefix) and line.endswith("]")
    ]


def answer_of(response: requests.Response) -> dict[str, Any]:
    """What the action log keeps of a tracker's answer: status and the start of the body."""
    return {"status": response.status_code, "body": response.text[:500]}
