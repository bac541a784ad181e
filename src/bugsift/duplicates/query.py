"""Safe full-text queries: user text is tokenized here, never handed to FTS5 or tsquery syntax.

A report's title and description become a bag of plain word tokens (letters and digits only, lower-cased,
stop words dropped). The FTS5 query quotes each token as a string (``"token"``), the PostgreSQL query is
built from the same tokens (which can contain no tsquery operator); both are passed as bound parameters.
Quotes, ``NEAR(``, ``*``, ``-``, ``:``, NUL bytes or a megabyte of text therefore cannot change the meaning
of a query or make it fail.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

# Letters and digits only: the same split as FTS5's unicode61 tokenizer (which also breaks on "_").
_TOKEN = re.compile(r"[^\W_]+")
MAX_TEXT_CHARS = 20_000
"""Only the start of a very long description is read to choose query terms."""
MAX_TERMS = 48
"""Query terms kept per report (title terms first); bounds the cost of one search."""
MAX_TOKEN_CHARS = 60

STOP_WORDS = frozenset(ENGLISH_STOP_WORDS) | {
    "error", "errors", "issue", "problem", "null", "java", "org", "apache", "com", "true", "false",
    "http", "https", "www", "using", "use", "used", "run", "running", "following", "get", "set",
}  # fmt: skip


def tokens(text: str) -> list[str]:
    """Plain lower-case word tokens of ``text`` (at most MAX_TEXT_CHARS read), stop words kept."""
    return [t for t in _TOKEN.findall(text[:MAX_TEXT_CHARS].lower()) if len(t) <= MAX_TOKEN_CHARS]


def query_terms(title: str, description: str = "", max_terms: int = MAX_TERMS) -> list[str]:
    """The distinct search terms of a report: title terms first, then the description's most frequent.

    Stop words, one-character tokens and pure numbers are dropped.
    """

    def useful(token: str) -> bool:
        return len(token) > 1 and token not in STOP_WORDS and not token.isdigit()

    chosen = list(dict.fromkeys(t for t in tokens(title) if useful(t)))
    counts = Counter(t for t in tokens(description) if useful(t))
    seen = set(chosen)
    for term, _ in counts.most_common():
        if len(chosen) >= max_terms:
            break
        if term not in seen:
            chosen.append(term)
            seen.add(term)
    return chosen[:max_terms]


def fts5_query(terms: Iterable[str]) -> str:
    """An FTS5 MATCH expression: any of the terms, each a quoted string (so never an operator)."""
    quoted = ['"' + term.replace('"', '""') + '"' for term in terms if term]
    return " OR ".join(quoted)


def tsquery_text(terms: Iterable[str]) -> str:
    """Text for PostgreSQL ``to_tsquery``: any of the terms. Tokens hold only letters and digits."""
    safe = [term for term in terms if term and _TOKEN.fullmatch(term)]
    return " | ".join(safe)
