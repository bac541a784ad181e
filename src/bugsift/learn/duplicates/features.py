"""Pair features of (new report, candidate) for the re-ranker; only what existed when the new one was filed.

Text similarity (TF-IDF cosine of titles, bodies and both), the lexical score of stage one, shared rare
terms, shared exception names and stack frames, the candidate's id mentioned in the new report, same
project / components / affected versions, time apart and lengths. Comments, resolutions and links are
never read: they were written after filing.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer
from sklearn.preprocessing import normalize
from sklearn.utils.sparsefuncs_fast import inplace_csr_row_normalize_l2

from bugsift.learn.duplicates.query import STOP_WORDS, lower_words
from bugsift.learn.vectorizers import CompactTfidfVectorizer as TfidfVectorizer

TOKEN_PATTERN = r"(?u)[^\W_]+"
_EXCEPTION = re.compile(r"\b([A-Za-z_$][\w$]*(?:Exception|Error))\b")
_FRAME = re.compile(r"\bat\s+([\w$]+(?:\.[\w$<>]+)+)\s*\(")
MAX_TEXT_CHARS = 20_000

FEATURE_NAMES = (
    "lexical_score",
    "lexical_score_ratio",
    "lexical_rank_log",
    "cos_title",
    "cos_body",
    "cos_all",
    "cos_title_all",
    "cos_all_title",
    "shared_rare_terms",
    "shared_title_idf",
    "shared_exceptions",
    "shared_frames",
    "id_mentioned",
    "same_project",
    "components_jaccard",
    "versions_jaccard",
    "log_days_apart",
    "log_len_query",
    "log_len_candidate",
)


@dataclass
class Doc:
    """The filing-time view of a report that the features read."""

    row_id: int | None
    external_id: str
    title: str
    description: str
    project: str = ""
    components: list[str] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)
    created_at: datetime | None = None

    @property
    def text(self) -> str:
        return f"{self.title}\n{self.description[:MAX_TEXT_CHARS]}"


def make_vectorizer() -> TfidfVectorizer:
    """The word TF-IDF used for similarities and for choosing rare query terms."""
    return TfidfVectorizer(
        token_pattern=TOKEN_PATTERN,
        lowercase=True,
        stop_words=sorted(STOP_WORDS),
        sublinear_tf=True,
        min_df=1,
        dtype=np.float32,
    )


def _jaccard(a: Sequence[str], b: Sequence[str]) -> float:
    left, right = set(a), set(b)
    if not left or not right:
        return 0.0
    return len(left & right) / len(left | right)


def _pattern_set(pattern: re.Pattern[str], text: str) -> set[str]:
    return set(pattern.findall(text[:MAX_TEXT_CHARS]))


@dataclass
class Vectors:
    """TF-IDF rows (L2-normalised) of some documents: title, body and both."""

    title: sparse.csr_matrix
    body: sparse.csr_matrix
    full: sparse.csr_matrix

    @classmethod
    def of(cls, vectorizer: TfidfVectorizer, docs: Sequence[Doc]) -> Vectors:
        if not docs:
            empty = sparse.csr_matrix((0, len(vectorizer.vocabulary_)), dtype=np.float32)
            return cls(empty, empty, empty)
        # ``text`` is title + newline + body, and a newline always separates tokens: its counts are the
        # sum of the other two, so each document is tokenized twice instead of three times.
        count = _word_counts if plain_words(vectorizer) else CountVectorizer.transform
        title = count(vectorizer, [d.title for d in docs])
        body = count(vectorizer, [d.description[:MAX_TEXT_CHARS] for d in docs])
        full = title + body
        # One TF-IDF pass for the three: its steps are per entry and per row, so the rows come out the
        # same as three passes would give.
        tfidf = vectorizer._tfidf  # the fitted TfidfTransformer that TfidfVectorizer.transform applies
        n = len(docs)
        rows = _tfidf(tfidf, sparse.vstack([title, body, full], format="csr"))
        return cls(title=rows[:n], body=rows[n : 2 * n], full=rows[2 * n :])

    def rows(self, index: Sequence[int]) -> Vectors:
        return Vectors(self.title[index], self.body[index], self.full[index])

    def between(self, start: int, stop: int | None = None) -> Vectors:
        """Rows ``start`` up to ``stop`` (a slice: cheaper than `rows`, the same entries)."""
        return Vectors(self.title[start:stop], self.body[start:stop], self.full[start:stop])


def plain_words(vectorizer: TfidfVectorizer) -> bool:
    """True when ``vectorizer`` counts what `_word_counts` counts: lower-cased `TOKEN_PATTERN` words, no
    n-grams, no custom steps, and no stop word in its vocabulary (dropping the words it does not know
    then drops the stop words too). `make_vectorizer`'s always does."""
    if not (
        vectorizer.analyzer == "word"
        and vectorizer.token_pattern == TOKEN_PATTERN
        and vectorizer.lowercase
        and vectorizer.preprocessor is None
        and vectorizer.tokenizer is None
        and vectorizer.strip_accents is None
        and tuple(vectorizer.ngram_range) == (1, 1)
        and vectorizer.input == "content"
        and not vectorizer.binary
    ):
        return False
    return vectorizer.vocabulary_.keys().isdisjoint(vectorizer.get_stop_words() or ())


def _tfidf(tfidf: TfidfTransformer, counts: sparse.csr_matrix) -> sparse.csr_matrix:
    """``tfidf.transform(counts, copy=False)`` step for step, without its input checks: ``counts`` is a
    float CSR matrix built here, and the checks (pandas / narwhals probes) cost more than the arithmetic."""
    if tfidf.sublinear_tf:
        np.log(counts.data, counts.data)
        counts.data += 1.0
    if hasattr(tfidf, "idf_"):
        counts.data *= tfidf.idf_[counts.indices]
    if tfidf.norm == "l2":
        inplace_csr_row_normalize_l2(counts)
    elif tfidf.norm is not None:
        counts = normalize(counts, norm=tfidf.norm, copy=False)
    return counts


def _word_counts(vectorizer: TfidfVectorizer, texts: Sequence[str]) -> sparse.csr_matrix:
    """``CountVectorizer.transform`` for a `plain_words` vectorizer, entry for entry, with the words
    split by `query.lower_words` (the regular expression split was most of the re-ranking time)."""
    vocabulary = vectorizer.vocabulary_
    words = [lower_words(text) for text in texts]
    lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
    unknown = len(vocabulary)  # the id of every word out of the vocabulary, dropped below
    ids = np.fromiter(
        map(vocabulary.get, itertools.chain.from_iterable(words), itertools.repeat(unknown)),
        dtype=np.int32,
        count=int(lengths.sum()),
    )
    known = ids != unknown
    per_doc = np.bincount(np.repeat(np.arange(len(texts)), lengths)[known], minlength=len(texts))
    matrix = sparse.csr_matrix(
        (
            np.ones(int(known.sum()), dtype=vectorizer.dtype),
            ids[known],
            np.concatenate([[0], np.cumsum(per_doc)]).astype(np.int64),
        ),
        shape=(len(texts), unknown),
    )
    matrix.sum_duplicates()  # one entry per (document, word), counts summed, indices sorted
    return matrix


def mentions(text: str, key: str) -> bool:
    """True when ``key`` occurs in ``text`` not preceded by a word character or "-" and not followed by a
    digit (``HIVE-12`` is not in ``HIVE-123``); as ``re.search(rf"(?<![\\w-]){key}(?!\\d)")``, without
    compiling one pattern per candidate (that was a third of the re-ranking time)."""
    if not key:
        return False
    start = text.find(key)
    while start >= 0:
        before = text[start - 1] if start else ""
        after = text[start + len(key) : start + len(key) + 1]
        if not (before and (before.isalnum() or before in "_-")) and not (after and after.isdecimal()):
            return True
        start = text.find(key, start + 1)
    return False


def _rowwise_cos(a: sparse.csr_matrix, b: sparse.csr_matrix) -> np.ndarray:
    return np.asarray(a.multiply(b).sum(axis=1)).ravel()


def pair_features(
    query: Doc,
    query_vectors: Vectors,
    candidates: Sequence[Doc],
    candidate_vectors: Vectors,
    lexical_scores: Sequence[float],
    idf: np.ndarray,
    rare_idf: float,
    rows: Sequence[int] | None = None,
) -> np.ndarray:
    """Feature matrix (len(candidates) x len(FEATURE_NAMES)) of one query against its candidates.

    ``query_vectors`` has one row; ``candidate_vectors`` one row per candidate; ``lexical_scores`` come from
    stage one (higher is better); ``idf`` is the vectorizer's idf_, ``rare_idf`` the idf above which a
    shared term counts as rare. ``rows``: the candidates whose own features (`fill_candidate_features`)
    are computed now (None: all); the others keep 0 there until filled.
    """
    n = len(candidates)
    out = np.zeros((n, len(FEATURE_NAMES)), dtype=np.float64)
    if n == 0:
        return out
    rep = np.zeros(n, dtype=np.int64)
    q = Vectors(query_vectors.title[rep], query_vectors.body[rep], query_vectors.full[rep])
    c = candidate_vectors
    scores = np.asarray(lexical_scores, dtype=np.float64)
    top = scores.max() if scores.size and scores.max() > 0 else 1.0
    out[:, 0] = scores
    out[:, 1] = scores / top
    out[:, 2] = np.log1p(np.arange(n))
    out[:, 3] = _rowwise_cos(q.title, c.title)
    out[:, 4] = _rowwise_cos(q.body, c.body)
    out[:, 5] = _rowwise_cos(q.full, c.full)
    out[:, 6] = _rowwise_cos(q.title, c.full)
    out[:, 7] = _rowwise_cos(q.full, c.title)
    every = range(n) if rows is None else rows
    fill_candidate_features(out, query, query_vectors, candidates, c, idf, rare_idf, every)
    return out


def fill_candidate_features(
    out: np.ndarray,
    query: Doc,
    query_vectors: Vectors,
    candidates: Sequence[Doc],
    candidate_vectors: Vectors,
    idf: np.ndarray,
    rare_idf: float,
    rows: Iterable[int],
) -> None:
    """Columns 8 on of ``out`` (`pair_features`' matrix) for the candidates at ``rows``: each depends on
    that candidate alone, and they cost most of the matrix (a text-similarity answer needs them for the
    candidates it returns only)."""
    c = candidate_vectors
    query_terms = set(query_vectors.full.indices.tolist())
    query_title_terms = set(query_vectors.title.indices.tolist())
    query_exceptions = _pattern_set(_EXCEPTION, query.text)
    query_frames = _pattern_set(_FRAME, query.text)
    query_text_upper = query.text.upper()
    full_ptr, title_ptr = c.full.indptr, c.title.indptr
    for i in rows:
        cand = candidates[i]
        terms = set(c.full.indices[full_ptr[i] : full_ptr[i + 1]].tolist())
        shared = query_terms & terms
        out[i, 8] = sum(1 for t in shared if idf[t] >= rare_idf)
        title_terms = c.title.indices[title_ptr[i] : title_ptr[i + 1]].tolist()
        out[i, 9] = sum(idf[t] for t in query_title_terms & set(title_terms))
        # Both are 0 when the query has none: the candidate's text is then not searched (it is slow).
        if query_exceptions:
            out[i, 10] = len(query_exceptions & _pattern_set(_EXCEPTION, cand.text))
        if query_frames:
            out[i, 11] = _jaccard(list(query_frames), list(_pattern_set(_FRAME, cand.text)))
        out[i, 12] = float(mentions(query_text_upper, cand.external_id.upper()))
        out[i, 13] = float(query.project == cand.project)
        out[i, 14] = _jaccard(query.components, cand.components)
        out[i, 15] = _jaccard(query.versions, cand.versions)
        if query.created_at and cand.created_at:
            out[i, 16] = math.log1p(abs((query.created_at - cand.created_at).total_seconds()) / 86400)
        out[i, 17] = math.log1p(len(query.description))
        out[i, 18] = math.log1p(len(cand.description))
