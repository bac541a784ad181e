"""How common a query term really is in the full-text index, which matches stems, not words.

The re-ranker's TF-IDF counts words ("coded" is rare), the index matches stems ("coded" finds every "code"):
choosing stage-one terms by word rarity picks terms that match thousands of reports. The stems come from
SQLite's own FTS5 porter tokenizer (the one of ``reports_fts``) in a throw-away in-memory table, so they
are the index's stems exactly on SQLite and close to PostgreSQL's English snowball stems.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import numpy as np

TOKENIZER = "porter unicode61 remove_diacritics 2"  # as reports_fts (migrations 0002 and 0005)


def porter_stems(words: Sequence[str]) -> list[str]:
    """The FTS5 porter stem of each word ('' for a word the tokenizer drops)."""
    with sqlite3.connect(":memory:") as db:
        db.execute(f"CREATE VIRTUAL TABLE w USING fts5(word, tokenize='{TOKENIZER}')")
        db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(w, 'instance')")
        db.executemany("INSERT INTO w (rowid, word) VALUES (?, ?)", enumerate(words, start=1))
        stems = [""] * len(words)
        for term, doc in db.execute("SELECT term, doc FROM v WHERE offset = 0"):
            stems[doc - 1] = term
    return stems


def stem_shares(vocabulary: dict[str, int], idf: np.ndarray) -> np.ndarray:
    """Per vocabulary index: the share of documents holding any word of the same stem (at most 1).

    A word's share comes from scikit-learn's smooth idf, ``(1 + df) / (1 + n) = exp(1 - idf)``; the words of
    a stem are summed, an upper bound of the documents their union matches.
    """
    words = sorted(vocabulary, key=vocabulary.__getitem__)
    share = np.exp(1.0 - idf[[vocabulary[w] for w in words]])
    stems = porter_stems(words)
    _, group = np.unique(np.asarray(stems, dtype=object), return_inverse=True)
    summed = np.bincount(group, weights=share)[group]
    out = np.empty(len(words), dtype=np.float32)
    out[[vocabulary[w] for w in words]] = np.minimum(summed, 1.0)
    return out
