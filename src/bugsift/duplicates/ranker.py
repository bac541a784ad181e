"""Stage two: a learned re-ranker over pair features, trained from the tracker's own duplicate links.

`DuplicateRanker` holds the word TF-IDF (fitted on the reports filed before the training cut-off) and a
gradient-boosted classifier of "is this candidate the report the query duplicates". Training pairs are
each query's true earlier partner (positive) and the other stage-one candidates of that query (hard
negatives). It is saved as one skops file with an explicit list of trusted types (never pickle).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier

from bugsift.duplicates.features import FEATURE_NAMES, Doc, Vectors, make_vectorizer, pair_features
from bugsift.learn.vectorizers import CompactTfidfVectorizer as TfidfVectorizer

MAX_QUERY_TERMS = 24
"""Stage-one query terms kept per report, rarest first."""
MIN_QUERY_IDF = 2.5
"""Terms whose idf is below this (found in more than about 1 report in 7) are left out of stage one."""
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
        self.vocabulary_: dict[str, int] = dict(self.vectorizer_.vocabulary_)
        self.max_idf_ = float(self.idf_.max())
        return self

    def vectors(self, docs: Sequence[Doc]) -> Vectors:
        return Vectors.of(self.vectorizer_, docs)

    def select_terms(self, terms: Sequence[str], max_terms: int = MAX_QUERY_TERMS) -> list[str]:
        """The rarest useful query terms (unseen terms count as rarest); common ones slow stage one."""
        scored = []
        for position, term in enumerate(terms):
            index = self.vocabulary_.get(term)
            idf = self.max_idf_ if index is None else float(self.idf_[index])
            if idf >= MIN_QUERY_IDF:
                scored.append((-idf, position, term))
        return [term for _, _, term in sorted(scored)[:max_terms]]

    # --- pairs --------------------------------------------------------------------------------------

    def features(
        self,
        query: Doc,
        query_vectors: Vectors,
        candidates: Sequence[Doc],
        candidate_vectors: Vectors,
        lexical_scores: Sequence[float],
    ) -> np.ndarray:
        return pair_features(
            query, query_vectors, candidates, candidate_vectors, lexical_scores, self.idf_, RARE_IDF
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
        if len(X) == 0:
            return np.zeros((0, 2))
        proba: np.ndarray = self.classifier_.predict_proba(X)
        return proba


TRUSTED_TYPES: list[str] = [
    "bugsift.duplicates.ranker.DuplicateRanker",
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
