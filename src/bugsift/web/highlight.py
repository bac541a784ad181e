"""The words behind an answer, marked where the report's text is shown.

A ``words`` reason (see `bugsift.learn.reasons`) stars the report's own words: ``words: *freeze*,
*second monitor*``. `reason_words` collects them; `highlight` wraps each whole-word, case-insensitive
occurrence in the text in ``<mark>``. The text is the reporter's and trusted for nothing: it is cut at
the matches and every piece is escaped on its own, so a mark never lands inside markup or an entity
(marking "amp" in an escaped ``&amp;`` would break it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from markupsafe import Markup, escape

MAX_WORDS = 30
"""Words marked at most on one page: a report's few answers name 5 words each."""

_STARRED = re.compile(r"\*([^*\n]+)\*")
_EDGE_BEFORE = r"(?<![^\W_])"  # a word of the reasons is letters and digits (`reasons._WORD`)
_EDGE_AFTER = r"(?![^\W_])"
_BETWEEN = r"[\W_]{1,3}"  # "second monitor" also marks "second-monitor": the same two tokens to the model


def reason_words(*explanations: Any) -> list[str]:
    """The starred words of the ``words`` reasons in ``explanations`` (each a list of ``{text, weight,
    kind}``; plain strings of older answers too), first seen first, each once."""
    starred: list[str] = []
    for explanation in explanations:
        for item in explanation if isinstance(explanation, list) else []:
            if isinstance(item, dict):
                if item.get("kind") != "words":
                    continue
                item = item.get("text")
            starred.extend(_STARRED.findall(item if isinstance(item, str) else ""))
    return unique_words(starred)


def unique_words(words: Iterable[str]) -> list[str]:
    """``words`` stripped, each once in any case, first seen first, at most `MAX_WORDS`."""
    found: dict[str, str] = {}
    for word in words:
        if word.strip():
            found.setdefault(word.strip().lower(), word.strip())
    return list(found.values())[:MAX_WORDS]


def _pattern(words: Iterable[str]) -> re.Pattern[str] | None:
    """One alternation of the words, longest first so that a phrase wins over a word inside it."""
    phrases = sorted({w.lower() for w in words if w and w.strip()}, key=len, reverse=True)
    parts = [_BETWEEN.join(re.escape(t) for t in p.split()) for p in phrases if p.split()]
    if not parts:
        return None
    return re.compile(_EDGE_BEFORE + "(?:" + "|".join(parts) + ")" + _EDGE_AFTER, re.IGNORECASE)


def highlight(text: Any, words: Iterable[str] | None) -> Markup:
    """``text`` as HTML, escaped, with each occurrence of ``words`` in ``<mark>``: whole words, any case,
    a phrase's words apart by up to 3 spaces or punctuation marks (the model's tokens ignore those)."""
    raw = "" if text is None else str(text)
    pattern = _pattern(words or [])
    if pattern is None:
        return Markup(escape(raw))
    out: list[str] = []
    end = 0
    for match in pattern.finditer(raw):
        out.append(str(escape(raw[end : match.start()])))
        out.append(f"<mark>{escape(match.group(0))}</mark>")
        end = match.end()
    out.append(str(escape(raw[end:])))
    return Markup("".join(out))


def marked(*html: Any) -> bool:
    """Whether any of these `highlight` results marked a word: a page shows its legend only then (the
    reporter's own ``<mark>`` is escaped, so it cannot count)."""
    return any("<mark>" in str(h) for h in html)
