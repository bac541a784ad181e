"""Stage two: a learned re-ranker over pair features, trained from the tracker's own duplicate links.

`DuplicateRanker` holds the word TF-IDF (fitted on the reports filed before the training cut-off; it also
chooses each query's rare stage-one terms, by the share of reports holding each word's stem) and a
gradient-boosted classifier of "is this candidate the report the query duplicates". Training pairs are
each query's true earlier partner (positive) and the other stage-one candidates of that query (hard
negatives). It is saved as one skops file with an explicit list of trusted types (never pickle).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import ThreadpoolController

from bugsift.learn.duplicates.features import (
    FEATURE_NAMES,
    Doc,
    Vectors,
    fill_candidate_features,
    make_vectorizer,
    pair_features,
)
from bugsift.learn.duplicates.stems import stem_shares
from bugsift.learn.vectorizers import CompactTfidfVectorizer as TfidfVectorizer

MAX_QUERY_TERMS = 24
"""Stage-one query terms kept per report, rarest first."""
MAX_TERM_SHARE = math.exp(1 - 2.5)
"""Terms whose stem is in more than this share of reports (idf 2.5, about 1 in 4.5) stay out of stage one."""
MAX_POSTINGS = 0.15
"""Budget of stage one: the summed share of reports the chosen terms' stems match (see `select_terms`)."""
MAX_POSTING_ROWS = 5_000
"""The same budget in rows, for a big store (``indexed_reports_`` known): a query costs about one bm25
evaluation per matched row, so a share alone would read 150,000 rows a query at a million reports. At the
shared Jira's 32,721 reports the two budgets agree (docs/performance.md, "Duplicate query speed")."""
RARE_IDF = 6.0
"""A shared term counts as rare above this idf (about 1 report in 250)."""


class DuplicateRanker:
    """Word TF-IDF + HistGradientBoostingClassifier over `FEATURE_NAMES` (scikit-learn conventions)."""

    def __init__(
        self,
        max_iter: int = 300,
        learning_rate: float = 0.05,
        max_leaf_nodes: int = 15,
        min_samples_leaf: int = 40,
        l2_regularization: float = 1.0,
        random_state: int = 0,
    ) -> None:
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.random_state = random_state

    # --- text ---------------------------------------------------------------------------------------

    def fit_text(self, docs: Sequence[Doc]) -> DuplicateRanker:
        self.vectorizer_: TfidfVectorizer = make_vectorizer().fit([d.text for d in docs])
        self.idf_: np.ndarray = self.vectorizer_.idf_.astype(np.float64)
        self.max_idf_ = float(self.idf_.max())
        self.stem_share_: np.ndarray = stem_shares(self.vectorizer_.vocabulary_, self.idf_)
        return self

    def vectors(self, docs: Sequence[Doc]) -> Vectors:
        return Vectors.of(self.vectorizer_, docs)

    def select_terms(
        self, terms: Sequence[str], max_terms: int = MAX_QUERY_TERMS, max_postings: float = MAX_POSTINGS
    ) -> list[str]:
        """The rarest useful query terms, rarity being that of the term's stem in the index (unseen terms
        count as rarest, each as one report of the fitted ones); common ones slow stage one and say little.

        Terms are taken rarest first while the share of reports they match, summed, stays within
        ``max_postings``, and within `MAX_POSTING_ROWS` of the ``indexed_reports_`` the index holds (when
        the predictor counted them): the cost of a full-text query grows with the rows its terms match.
        """
        indexed = getattr(self, "indexed_reports_", None)
        if indexed:
            max_postings = min(max_postings, MAX_POSTING_ROWS / indexed)
        scored = []
        for position, term in enumerate(terms):
            share = self._share(term)
            if share <= MAX_TERM_SHARE:
                scored.append((share, position, term))
        chosen: list[str] = []
        postings = 0.0
        for share, _, term in sorted(scored)[:max_terms]:
            postings += share
            if chosen and postings > max_postings:
                break
            chosen.append(term)
        return chosen

    def _share(self, term: str) -> float:
        index = self.vectorizer_.vocabulary_.get(term)  # one copy: skops stores a dict slowly
        if index is None:
            # Unseen in the fitted reports: smooth idf's share of a term in no document, 1 / (1 + n), where
            # max_idf_ is that of a term in one, 2 / (1 + n). Counting unseen terms as free let a query of
            # 19 of them through a budget meant for its rows.
            return math.exp(1.0 - self.max_idf_) / 2.0
        stem_share = getattr(self, "stem_share_", None)  # models saved before stems were counted
        if stem_share is None:
            return math.exp(1.0 - float(self.idf_[index]))  # smooth idf: (1 + df) / (1 + n)
        return float(stem_share[index])

    # --- pairs --------------------------------------------------------------------------------------

    def features(
        self,
        query: Doc,
        query_vectors: Vectors,
        candidates: Sequence[Doc],
        candidate_vectors: Vectors,
        lexical_scores: Sequence[float],
        rows: Sequence[int] | None = None,
    ) -> np.ndarray:
        """`features.pair_features`; ``rows``: the candidates whose own features are computed now (None:
        all; the others wait for `fill_features`)."""
        return pair_features(
            query, query_vectors, candidates, candidate_vectors, lexical_scores, self.idf_, RARE_IDF, rows
        )

    def fill_features(
        self,
        X: np.ndarray,
        query: Doc,
        query_vectors: Vectors,
        candidates: Sequence[Doc],
        candidate_vectors: Vectors,
        rows: Sequence[int],
    ) -> None:
        """Complete the rows ``rows`` of a matrix `features` left partial (in place)."""
        fill_candidate_features(
            X, query, query_vectors, candidates, candidate_vectors, self.idf_, RARE_IDF, rows
        )

    def fit(self, X: np.ndarray, y: np.ndarray) -> DuplicateRanker:
        """Fit the pair classifier (call `fit_text` first)."""
        self.classifier_ = HistGradientBoostingClassifier(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            early_stopping=False,
            random_state=self.random_state,
        ).fit(X, y)
        self.classes_ = self.classifier_.classes_
        self.feature_names_ = list(FEATURE_NAMES)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Probabilities on one thread: OpenMP threads for a few dozen rows only spin on a busy machine."""
        if len(X) == 0:
            return np.zeros((0, 2))
        with one_thread():
            proba: np.ndarray = self.classifier_.predict_proba(X)
        return proba


_CONTROLLER: list[ThreadpoolController] = []


def one_thread() -> Any:
    """A context limiting native thread pools to one thread; the controller (which inspects every loaded
    library, ~3 ms) is built once per process."""
    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=1)


TRUSTED_TYPES: list[str] = [
    "bugsift.learn.duplicates.ranker.DuplicateRanker",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
]
"""Types of a saved ranker beyond skops' defaults and `bugsift.learn.persist.TRUSTED_TYPES`
(read by persist through ``TRUSTED_TYPE_MODULES``)."""


def save_ranker(ranker: DuplicateRanker, path: Path | str) -> Path:
    from bugsift.learn.persist import save_model

    return save_model(ranker, path)


def load_ranker(path: Path | str) -> DuplicateRanker:
    """Load with `bugsift.learn.persist.load_model` (refuses any type outside the trusted lists)."""
    from bugsift.learn.persist import load_model

    ranker: Any = load_model(path)
    if not isinstance(ranker, DuplicateRanker):
        raise TypeError(f"{path}: not a DuplicateRanker")
    return ranker
