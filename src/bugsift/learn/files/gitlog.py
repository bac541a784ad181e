"""Fix history from a local git repository: commits whose message names a bug id, and the files they changed.

For a tracker whose reports carry no fixed files, ``git log`` (run locally, no network) links reports to the
commits that fixed them: a commit fixes report ``123`` when its message says ``Bug 123``, ``bug #123``,
``fixes #123``, ``#123``, ``[123]`` ...; a Jira-style key (``HIVE-123``) is matched as a whole word.
The fix's files, its time and its first parent (the buggy version) come with it.
"""

from __future__ import annotations

import re
import subprocess
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bugsift.learn.files.candidates import SOURCE_SUFFIXES

_RECORD = "\x1e"
_FIELD = "\x1f"
_NUMERIC_REF = re.compile(
    r"(?:\b(?:bugs?|issues?|fix(?:es|ed)?|close[sd]?|resolve[sd]?|pr)\b[\s:#-]*|#|\[)(\d{2,9})\b",
    re.IGNORECASE,
)
_KEY_REF = re.compile(r"\b([A-Z][A-Z0-9_]+-\d+)\b")


@dataclass
class Commit:
    sha: str
    parents: list[str]
    time: float
    message: str
    files: list[str] = field(default_factory=list)


@dataclass
class FixLink:
    """What git says about the fix of one report."""

    commits: list[str]
    buggy_parent: str | None
    fix_time: float
    files: list[str]


def read_log(repo: Path | str, rev: str = "HEAD") -> list[Commit]:
    """All commits reachable from ``rev``, oldest first, with the paths each changed (merges: none)."""
    fmt = f"{_RECORD}%H{_FIELD}%P{_FIELD}%ct{_FIELD}%B{_FIELD}"
    out = subprocess.run(
        ["git", "-C", str(repo), "log", "--no-color", "--no-renames", "--name-only", f"--format={fmt}", rev],
        check=True,
        capture_output=True,
    ).stdout.decode("utf-8", "replace")
    commits: list[Commit] = []
    for record in out.split(_RECORD)[1:]:
        sha, parents, time, message, names = record.split(_FIELD, 4)
        commits.append(
            Commit(
                sha,
                parents.split(),
                float(time),
                message.strip(),
                [n for n in names.split("\n") if n.strip()],
            )
        )
    commits.reverse()
    return commits


def mentioned_ids(message: str) -> set[str]:
    """Bug ids a commit message names: numbers after bug/fixes/#/[ and Jira keys."""
    return {m.group(1) for m in _NUMERIC_REF.finditer(message)} | set(_KEY_REF.findall(message))


def link_fixes(
    commits: Iterable[Commit],
    report_ids: Iterable[str] | None = None,
    suffixes: tuple[str, ...] = SOURCE_SUFFIXES,
) -> dict[str, FixLink]:
    """Report id -> its fix: the commits that mention it, their changed source files, the first fix's parent.

    With ``report_ids`` only those ids are linked (others a message may name are ignored).
    """
    wanted = set(report_ids) if report_ids is not None else None
    by_id: dict[str, list[Commit]] = defaultdict(list)
    for commit in commits:
        for ref in mentioned_ids(commit.message):
            if wanted is None or ref in wanted:
                by_id[ref].append(commit)
    links: dict[str, FixLink] = {}
    for ref, fixes in by_id.items():
        files = sorted({f for c in fixes for f in c.files if not suffixes or f.endswith(suffixes)})
        first = min(fixes, key=lambda c: c.time)
        links[ref] = FixLink(
            commits=[c.sha for c in fixes],
            buggy_parent=first.parents[0] if first.parents else None,
            fix_time=max(c.time for c in fixes),
            files=files,
        )
    return links
