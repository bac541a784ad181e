"""Importers: turn tracker dumps into `Report` records.

One module per format; each exposes ``read(path, tracker) -> Iterator[Report | Rejected]`` and detects
the shape of its input by content (JSON lines, JSON document, CSV; which keys). Bad records come out as
`Rejected` with their ``file:line``; a file that cannot be opened or is of another format raises
ValueError naming the file and what was expected.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from bugsift.sources import bugzilla, csv_generic, github, jira, redmine
from bugsift.sources.base import FILED_FIELDS, RecordError, Rejected, Report

FORMATS = ("bugzilla", "github", "jira", "redmine", "csv")

_READERS: dict[str, Callable[[Path, str], Iterator[Report | Rejected]]] = {
    "bugzilla": bugzilla.read,
    "github": github.read,
    "jira": jira.read,
    "redmine": redmine.read,
    "csv": csv_generic.read,
}


def read_reports(fmt: str, path: Path | str, tracker: str | None = None) -> Iterator[Report | Rejected]:
    """Iterate the reports (and rejected records) of one file in format ``fmt``.

    ``tracker`` names the tracker instance in the store; it defaults to the format name.
    """
    reader = _READERS.get(fmt)
    if reader is None:
        raise ValueError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file (expected a {fmt} export)")
    return reader(path, tracker or fmt)


__all__ = ["FILED_FIELDS", "FORMATS", "RecordError", "Rejected", "Report", "read_reports"]
