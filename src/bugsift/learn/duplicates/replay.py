"""Time-ordered replay: the duplicate pairs to search for, and recall-rate@k / MRR over ranked lists.

A pair links two reports; the one filed later is the query and the one filed earlier is the target
(whichever end the tracker marked as the duplicate: on Apache Jira a third of the "Duplicate" resolutions
sit on the older report). Each query is searched only among reports filed strictly before it, so the target
is always findable in principle, and a query with several earlier partners is a hit when any of them is
ranked. ``strict`` mode instead keeps the tracker's direction and counts pairs whose original was filed
after the duplicate as misses.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

KS = (1, 5, 10)


@dataclass
class ReplayQuery:
    query: str
    """External id of the report searched for its duplicates."""
    created_at: datetime
    targets: set[str] = field(default_factory=set)
    """External ids of the earlier reports it duplicates (or is duplicated by)."""


def read_pairs_csv(path: Path | str) -> list[tuple[str, str]]:
    """(duplicate, original) pairs of a CSV with those two columns (e.g. apache-jira/duplicate_pairs.csv)."""
    with open(path, newline="", encoding="utf-8") as handle:
        return [(row["duplicate"].strip(), row["original"].strip()) for row in csv.DictReader(handle)]


def replay_queries(
    pairs: Iterable[tuple[str, str]], created: Mapping[str, datetime | None], strict: bool = False
) -> list[ReplayQuery]:
    """The queries of a replay, oldest first; pairs with an unknown end or date are left out."""
    queries: dict[str, ReplayQuery] = {}
    for duplicate, original in pairs:
        when_dup, when_orig = created.get(duplicate), created.get(original)
        if when_dup is None or when_orig is None or duplicate == original:
            continue
        if strict or when_dup > when_orig:
            query, target, when = duplicate, original, when_dup
        else:
            query, target, when = original, duplicate, when_orig
        queries.setdefault(query, ReplayQuery(query, when)).targets.add(target)
    return sorted(queries.values(), key=lambda q: (q.created_at, q.query))


def first_hit_rank(ranked: Sequence[str], targets: set[str]) -> int | None:
    """1-based rank of the first target in a ranked list of external ids, or None."""
    for position, candidate in enumerate(ranked, start=1):
        if candidate in targets:
            return position
    return None


def recall_rates(ranks: Sequence[int | None], ks: Sequence[int] = KS) -> dict[str, float]:
    """Recall-rate@k (share of queries with a target in the top k) and MRR (0 for a miss)."""
    total = len(ranks)
    if total == 0:
        return {**{f"rr@{k}": 0.0 for k in ks}, "mrr": 0.0, "n": 0}
    rates: dict[str, float] = {f"rr@{k}": sum(r is not None and r <= k for r in ranks) / total for k in ks}
    rates["mrr"] = sum(1.0 / r for r in ranks if r is not None) / total
    rates["n"] = total
    return rates
