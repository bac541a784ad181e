"""Optional sentence-embedding columns of the file ranker (all-MiniLM-L6-v2, `bugsift.learn.embeddings`).

A report's embedding is compared with the embeddings of past fixed reports (`History.embedding_evidence`):
similar reports found by meaning rather than shared words. Used when the ``embeddings`` extra is installed
and the ``BUGSIFT_EMBEDDINGS`` setting allows it; a model trained with these columns needs them to predict.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from bugsift.sources.base import Report

# Tokens per report: 128 encodes ~1.4x faster than the model's 256, and the summary and the first lines of
# the description carry what the similar-report evidence needs.
MAX_LENGTH = 128
MAX_CHARS = 8000
# package folders kept in front of the class name by `path_text`
PATH_FOLDERS = 3


def report_embedder() -> Any:
    """The `SentenceEmbedder` of the ranker's report text (title + description); `bugsift encode` encodes
    stored reports with it too, so that the ranker finds them in the cache."""
    from bugsift.learn.embeddings import SentenceEmbedder

    return SentenceEmbedder(max_length=MAX_LENGTH, max_chars=MAX_CHARS)


def embed_reports(reports: Sequence[Report]) -> np.ndarray:
    """L2-normalised embeddings of title + description (``n x 384`` float32)."""
    return report_embedder().fit(reports).transform(reports)


def use_embeddings(setting: str | bool) -> bool:
    """Whether to add the embedding columns: ``"on"`` / True always (fails later without the extra),
    ``"auto"`` when torch and the packaged model are installed, ``"off"`` / False never."""
    if setting == "auto":
        from bugsift.learn.embeddings import embeddings_available

        return embeddings_available()
    return setting is True or setting == "on"


def path_text(path: str) -> str:
    """A path as words for the encoder: the last package folders and the class name split at camelCase
    (``.../org/eclipse/swt/widgets/TableItem.java`` -> ``eclipse swt widgets Table Item``)."""
    stem = path.rsplit(".", 1)[0] if path.endswith(".java") else path
    *folders, name = stem.split("/")
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", name)
    return " ".join([*folders[-PATH_FOLDERS:], *words])


def embed_paths(paths: Sequence[str]) -> np.ndarray:
    """L2-normalised embeddings of `path_text` (``n x 384`` float32)."""
    from bugsift.learn.embeddings import SentenceEmbedder

    texts = [Report("files", "", path_text(p), "") for p in paths]
    return SentenceEmbedder(max_length=32, batch_size=128).fit(texts).transform(texts)


class Encoder(Protocol):
    """What the replay and the model ask for: embeddings of reports and of file paths."""

    def reports(self, reports: Sequence[Report]) -> np.ndarray: ...

    def paths(self, paths: Sequence[str]) -> np.ndarray: ...


class SentenceEncoder:
    """The packaged all-MiniLM-L6-v2 (`embed_reports`, `embed_paths`)."""

    def reports(self, reports: Sequence[Report]) -> np.ndarray:
        return embed_reports(reports)

    def paths(self, paths: Sequence[str]) -> np.ndarray:
        return embed_paths(paths)
