"""A linear regression that learns from lower bounds too: a log-normal accelerated-failure-time model.

The target (log-days) is ``x·w + b + σ·ε`` with ε standard normal. A fixed report contributes its
density, a still-open one the probability of taking longer than it has been open so far (right
censoring, as in a Tobit model); an L2 penalty ``alpha/2 ·|w|²`` keeps thousands of TF-IDF columns
in check. Maximum likelihood by L-BFGS on the sparse matrix: no extra dependency. The median of the
predicted distribution is ``x·w + b``; any quantile is ``x·w + b + σ·Φ⁻¹(q)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize
from scipy.special import log_ndtr, ndtri
from sklearn.base import BaseEstimator, RegressorMixin

_LOG_SQRT_2PI = 0.5 * np.log(2 * np.pi)


class CensoredLinearRegression(RegressorMixin, BaseEstimator):
    """``fit(X, y, observed)``: ``observed[i]`` False means the true value is above ``y[i]``."""

    def __init__(self, alpha: float = 1.0, max_iter: int = 300) -> None:
        self.alpha = alpha
        self.max_iter = max_iter

    def _loss(
        self, params: np.ndarray, X: Any, y: np.ndarray, observed: np.ndarray
    ) -> tuple[float, np.ndarray]:
        n, p = X.shape
        w, b, log_sigma = params[:p], params[p], params[p + 1]
        sigma = np.exp(log_sigma)
        z = (y - (X @ w + b)) / sigma
        zo, zc = z[observed], z[~observed]
        log_surv = log_ndtr(-zc)
        loss = (np.sum(0.5 * zo**2 + _LOG_SQRT_2PI + log_sigma) - np.sum(log_surv)) / n
        loss += 0.5 * self.alpha * float(w @ w) / n
        # d loss / d mu (per row) and d loss / d log sigma
        d_mu = np.empty(n)
        d_mu[observed] = -zo / sigma
        mills = np.exp(-0.5 * zc**2 - _LOG_SQRT_2PI - log_surv)  # phi(z) / (1 - Phi(z)), stably
        d_mu[~observed] = -mills / sigma
        d_log_sigma = (np.sum(1.0 - zo**2) - np.sum(mills * zc)) / n
        grad = np.empty(p + 2)
        grad[:p] = (X.T @ d_mu) / n + self.alpha * w / n
        grad[p] = d_mu.sum() / n
        grad[p + 1] = d_log_sigma
        return float(loss), grad

    def fit(self, X: Any, y: np.ndarray, observed: np.ndarray | None = None) -> CensoredLinearRegression:
        X = sp.csr_matrix(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        observed = np.ones(len(y), bool) if observed is None else np.asarray(observed, dtype=bool)
        start = np.zeros(X.shape[1] + 2)
        seen = y[observed] if observed.any() else y
        start[-2] = float(np.median(seen))
        start[-1] = float(np.log(max(np.std(seen), 0.1)))
        result = minimize(
            self._loss,
            start,
            args=(X, y, observed),
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": self.max_iter},
        )
        p = X.shape[1]
        self.coef_ = result.x[:p]
        self.intercept_ = float(result.x[p])
        self.sigma_ = float(np.exp(result.x[p + 1]))
        self.n_iter_ = int(result.nit)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """The median (and mean) of the predicted distribution."""
        return np.asarray(X @ self.coef_).ravel() + self.intercept_

    def predict_quantile(self, X: Any, q: float) -> np.ndarray:
        return self.predict(X) + self.sigma_ * float(ndtri(q))


def _pinball(r: np.ndarray, q: float, delta: float) -> tuple[np.ndarray, np.ndarray]:
    """The pinball loss of residuals ``r`` (y - prediction) for quantile ``q``, made smooth within
    ``delta`` of zero (so L-BFGS applies), and its derivative in ``r``."""
    weight = np.where(r > 0, q, 1.0 - q)
    small = np.abs(r) <= delta
    loss = np.where(small, weight * r**2 / (2 * delta), weight * (np.abs(r) - delta / 2))
    grad = np.where(small, weight * r / delta, np.where(r > 0, q, q - 1.0))
    return loss, grad


class CensoredQuantileRegression(RegressorMixin, BaseEstimator):
    """Linear quantile regression that takes lower bounds: ``fit(X, y, observed)``.

    A fixed report costs the pinball loss of its residual; an open one (true value above ``y``) only
    when the predicted quantile is below ``y``, by ``q ·(y - prediction)``: Powell's censored quantile
    regression, which is consistent for the quantile when the censoring does not depend on the outcome.
    With ``q = 0.5`` it minimises the absolute error, what the fix-time task is scored on.
    """

    def __init__(self, quantile: float = 0.5, alpha: float = 1.0, delta: float = 0.25, max_iter: int = 200):
        self.quantile = quantile
        self.alpha = alpha
        self.delta = delta
        self.max_iter = max_iter

    def _loss(
        self, params: np.ndarray, X: Any, y: np.ndarray, observed: np.ndarray
    ) -> tuple[float, np.ndarray]:
        n, p = X.shape
        w, b = params[:p], params[p]
        r = y - (X @ w + b)
        r = np.where(observed, r, np.maximum(r, 0.0))  # open: no cost once the bound is reached
        loss, d_r = _pinball(r, self.quantile, self.delta)
        d_mu = -d_r
        grad = np.empty(p + 1)
        grad[:p] = (X.T @ d_mu) / n + self.alpha * w / n
        grad[p] = d_mu.sum() / n
        return float(loss.sum() / n + 0.5 * self.alpha * float(w @ w) / n), grad

    def fit(self, X: Any, y: np.ndarray, observed: np.ndarray | None = None) -> CensoredQuantileRegression:
        X = sp.csr_matrix(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        observed = np.ones(len(y), bool) if observed is None else np.asarray(observed, dtype=bool)
        start = np.zeros(X.shape[1] + 1)
        start[-1] = float(np.quantile(y[observed] if observed.any() else y, self.quantile))
        result = minimize(
            self._loss,
            start,
            args=(X, y, observed),
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": self.max_iter},
        )
        self.coef_ = result.x[:-1]
        self.intercept_ = float(result.x[-1])
        self.n_iter_ = int(result.nit)
        return self

    def predict(self, X: Any) -> np.ndarray:
        return np.asarray(X @ self.coef_).ravel() + self.intercept_
