"""The `fix-time` model: one estimator from reports to a median and an interval of days to a fix.

Five kinds, all behind the same `FixTimeModel` (one skops file):

``median``    always the training fixes' median (the baseline every answer is compared with); its
              interval is those fixes' own 10%-90% range.
``ridge``     ridge regression on word TF-IDF of the title and description, fitted on the fixes only
              (plain text regression: the issue's comparison); interval from its training residuals.
``quantile``  `CensoredQuantileRegression` of the median on the same features as ``censored``: it
              minimises the absolute error itself, open reports cost only below their bound. Interval
              from its training residuals (``interval_models``: two more quantile fits, which covered
              less on held-out fixes).
``censored``  `CensoredLinearRegression` on the filing-time features (`ReportFeatures` in filing mode,
              text optional) plus how fast earlier, similar reports got fixed (`FixHistory`); open
              reports count as lower bounds. Interval from the fitted normal spread.
``boosted``   quantile-loss gradient boosting on history, frequent fields and a text score, fixes only
              (kept for benchmarks: on the Jira projects it did no better than ``censored``, and its
              intervals covered 50-60%, so `fix_time.task.CANDIDATES` leaves it out).

Nothing about the outcome is read: `fix_time.target.TARGET_FIELDS` and everything `ReportFeatures`
already never reads in filing mode (resolution, fix versions, comments ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.special import ndtri
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold

from bugsift.learn.features import ReportFeatures
from bugsift.learn.fix_time.censored import CensoredLinearRegression, CensoredQuantileRegression
from bugsift.learn.fix_time.history import FixHistory
from bugsift.learn.fix_time.target import TARGET_FIELDS
from bugsift.sources.base import Report

KINDS = ("median", "ridge", "censored", "quantile", "boosted")
MIN_FIELD_SUPPORT = 20
"""A one-hot field needs this many training reports to become a column of the boosted kind."""
INTERVAL = (0.1, 0.9)
STALE_QUANTILE = 0.9
"""The censored kind's ``recent``: open reports longer than this share of fixes took are stale."""

# Types a saved model holds beyond `bugsift.learn.persist.TRUSTED_TYPES` (read by `trusted_types`).
TRUSTED_TYPES: list[str] = [
    "bugsift.learn.fix_time.model.FixTimeModel",
    "bugsift.learn.fix_time.history.FixHistory",
    "bugsift.learn.fix_time.censored.CensoredLinearRegression",
    "bugsift.learn.fix_time.censored.CensoredQuantileRegression",
    "sklearn.linear_model._ridge.Ridge",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingRegressor",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn._loss.loss.PinballLoss",
    "sklearn._loss.link.IdentityLink",
    "sklearn._loss.link.Interval",
    "sklearn._loss._loss.CyPinballLoss",
    "numpy.bool",
]


class FixTimeModel(RegressorMixin, BaseEstimator):
    """``fit(reports, y, fixed=..., resolved=...)``: ``y`` log-days (days open so far where not fixed),
    ``fixed`` whether each report got its fix, ``resolved`` the fix times (epoch seconds, NaN if open).

    ``predict`` gives the median log-days, ``predict_all`` the median and the `INTERVAL` quantiles.
    """

    def __init__(
        self,
        kind: str = "censored",
        text: bool = True,
        history: bool = True,
        alpha: float = 10.0,
        field_weight: float = 1.0,
        text_weight: float = 1.0,
        interval: tuple[float, float] = INTERVAL,
        censored: str = "recent",
        recenter: bool = False,
        interval_models: bool = False,
    ) -> None:
        self.kind = kind
        self.text = text
        self.history = history
        self.alpha = alpha
        self.field_weight = field_weight
        self.text_weight = text_weight
        self.interval = interval
        self.censored = censored
        self.recenter = recenter
        self.interval_models = interval_models

    def _features(self) -> ReportFeatures:
        if self.kind == "ridge":  # word TF-IDF of the title and description only
            return ReportFeatures(mode="filing", field_weight=0.0, exclude_fields=TARGET_FIELDS)
        weight = self.text_weight if self.text else 0.0
        return ReportFeatures(
            mode="filing",
            exclude_fields=TARGET_FIELDS,
            title_weight=weight,
            description_weight=weight,
            field_weight=self.field_weight,
            max_features=50_000,
        )

    def _matrix(self, reports: Sequence[Report], fit: bool = False) -> sp.csr_matrix:
        blocks = [self.features_.fit_transform(reports) if fit else self.features_.transform(reports)]
        if self.history_ is not None:
            blocks.append(self.history_.transform(reports))
        return sp.hstack(blocks, format="csr", dtype=np.float64)

    def fit(
        self,
        X: Sequence[Report],
        y: np.ndarray,
        fixed: np.ndarray | None = None,
        resolved: np.ndarray | None = None,
    ) -> FixTimeModel:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {self.kind!r}")
        y = np.asarray(y, dtype=np.float64)
        fixed = np.ones(len(y), bool) if fixed is None else np.asarray(fixed, dtype=bool)
        if not fixed.any():
            raise ValueError("fix-time needs at least one fixed report to learn from")
        low, high = self.interval
        self.median_ = float(np.median(y[fixed]))
        self.features_, self.history_, self.estimator_, self.text_model_ = None, None, None, None
        self.quantile_models_: list[Any] = []
        if self.kind == "median":
            self.offsets_ = np.quantile(y[fixed], [low, high]) - self.median_
            return self
        reports = list(X)
        if self.kind in ("censored", "quantile", "boosted") and self.history:
            if resolved is None:
                raise ValueError(f"the {self.kind} kind with history needs resolved= (fix times)")
            self.history_ = FixHistory().fit(reports, resolved=np.asarray(resolved, float), values=y)
        self.features_ = self._features()
        if self.kind == "boosted":
            return self._fit_boosted(reports, y, fixed)
        matrix = self._matrix(reports, fit=True)
        if self.kind == "ridge":
            self.estimator_ = Ridge(alpha=1.0).fit(matrix[fixed], y[fixed])
            residuals = y[fixed] - self.estimator_.predict(matrix[fixed])
            self.offsets_ = np.quantile(residuals, [low, high])
        elif self.kind == "quantile":
            keep = self._kept(y, fixed)
            models = [
                CensoredQuantileRegression(q, alpha=self.alpha).fit(matrix[keep], y[keep], fixed[keep])
                for q in ((0.5, *self.interval) if self.interval_models else (0.5,))
            ]
            self.estimator_, self.quantile_models_ = models[0], models[1:]
            residuals = y[fixed] - self.estimator_.predict(matrix[fixed])
            self.offsets_ = np.quantile(residuals, self.interval)
        else:
            keep = self._kept(y, fixed)
            self.estimator_ = CensoredLinearRegression(alpha=self.alpha).fit(
                matrix[keep], y[keep], fixed[keep]
            )
            if self.recenter:
                residuals = y[fixed] - self.estimator_.predict(matrix[fixed])
                self.estimator_.intercept_ += float(np.median(residuals))
            sigma = self.estimator_.sigma_
            self.offsets_ = np.array([sigma * float(ndtri(low)), sigma * float(ndtri(high))])
        return self

    def _fit_boosted(self, reports: list[Report], y: np.ndarray, fixed: np.ndarray) -> FixTimeModel:
        """Quantile-loss gradient boosting (median, low, high) on the fixes: history, frequent fields and
        one text score (ridge on the words, out-of-fold on the training fixes so trees do not trust an
        overfitted score)."""
        full = self.features_.fit_transform(reports).tocsc()
        names = self.features_.get_feature_names_out()
        is_text = np.array([n.startswith(("title:", "word:")) for n in names])
        support = np.diff(full.indptr)
        one_hot = np.array(["=" in n for n in names])
        self.field_columns_ = np.flatnonzero(~is_text & (~one_hot | (support >= MIN_FIELD_SUPPORT)))
        self.text_columns_ = np.flatnonzero(is_text)
        full = full.tocsr()
        rows = np.flatnonzero(fixed)
        score = np.zeros(len(reports))
        if self.text and self.text_columns_.size:
            words = full[:, self.text_columns_]
            self.text_model_ = Ridge(alpha=3.0).fit(words[rows], y[rows])
            score = self.text_model_.predict(words)
            if len(rows) >= 50:
                for part in KFold(5).split(rows):
                    fit_rows, held = rows[part[0]], rows[part[1]]
                    score[held] = Ridge(alpha=3.0).fit(words[fit_rows], y[fit_rows]).predict(words[held])
        dense = self._dense(reports, full, score)[rows]
        models = [
            HistGradientBoostingRegressor(
                loss="quantile",
                quantile=q,
                max_iter=200,
                learning_rate=0.05,
                max_leaf_nodes=15,
                min_samples_leaf=40,
                l2_regularization=1.0,
                early_stopping=False,
                random_state=0,
            ).fit(dense, y[rows])
            for q in (0.5, *self.interval)
        ]
        self.estimator_, self.quantile_models_ = models[0], models[1:]
        self.offsets_ = np.zeros(2)
        return self

    def _dense(self, reports: Sequence[Report], full: sp.csr_matrix, score: np.ndarray) -> np.ndarray:
        blocks = [full[:, self.field_columns_].toarray(), score.reshape(-1, 1)]
        if self.history_ is not None:
            blocks.insert(0, self.history_.transform(reports).toarray())
        return np.hstack(blocks)

    def _kept(self, y: np.ndarray, fixed: np.ndarray) -> np.ndarray:
        """Which reports the censored kind learns from: the fixes, and the open reports as lower bounds
        (``censored="all"``), only those open no longer than `STALE_QUANTILE` of the fixes took
        (``"recent"``: older open ones are mostly never going to be fixed, and as lower bounds they would
        stretch every estimate), or none (``"none"``)."""
        if self.censored == "all":
            return np.ones(len(y), bool)
        if self.censored == "none":
            return fixed.copy()
        stale_after = float(np.quantile(y[fixed], STALE_QUANTILE))
        return fixed | (y <= stale_after)

    def transform(self, X: Sequence[Report]) -> Any:
        """The model's feature matrix of ``X`` (None for the median: it reads nothing)."""
        if self.estimator_ is None:
            return None
        reports = list(X)
        if self.kind != "boosted":
            return self._matrix(reports)
        full = self.features_.transform(reports)
        score = np.zeros(len(reports))
        if self.text_model_ is not None:
            score = self.text_model_.predict(full[:, self.text_columns_])
        return self._dense(reports, full, score)

    def predict(self, X: Sequence[Report]) -> np.ndarray:
        """Median log-days of each report."""
        reports = list(X)
        return self.predict_all(self.transform(reports), len(reports))[0]

    def predict_all(self, matrix: Any, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(median, low, high) log-days from the matrix `transform` gave (``n`` rows)."""
        if self.estimator_ is None:
            median = np.full(n, self.median_)
        else:
            median = np.asarray(self.estimator_.predict(matrix), dtype=np.float64).ravel()
        if self.quantile_models_:
            low, high = (m.predict(matrix) for m in self.quantile_models_)
            # separate quantile fits can cross: keep low <= median <= high
            return median, np.minimum(low, median), np.maximum(high, median)
        return median, median + self.offsets_[0], median + self.offsets_[1]

    def feature_names(self) -> np.ndarray:
        names = list(self.features_.get_feature_names_out()) if self.features_ is not None else []
        if self.history_ is not None:
            names += list(self.history_.get_feature_names_out())
        return np.asarray(names, dtype=object)

    def coefficients(self) -> np.ndarray:
        return np.asarray(self.estimator_.coef_, dtype=np.float64).ravel()


def describe_settings(params: dict[str, Any]) -> str:
    """A candidate's settings in a few words (for reports and the CLI)."""
    kind = params.get("kind", "censored")
    if kind in ("median", "ridge"):
        return {"median": "always the training median", "ridge": "ridge on word TF-IDF"}[kind]
    parts = ["fields"]
    if params.get("text", True):
        parts.append("text")
    if params.get("history", True):
        parts.append("history")
    learner = {"censored": "log-normal", "quantile": "median regression", "boosted": "boosted trees"}[kind]
    bounds = "fixes only" if params.get("censored") == "none" else "fixes + recent open reports as bounds"
    return f"{learner} on {' + '.join(parts)} ({bounds}, alpha {params.get('alpha', 10.0):g})"
