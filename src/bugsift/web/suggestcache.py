"""An LRU cache of suggestions keyed by the report's normalised text and the models that answered.

While a reporter types, the form sends the same text again (a pause, a field left and re-entered, a
preview); those answers come from memory. The key holds the id of each task's active model, so a newly
trained model is never answered for by an older one's cached suggestion.
"""

from __future__ import annotations

import copy
from collections.abc import Hashable, Sequence
from typing import Any

from bugsift.lru import LruCache
from bugsift.sources.base import Report


def normalise(text: str | None) -> str:
    """One form of a text for the models and the cache: LF line ends (a textarea posts CRLF, a script
    LF, and the models would answer the two a little differently), no outer whitespace."""
    return (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def report_key(report: Report, models: Sequence[tuple[str, int]], top_k: int) -> tuple[Hashable, ...]:
    """What a suggestion depends on: every field the models read at filing time, the models, top-k."""
    fields = (report.title, report.description, report.product, report.component, report.project)
    extra = tuple(sorted((k, str(v)) for k, v in (report.extra or {}).items() if k != "suggestions"))
    return (tuple(models), top_k, *(normalise(f) for f in fields), report.reporter or "", extra)


class SuggestionCache:
    """A thread-safe LRU map of keys to suggestion dicts (copies go in and out: callers may change them)."""

    def __init__(self, size: int) -> None:
        self._items: LruCache[Hashable, dict[str, Any]] = LruCache(size)
        self.hits = 0
        self.misses = 0

    @property
    def size(self) -> int:
        return self._items.size

    def get(self, key: Hashable) -> dict[str, Any] | None:
        if self.size <= 0:
            return None
        found = self._items.get(key)
        if found is None:
            self.misses += 1
            return None
        self.hits += 1
        return copy.deepcopy(found)

    def put(self, key: Hashable, value: dict[str, Any]) -> None:
        if self.size > 0:
            self._items.put(key, copy.deepcopy(value))

    def __len__(self) -> int:
        return len(self._items)
