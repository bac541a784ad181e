"""Past reports whose fixes are known: similar reports, the files that fixed them, how often and how recently.

Everything here is asked "as of" a moment: only reports whose fix landed before that moment count
(``upto(time)``), so a replay in time order never learns from the future.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from bugsift.localize.textspace import TextSpace

TOP_SIMILAR = 50
DAY = 86_400.0


class History:
    """Past reports in fix-time order: their text vectors, the files their fixes touched, their fix times."""

    def __init__(
        self,
        counts: sp.csr_matrix,
        files: Sequence[Sequence[int]],
        fix_times: Sequence[float],
        report_ids: Sequence[str],
        n_files: int,
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

    def __len__(self) -> int:
        return len(self.fix_times)

    def reweigh(self, space: TextSpace) -> None:
        self.vectors = space.weigh(self.counts)

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

    def file_evidence(
        self, sims: np.ndarray, n: int, now: float, k: int = TOP_SIMILAR
    ) -> dict[str, np.ndarray]:
        """Per file (all files of the table): evidence from the first ``n`` past reports."""
        n_files = self.files.shape[1]
        if n == 0:
            zeros = np.zeros(n_files)
            return {
                "cf_top": zeros,
                "cf_top_norm": zeros,
                "cf_max": zeros,
                "cf_mean": zeros,
                "count": zeros,
                "days_since": np.full(n_files, np.inf),
                "recent_count": zeros,
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
        return {
            "cf_top": cf_top,
            "cf_top_norm": cf_top_norm,
            "cf_max": cf_max,
            "cf_mean": np.divide(cf_sum, count, out=np.zeros(n_files), where=count > 0),
            "count": count,
            "days_since": (now - last) / DAY,
            "recent_count": np.asarray(recent.sum(axis=0)).ravel(),
        }

    def similar_reports(self, sims: np.ndarray, file_id: int, limit: int = 3) -> list[tuple[str, float]]:
        """The most similar past reports whose fix touched ``file_id`` (for explanations)."""
        n = len(sims)
        if n == 0:
            return []
        column = self.files[:n, [file_id]].tocoo().row
        best = column[np.argsort(-sims[column])][:limit]
        return [(self.report_ids[i], float(sims[i])) for i in best if sims[i] > 0]
