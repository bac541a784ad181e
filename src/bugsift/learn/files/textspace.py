"""One vocabulary for report words, path words and source words, with IDF learned from past reports only."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize


class TextSpace:
    """Token -> column; raw counts in, sublinear TF x IDF, L2-normalized rows out.

    The IDF comes from `fit_idf` on the counts of the documents that existed at that moment; until then
    every word weighs 1.
    """

    def __init__(self, vocabulary: dict[str, int] | None = None) -> None:
        self.vocabulary: dict[str, int] = dict(vocabulary or {})
        self.idf = np.ones(len(self.vocabulary))

    def add(self, docs: Iterable[Sequence[str]]) -> None:
        for tokens in docs:
            for token in tokens:
                if token not in self.vocabulary:
                    self.vocabulary[token] = len(self.vocabulary)
        if len(self.idf) < len(self.vocabulary):
            self.idf = np.concatenate([self.idf, np.ones(len(self.vocabulary) - len(self.idf))])

    def counts(self, docs: Sequence[Sequence[str]]) -> sp.csr_matrix:
        """Raw counts of known tokens (unknown ones are dropped)."""
        indptr = [0]
        indices: list[int] = []
        vocab = self.vocabulary
        for tokens in docs:
            indices.extend(vocab[t] for t in tokens if t in vocab)
            indptr.append(len(indices))
        data = np.ones(len(indices), dtype=np.float32)
        matrix = sp.csr_matrix(
            (data, np.asarray(indices, dtype=np.int64), np.asarray(indptr)), shape=(len(docs), len(vocab))
        )
        matrix.sum_duplicates()
        return matrix

    def fit_idf(self, counts: sp.csr_matrix) -> TextSpace:
        """Smoothed IDF from the documents in ``counts`` (rows), as scikit-learn's TfidfTransformer."""
        n = counts.shape[0]
        df = np.bincount(counts.indices, minlength=len(self.vocabulary))[: len(self.vocabulary)]
        self.idf = np.log((1.0 + n) / (1.0 + df)) + 1.0
        return self

    def weigh(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        weighted = sp.csr_matrix(counts, dtype=np.float64, copy=True)
        if weighted.shape[1] < len(self.idf):
            weighted.resize((weighted.shape[0], len(self.idf)))
        weighted.data = 1.0 + np.log(weighted.data)
        weighted = weighted @ sp.diags(self.idf[: weighted.shape[1]])
        return normalize(sp.csr_matrix(weighted), copy=False)
