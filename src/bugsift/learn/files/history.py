"""Past reports whose fixes are known: similar reports, the files that fixed them, how often and how recently.

Everything here is asked "as of" a moment: only reports whose fix landed before that moment count
(``upto(time)``), so a replay in time order never learns from the future.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from bugsift.learn.files.textspace import TextSpace

TOP_SIMILAR = 50
DAY = 86_400.0
PROFILE_REBUILD = 400
BM25_K1 = 1.2
BM25_B = 0.75


class History:
    """Past reports in fix-time order: their text vectors, the files their fixes touched, their fix times."""

    def __init__(
        self,
        counts: sp.csr_matrix,
        files: Sequence[Sequence[int]],
        fix_times: Sequence[float],
        report_ids: Sequence[str],
        n_files: int,
        embeddings: np.ndarray | None = None,
    ) -> None:
        order = np.argsort(np.asarray(fix_times, dtype=float), kind="stable")
        self.counts = sp.csr_matrix(counts)[order]
        self.fix_times = np.asarray(fix_times, dtype=float)[order]
        self.report_ids = [report_ids[i] for i in order]
        rows = np.repeat(np.arange(len(order)), [len(files[i]) for i in order])
        cols = np.concatenate([np.asarray(files[i], dtype=np.int64) for i in order]) if len(order) else []
        self.files = sp.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(order), n_files)
        )
        self.files.sum_duplicates()
        self.files.data[:] = 1.0
        self.n_fixed = np.maximum(np.diff(self.files.indptr), 1)
        self.vectors = self.counts
        self.bm25 = self.counts
        self._profile: tuple[int, sp.csr_matrix, np.ndarray] | None = None
        # sentence embeddings of the past reports (rows in fix-time order), when the embedding columns are on
        self.embeddings = None if embeddings is None else np.asarray(embeddings, dtype=np.float32)[order]

    def __len__(self) -> int:
        return len(self.fix_times)

    def reweigh(self, space: TextSpace, n: int | None = None) -> None:
        """Word weights of the past reports: TF-IDF vectors and BM25 weights (``n``: how many reports
        existed at this moment, for BM25's mean report length; all by default)."""
        self.vectors = space.weigh(self.counts)
        self.bm25 = _bm25_weights(self.counts, np.asarray(space.idf, dtype=float), n)
        self._profile = None

    def profile_norms(self, n: int) -> np.ndarray:
        """Per file, the length of its "profile": the sum of the vectors of the first ``n`` past reports
        whose fix touched it. Its dot product with a query is the file's summed similarity, so only this
        length is needed for the profile's cosine. Kept incrementally: the sum is rebuilt at a reweigh (or
        when ``n`` moves back or far) and otherwise only the files of the newly fixed reports change."""
        if self._profile is None or n < self._profile[0] or n - self._profile[0] > PROFILE_REBUILD:
            base = sp.csr_matrix(self.files[:n].T @ self.vectors[:n])
            self._profile = (n, base, np.asarray(base.multiply(base).sum(axis=1)).ravel())
        start, base, norms = self._profile
        norms = _padded(norms, self.files.shape[1])
        if n > start:
            delta = sp.csr_matrix(self.files[start:n].T @ self.vectors[start:n])
            touched = np.flatnonzero(np.diff(delta.indptr))
            rows = delta[touched]
            if base.shape[0]:
                base_rows = base[touched[touched < base.shape[0]]]
                rows = rows + _padded_rows(base_rows, len(touched), touched < base.shape[0])
            norms[touched] = np.asarray(rows.multiply(rows).sum(axis=1)).ravel()
        return np.sqrt(norms)

    def grow_files(self, n_files: int) -> None:
        if n_files > self.files.shape[1]:
            self.files.resize((self.files.shape[0], n_files))

    def upto(self, time: float) -> int:
        """How many past reports were fixed strictly before ``time``."""
        return int(np.searchsorted(self.fix_times, time, side="left"))

    def similarities(self, query: sp.csr_matrix, n: int) -> np.ndarray:
        """Cosine similarity of the (weighted, normalized) query with the first ``n`` past reports."""
        if n == 0:
            return np.zeros(0)
        return np.asarray((self.vectors[:n] @ query.T).todense()).ravel()

    def retrieval_scores(self, query: sp.csr_matrix, n: int) -> np.ndarray:
        """BM25 scores of the first ``n`` past reports for the query's words, scaled so the best is 1: they
        pick the nearest past reports better than the cosine (long reports no longer dilute their words)."""
        if n == 0:
            return np.zeros(0)
        present = sp.csr_matrix(query, copy=True)
        present.data[:] = 1.0
        scores = np.asarray((self.bm25[:n] @ present.T).todense()).ravel()
        top = scores.max()
        return scores / top if top > 0 else scores

    def top_sum(self, sims: np.ndarray, n: int, k: int = TOP_SIMILAR) -> np.ndarray:
        """Per file: the sum of ``sims`` of the ``k`` best of the first ``n`` past reports that touched it."""
        if n == 0:
            return np.zeros(self.files.shape[1])
        top = np.argpartition(-sims, k)[:k] if n > k else np.arange(n)
        top_sims = np.zeros(n)
        top_sims[top] = sims[top]
        return self.files[:n].T @ top_sims

    def file_evidence(
        self,
        sims: np.ndarray,
        n: int,
        now: float,
        k: int = TOP_SIMILAR,
        cosine: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """Per file (all files of the table): evidence from the first ``n`` past reports, given their
        scores ``sims`` (and their cosine similarities for the profile, ``sims`` if not given)."""
        n_files = self.files.shape[1]
        if n == 0:
            zeros = np.zeros(n_files)
            return {
                "cf_top": zeros,
                "cf_top_norm": zeros,
                "cf_max": zeros,
                "cf_mean": zeros,
                "count": zeros,
                "cf_sum": zeros,
                "days_since": np.full(n_files, np.inf),
                "recent_count": zeros,
                "profile": zeros,
            }
        fixed = self.files[:n]
        top = np.argpartition(-sims, k)[:k] if n > k else np.arange(n)
        top_sims = np.zeros(n)
        top_sims[top] = sims[top]
        cf_top = fixed.T @ top_sims
        cf_top_norm = fixed.T @ (top_sims / self.n_fixed[:n])
        count = np.asarray(fixed.sum(axis=0)).ravel()
        cf_sum = fixed.T @ np.maximum(sims, 0)
        row_of = np.repeat(np.arange(n), np.diff(fixed.indptr))
        cf_max = np.zeros(n_files)
        np.maximum.at(cf_max, fixed.indices, sims[row_of])
        last = np.full(n_files, -np.inf)
        np.maximum.at(last, fixed.indices, self.fix_times[:n][row_of])
        recent = fixed[self.upto(now - 365 * DAY) : n]
        norms = self.profile_norms(n)
        profile_sum = cf_sum if cosine is None else fixed.T @ cosine
        return {
            "cf_top": cf_top,
            "cf_top_norm": cf_top_norm,
            "cf_max": cf_max,
            "cf_mean": np.divide(cf_sum, count, out=np.zeros(n_files), where=count > 0),
            "count": count,
            "cf_sum": cf_sum,
            "days_since": (now - last) / DAY,
            "recent_count": np.asarray(recent.sum(axis=0)).ravel(),
            "profile": np.divide(profile_sum, norms, out=np.zeros(n_files), where=norms > 0),
        }

    def embedding_evidence(self, query: np.ndarray, n: int, k: int = TOP_SIMILAR) -> dict[str, np.ndarray]:
        """Per file, from the embedding cosine of the first ``n`` past reports with the query's embedding:
        ``emb_top`` the sum over the ``k`` nearest past reports whose fix touched it, ``emb_max`` the best."""
        n_files = self.files.shape[1]
        if self.embeddings is None:
            raise ValueError("this history holds no report embeddings")
        if n == 0:
            return {"emb_top": np.zeros(n_files), "emb_max": np.zeros(n_files)}
        sims = (self.embeddings[:n] @ np.asarray(query, dtype=np.float32)).astype(np.float64)
        fixed = self.files[:n]
        top = np.argpartition(-sims, k)[:k] if n > k else np.arange(n)
        top_sims = np.zeros(n)
        top_sims[top] = np.maximum(sims[top], 0)
        row_of = np.repeat(np.arange(n), np.diff(fixed.indptr))
        best = np.zeros(n_files)
        np.maximum.at(best, fixed.indices, sims[row_of])
        return {"emb_top": fixed.T @ top_sims, "emb_max": best}

    def similar_reports(self, sims: np.ndarray, file_id: int, limit: int = 3) -> list[tuple[str, float]]:
        """The most similar past reports whose fix touched ``file_id`` (for explanations)."""
        n = len(sims)
        if n == 0:
            return []
        column = self.files[:n, [file_id]].tocoo().row
        best = column[np.argsort(-sims[column])][:limit]
        return [(self.report_ids[i], float(sims[i])) for i in best if sims[i] > 0]


def _padded(values: np.ndarray, size: int) -> np.ndarray:
    out = np.zeros(size)
    out[: len(values)] = values[:size]
    return out


def _padded_rows(rows: sp.csr_matrix, n: int, present: np.ndarray) -> sp.csr_matrix:
    """``rows`` placed at the ``present`` positions of an ``n``-row matrix (zeros elsewhere)."""
    place = sp.csr_matrix(
        (np.ones(int(present.sum())), (np.flatnonzero(present), np.arange(int(present.sum())))),
        shape=(n, rows.shape[0]),
    )
    return sp.csr_matrix(place @ rows)


def _bm25_weights(counts: sp.csr_matrix, idf: np.ndarray, n: int | None) -> sp.csr_matrix:
    """Per report and word: idf x tf (k1 + 1) / (tf + k1 (1 - b + b length / mean length))."""
    weights = sp.csr_matrix(counts, dtype=np.float64, copy=True)
    idf = np.concatenate([idf, np.ones(max(weights.shape[1] - len(idf), 0))])
    length = np.asarray(weights.sum(axis=1)).ravel()
    known = length[:n] if n else length
    mean = max(float(known.mean()), 1.0) if len(known) else 1.0
    norm = BM25_K1 * (1 - BM25_B + BM25_B * length / mean)
    rows = np.repeat(np.arange(weights.shape[0]), np.diff(weights.indptr))
    weights.data = weights.data * (BM25_K1 + 1) / (weights.data + norm[rows]) * idf[weights.indices]
    return weights
