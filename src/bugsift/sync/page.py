"""A page of tracker records turned into reports; what every sync client yields."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bugsift.sources.base import RecordError, Rejected, Report


@dataclass
class Page:
    """Reports of one API page; ``next_cursor`` is where the page after it starts (None: the last one)."""

    reports: list[Report]
    rejected: list[Rejected]
    size: int
    next_cursor: int | str | None


def build_page(
    records: Sequence[Any],
    build: Callable[[dict[str, Any]], Report | None],
    location: Callable[[int], str],
    next_cursor: int | str | None,
) -> Page:
    """Parse each record with ``build`` (None: not a report, e.g. a pull request); reject bad records."""
    reports, rejected = [], []
    for index, record in enumerate(records):
        try:
            if not isinstance(record, dict):
                raise RecordError(f"expected an object, got {type(record).__name__}")
            report = build(record)
        except RecordError as error:
            rejected.append(Rejected(location=location(index), reason=str(error)))
            continue
        if report is not None:
            reports.append(report)
    return Page(reports=reports, rejected=rejected, size=len(records), next_cursor=next_cursor)
