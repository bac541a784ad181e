"""Past-report evidence: the file profiles (kept incrementally), BM25 retrieval and path-word history."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from bugsift.learn.files.features import FileTable, path_history
from bugsift.learn.files.history import History
from bugsift.learn.files.textspace import TextSpace


def _history(n: int = 300, n_words: int = 50, n_files: int = 40) -> History:
    rng = np.random.default_rng(0)
    counts = sp.random(n, n_words, density=0.1, random_state=1, format="csr")
    counts.data = np.ceil(counts.data * 3)  # word counts 1-3
    files = [rng.choice(n_files, size=rng.integers(1, 4), replace=False) for _ in range(n)]
    history = History(counts, files, rng.random(n) * 100, [str(i) for i in range(n)], n_files)
    history.reweigh(TextSpace({f"w{i}": i for i in range(n_words)}))
    return history


def test_localize_profile_norms_match_a_full_rebuild() -> None:
    history = _history()
    history.grow_files(45)  # files added after the history was built have empty profiles
    for n in (0, 10, 50, 51, 120, 200, 100, 300):  # forward, by small and large steps, and back
        profile = (history.files[:n].T @ history.vectors[:n]).toarray()
        expected = np.sqrt((profile**2).sum(axis=1))
        assert history.profile_norms(n) == pytest.approx(expected)


def test_localize_profile_is_a_cosine() -> None:
    history = _history()
    n = 200
    query = history.vectors[250]
    sims = history.similarities(query, n)
    evidence = history.file_evidence(sims, n, now=1e9)
    profile = history.files[:n].T @ history.vectors[:n]
    norms = np.sqrt(np.asarray(profile.multiply(profile).sum(axis=1)).ravel())
    expected = np.asarray((profile @ query.T).todense()).ravel() / np.maximum(norms, 1e-12)
    assert evidence["profile"] == pytest.approx(expected)
    assert evidence["profile"].max() <= 1.0 + 1e-9


def test_localize_bm25_scores_only_the_past_and_prefers_short_reports() -> None:
    space = TextSpace({"crash": 0, "widget": 1, "noise": 2})
    counts = sp.csr_matrix(np.array([[1, 1, 0], [1, 1, 20], [0, 0, 1], [3, 3, 0]], dtype=float))
    history = History(counts, [[0], [1], [2], [3]], [1.0, 2.0, 3.0, 4.0], ["a", "b", "c", "d"], 4)
    history.reweigh(space, n=3)
    query = sp.csr_matrix(np.array([[0.7, 0.7, 0.0]]))
    scores = history.retrieval_scores(query, 3)
    assert len(scores) == 3 and scores.max() == pytest.approx(1.0)
    assert scores[0] > scores[1] > scores[2] == 0.0  # the long report dilutes the same words


def test_localize_path_history_reaches_files_never_fixed() -> None:
    space = TextSpace()
    table = FileTable(space)
    table.ensure(["ui/TableViewer.java", "ui/TreeViewer.java", "core/Parser.java"], grow_vocabulary=True)
    space.fit_idf(space.counts([["table"], ["tree"], ["parser"]]))
    table.reweigh()
    evidence = {"cf_sum": np.array([0.8, 0.0, 0.1]), "count": np.array([2.0, 0.0, 1.0])}
    scores = path_history(table, evidence, np.arange(3))
    assert scores[1] > 0  # TreeViewer was never fixed: it gets the history of "ui" and "viewer"
    assert scores[0] > scores[1] > scores[2]


def test_localize_top_sum_keeps_the_k_best_reports() -> None:
    history = _history()
    sims = history.similarities(history.vectors[250], 200)
    best = np.argsort(-sims)[:5]
    kept = np.zeros(200)
    kept[best] = sims[best]
    assert history.top_sum(sims, 200, k=5) == pytest.approx(history.files[:200].T @ kept)
