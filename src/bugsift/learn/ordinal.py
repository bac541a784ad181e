"""An ordinal member for the kind model: cumulative binary classifiers on an ordered scale.

`CumulativeBinary` (Frank & Hall, ECML 2001) fits one logistic regression per cut of the scale, "at least
as severe as level k", and reads each level's probability as the difference of two neighbouring cuts.
Neighbouring levels share their cuts, so what the model learns about "worse than major" also tells
"critical" from "minor": that is how the order enters training.

`OrdinalClassifier` is a `KindClassifier` whose TF-IDF member is a `CumulativeBinary`: the same
features, age weights, embedding member, thresholds and reasons. Its ``coef_`` holds, per class, the
direction that raises that class's probability (the cut above it minus the cut below), so the
explanation machinery (`bugsift.learn.explain`) reads it as it reads a multi-class model's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.validation import check_is_fitted

from bugsift.learn.kind.model import DEFAULTS, KindClassifier
from bugsift.learn.scale.scales import scale_named

TRUSTED_TYPES = ["bugsift.learn.ordinal.CumulativeBinary", "bugsift.learn.ordinal.OrdinalClassifier"]


class CumulativeBinary(ClassifierMixin, BaseEstimator):
    """P(level) from one binary classifier per cut "rank <= k" of ``levels`` (worst first).

    Parameters
    ----------
    levels : the scale's levels, worst first; every training label must be one of them.
    C, class_weight : of each cut's logistic regression.
    calibration : "sigmoid" (each cut calibrated on 3 folds, as the kind model's member) or "none".
    cv, random_state : calibration folds and their shuffling seed.
    """

    def __init__(
        self,
        levels: Sequence[str] = (),
        C: float = 1.0,
        class_weight: str | None = None,
        calibration: str = "sigmoid",
        cv: int = 3,
        random_state: int = 0,
    ) -> None:
        self.levels = levels
        self.C = C
        self.class_weight = class_weight
        self.calibration = calibration
        self.cv = cv
        self.random_state = random_state

    def fit(self, X: Any, y: Sequence[str], sample_weight: Any = None) -> CumulativeBinary:
        y_arr = np.asarray([str(v) for v in y], dtype=object)
        unknown = sorted(set(y_arr) - set(self.levels))
        if unknown:
            raise ValueError(f"labels not on the scale {list(self.levels)}: {unknown[:5]}")
        self.classes_ = np.unique(y_arr)
        # the levels seen, worst first; a cut between two of them per estimator
        self.ordered_ = [level for level in self.levels if level in set(y_arr)]
        rank = {level: i for i, level in enumerate(self.ordered_)}
        ranks = np.asarray([rank[v] for v in y_arr])
        self.estimators_ = [
            self._fit_cut(X, ranks <= k, sample_weight) for k in range(len(self.ordered_) - 1)
        ]
        # column j of predict_proba (classes_ order) is level ordered_[order_[j]]
        self.order_ = np.asarray([rank[c] for c in self.classes_], dtype=np.int64)
        return self

    def _fit_cut(self, X: Any, z: np.ndarray, sample_weight: Any) -> Any:
        linear = LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=2000, tol=1e-4)
        n_folds = int(min(self.cv, z.sum(), (~z).sum()))
        if self.calibration == "none" or n_folds < 2:
            return linear.fit(X, z, sample_weight=sample_weight)
        folds = StratifiedKFold(n_folds, shuffle=True, random_state=self.random_state)
        model = CalibratedClassifierCV(linear, method=self.calibration, cv=folds)
        return model.fit(X, z, sample_weight=sample_weight)

    def cumulative(self, X: Any) -> np.ndarray:
        """P(rank <= k) per cut, made non-decreasing in k (independent fits may cross)."""
        check_is_fitted(self, "estimators_")
        n = X.shape[0]
        if not self.estimators_:
            return np.ones((n, 0))
        cuts = np.column_stack(
            [e.predict_proba(X)[:, list(e.classes_).index(True)] for e in self.estimators_]
        )
        return np.maximum.accumulate(cuts, axis=1)

    def predict_proba(self, X: Any) -> np.ndarray:
        cum = self.cumulative(X)
        bounds = np.hstack([np.zeros((cum.shape[0], 1)), cum, np.ones((cum.shape[0], 1))])
        by_rank = np.clip(np.diff(bounds, axis=1), 0.0, None)
        by_rank /= by_rank.sum(axis=1, keepdims=True)
        return by_rank[:, self.order_]

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def cut_coefficients(self) -> np.ndarray:
        """[n_cuts, n_features]: each cut's coefficients toward "at least this bad" (fold-averaged)."""
        rows = []
        for estimator in self.estimators_:
            members = (
                [c.estimator for c in estimator.calibrated_classifiers_]
                if isinstance(estimator, CalibratedClassifierCV)
                else [estimator]
            )
            sign = 1.0 if list(members[0].classes_).index(True) == 1 else -1.0
            rows.append(sign * np.mean([np.asarray(m.coef_[0], dtype=np.float64) for m in members], axis=0))
        return np.asarray(rows)

    def class_coefficients(self, n_features: int) -> np.ndarray:
        """[n_classes, n_features] in ``classes_`` order: cut at the level minus the cut above it, which
        raises that level's probability; the rows sum to zero, as `explain` expects."""
        cuts = self.cut_coefficients()
        padded = np.vstack(
            [np.zeros((1, n_features)), cuts.reshape(-1, n_features), np.zeros((1, n_features))]
        )
        toward = padded[1:] - padded[:-1]  # toward rank r: cut r (raises P(<= r)) minus cut r-1
        return toward[self.order_].astype(np.float32)


class OrdinalClassifier(KindClassifier):
    """`KindClassifier` with a `CumulativeBinary` TF-IDF member on the scale named ``scale``.

    Parameters: ``scale`` (a name of `bugsift.learn.scale.scales`) and every `KindClassifier` parameter.
    Not pooled by project (pooling was measured for the multi-class member only).
    """

    def __init__(self, scale: str = "", **params: Any) -> None:
        super().__init__(**params)
        self.scale = scale

    @classmethod
    def _get_param_names(cls) -> list[str]:  # scikit-learn reads parameters from __init__: add ours
        return sorted([*KindClassifier._get_param_names(), "scale"])

    def _fit_tfidf_member(self, Xt: Any, y: np.ndarray, sw: np.ndarray | None) -> None:
        levels = scale_named(self.scale).levels
        self.model_ = CumulativeBinary(
            levels=levels,
            C=self.C_,
            class_weight=self.class_weight,
            calibration="none" if self.calibration == "none" else "sigmoid",
            cv=self.cv,
            random_state=self.random_state,
        ).fit(Xt, y, sample_weight=sw)
        self.classes_ = np.asarray(self.model_.classes_, dtype=object)
        self.coef_ = self.model_.class_coefficients(Xt.shape[1])

    def pooled_projects(self, X: Sequence[Any]) -> list[str]:
        return []

    def linear_models(self) -> list[LogisticRegression]:
        raise NotImplementedError("an ordinal model's linear parts are its cuts: see model_.estimators_")


def build_ordinal_model(**params: Any) -> OrdinalClassifier:
    """An `OrdinalClassifier` with the kind model's benchmark-chosen defaults, overridden by ``params``."""
    return OrdinalClassifier(**{**DEFAULTS, **params})
