"""The learned ranker over (report, candidate file) feature rows.

Trained on older reports only (each row's features were computed as of its own report's filing time).
Per report the rows are its fixed files (positives) and a sample of the others: the strongest rivals
under the plain score (hard negatives) and random ones weighted up to stand for all the rest, so that a
pointwise model sees the true mix of files.

``kind``:
* ``hgb``: pointwise gradient-boosted trees (``HistGradientBoostingClassifier``) with those weights;
* ``pairwise`` (default): a linear RankSVM-like model: logistic regression on differences (positive -
  negative) of the standardized rows of the same report;
* ``logistic``: pointwise logistic regression with the weights.
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

HARD_NEGATIVES = 40
RANDOM_NEGATIVES = 40
RANKER_KINDS = ("hgb", "pairwise", "logistic")


def sample_rows(
    features: np.ndarray, positive: np.ndarray, plain: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows to learn from for one report: (rows, labels, weights): positives, hard and random negatives."""
    negatives = np.flatnonzero(~positive)
    hard = negatives[np.argsort(-plain[negatives], kind="stable")[:HARD_NEGATIVES]]
    rest = np.setdiff1d(negatives, hard, assume_unique=True)
    easy = rng.choice(rest, size=min(RANDOM_NEGATIVES, len(rest)), replace=False) if len(rest) else rest
    pos = np.flatnonzero(positive)
    rows = np.concatenate([pos, hard, easy])
    weights = np.concatenate(
        [np.ones(len(pos) + len(hard)), np.full(len(easy), len(rest) / max(len(easy), 1))]
    )
    # each report weighs the same in total, however many candidates it has
    weights = weights / weights.sum() * len(rows)
    return features[rows], positive[rows].astype(np.int8), weights.astype(np.float32)


def _pairs(
    X: np.ndarray, y: np.ndarray, w: np.ndarray, groups: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    diffs, labels, weights = [], [], []
    for g in np.unique(groups):
        rows = np.flatnonzero(groups == g)
        pos, neg = rows[y[rows] == 1], rows[y[rows] == 0]
        if not len(pos) or not len(neg):
            continue
        d = (X[pos][:, None, :] - X[neg][None, :, :]).reshape(-1, X.shape[1])
        pw = np.repeat(w[neg][None, :], len(pos), axis=0).ravel()
        pw = pw / pw.sum()
        diffs += [d, -d]
        labels += [np.ones(len(d)), np.zeros(len(d))]
        weights += [pw, pw]
    return np.vstack(diffs), np.concatenate(labels), np.concatenate(weights) * len(weights) / 2


class FileRanker:
    """Scores candidate rows; higher is likelier."""

    def __init__(
        self, kind: str = "pairwise", max_iter: int = 200, learning_rate: float = 0.05, random_state: int = 0
    ) -> None:
        self.kind = kind
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.random_state = random_state

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        weights: np.ndarray | None = None,
        groups: np.ndarray | None = None,
    ) -> FileRanker:
        w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=float)
        if self.kind == "hgb":
            self.model_ = HistGradientBoostingClassifier(
                max_iter=self.max_iter,
                learning_rate=self.learning_rate,
                max_leaf_nodes=15,
                min_samples_leaf=40,
                l2_regularization=1.0,
                early_stopping=False,
                random_state=self.random_state,
            ).fit(X, y, sample_weight=w)
        elif self.kind == "logistic":
            self.model_ = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=3000))
            self.model_.fit(X, y, logisticregression__sample_weight=w)
        elif self.kind == "pairwise":
            if groups is None:
                raise ValueError("the pairwise ranker needs the report of each row (groups)")
            self.scaler_ = StandardScaler().fit(X)
            d, labels, pw = _pairs(self.scaler_.transform(X), y, w, np.asarray(groups))
            self.model_ = LogisticRegression(C=1.0, max_iter=3000, fit_intercept=False)
            self.model_.fit(d, labels, sample_weight=pw)
        else:
            raise ValueError(f"unknown ranker kind {self.kind!r}: expected one of {', '.join(RANKER_KINDS)}")
        return self

    def score(self, X: np.ndarray) -> np.ndarray:
        """Raw scores of the rows (log-odds for the pointwise kinds)."""
        if self.kind == "pairwise":
            return self.model_.decision_function(self.scaler_.transform(X))
        return self.model_.decision_function(X)
