"""The optional sentence-embedding columns of the file ranker.

The first tests use a stand-in encoder (fixed vectors), so they run everywhere; the last one encodes a real
AspectJ slice with all-MiniLM-L6-v2 and skips without torch on a laptop, but fails under CI=true.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio

from bugsift.learn.files import model as model_module
from bugsift.learn.files.candidates import StaticCandidates, load_candidates
from bugsift.learn.files.embedding import SentenceEncoder, path_text, use_embeddings
from bugsift.learn.files.features import COLUMN, EMBEDDING_FEATURES, FEATURES
from bugsift.learn.files.history import History
from bugsift.learn.files.model import TRUSTED_TYPES, train_localizer
from bugsift.learn.files.replay import ReplayConfig, replay
from bugsift.learn.files.task import FilesModel, FilesTask
from bugsift.learn.tasks import TaskOptions
from bugsift.settings import Settings
from bugsift.sources import read_reports
from bugsift.sources.base import Report
from bugsift.store.db import Database
from bugsift.store.reports import upsert_reports


class HashEncoder:
    """Unit vectors from a hash of the text: equal texts get equal vectors, others nearly orthogonal."""

    def _vector(self, text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "little")
        v = np.random.default_rng(seed).normal(size=384).astype(np.float32)
        return v / np.linalg.norm(v)

    def reports(self, reports: Sequence[Report]) -> np.ndarray:
        return np.stack([self._vector(r.title) for r in reports])

    def paths(self, paths: Sequence[str]) -> np.ndarray:
        return np.stack([self._vector(p) for p in paths])


@pytest.fixture(scope="module")
def aspectj(shared_data: Path) -> tuple[list[Report], StaticCandidates]:
    """The oldest 120 AspectJ reports, and as candidates every file their fixes touched plus 100 others."""
    folder = shared_data / "eclipse-localization"
    reports = [r for r in read_reports("bugzilla", folder / "bug_reports.jsonl.xz") if r.project == "AspectJ"]
    reports.sort(key=lambda r: r.created_at)
    reports = reports[:120]
    fixed = sorted({f for r in reports for f in r.fixed_files if f.endswith(".java")})
    lists = load_candidates(folder, "AspectJ").lists.paths  # type: ignore[attr-defined]
    others = [p for p in lists if p not in set(fixed)][:100]
    return reports, StaticCandidates(fixed + others)


def test_embedding_evidence_of_a_known_report() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(3, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    history = History(np.eye(3), [[0], [0, 1], [2]], [3.0, 1.0, 2.0], ["a", "b", "c"], 4, vectors)
    evidence = history.embedding_evidence(vectors[0], n=3)
    # report "a" (fixed last) touched file 0: its own vector scores 1 there; file 3 was never fixed
    assert evidence["emb_max"][0] == pytest.approx(1.0, abs=1e-5)
    assert evidence["emb_max"][3] == 0.0 and evidence["emb_top"][3] == 0.0
    positive = np.maximum(vectors @ vectors[0], 0)
    assert evidence["emb_top"][0] == pytest.approx(positive[0] + positive[1], abs=1e-5)
    # only the reports fixed before: n=1 is report "b" alone (fix time 1.0)
    early = history.embedding_evidence(vectors[0], n=1)
    assert early["emb_max"][2] == 0.0 and early["emb_top"][2] == 0.0
    assert early["emb_max"][1] == pytest.approx(positive[1], abs=1e-5)
    # k: only the nearest past reports count in the sum
    nearest = history.embedding_evidence(vectors[0], n=3, k=1)
    assert nearest["emb_top"][1] == 0.0 and nearest["emb_top"][0] == pytest.approx(1.0, abs=1e-5)


def test_path_text() -> None:
    path = "org.aspectj/modules/weaver/src/org/aspectj/weaver/bcel/BcelShadow.java"
    assert path_text(path) == "aspectj weaver bcel Bcel Shadow"
    assert path_text("UIManager.java") == "UI Manager"


def test_use_embeddings_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert use_embeddings("on") and not use_embeddings("off")
    monkeypatch.setattr("bugsift.learn.embeddings.embeddings_available", lambda: False)
    assert not use_embeddings("auto")


def test_replay_with_embedding_columns_on_a_real_slice(
    aspectj: tuple[list[Report], StaticCandidates], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reports, candidates = aspectj
    config = ReplayConfig(min_train_reports=20)
    plain = replay(reports, candidates, config, project="AspectJ")
    with_emb = replay(reports, candidates, config, project="AspectJ", embed=HashEncoder())
    assert len(with_emb.outcomes) == len(plain.outcomes) > 50
    # the plain ranking does not depend on the embedding columns
    for a, b in zip(plain.outcomes, with_emb.outcomes, strict=True):
        np.testing.assert_array_equal(a.plain_ranks, b.plain_ranks)
    model, _ = train_localizer(reports, candidates, config, project="AspectJ", embed=HashEncoder())
    assert model.feature_names == list(FEATURES + EMBEDDING_FEATURES)
    assert model.embeddings is not None and model.embeddings.shape == (len(model.report_ids), 384)
    path = tmp_path / "files.skops"
    sio.dump(FilesModel({"AspectJ": model}), path)
    untrusted = sio.get_untrusted_types(file=path)
    assert set(untrusted) <= set(TRUSTED_TYPES) | {"builtins.dict", "builtins.list", "builtins.str"}
    loaded = sio.load(path, trusted=untrusted).for_report(reports[0])
    assert loaded.feature_names == model.feature_names
    # without torch and the packaged model, a model with embedding columns refuses to predict, saying why
    monkeypatch.setattr("bugsift.learn.embeddings.embeddings_available", lambda: False)
    with pytest.raises(RuntimeError, match=r"pip install .bugsift\[embeddings\]."):
        loaded.rank(reports[-1], None)
    # a ranker with columns that are neither set is refused when it loads
    state = model.__getstate__()
    state["feature_names"] = state["feature_names"][:-1]
    with pytest.raises(ValueError, match="train it again"):
        model_module.FileLocalizer.__new__(model_module.FileLocalizer).__setstate__(state)


@pytest.mark.usefixtures("sentence_model")
def test_real_embeddings_rank_a_slice(aspectj: tuple[list[Report], StaticCandidates]) -> None:
    reports, candidates = aspectj
    model, result = train_localizer(
        reports[:100],
        candidates,
        ReplayConfig(min_train_reports=20),
        project="AspectJ",
        embed=SentenceEncoder(),
    )
    assert result.metrics()["top10"] > 0.2
    # a report whose text equals a past report's: the embedding evidence of that report's files is maximal
    past = next(r for r in reports[:60] if any(f in candidates.paths for f in r.fixed_files))
    twin = Report("bugzilla", "twin", past.title, past.description, "AspectJ", reports[110].created_at)
    out = model.rank(twin, candidates.paths, top_k=10)
    assert len(out["candidates"]) == 10
    query = SentenceEncoder().reports([twin])[0]
    assert query @ SentenceEncoder().reports([past])[0] == pytest.approx(1.0, abs=1e-4)
    evidence = model._history.embedding_evidence(query, len(model.report_ids))
    file_id = model._table.ids[next(f for f in past.fixed_files if f in candidates.paths)]
    assert evidence["emb_max"][file_id] == pytest.approx(1.0, abs=1e-4)
    assert COLUMN["emb_path"] >= len(FEATURES)


@pytest.mark.usefixtures("sentence_model")
def test_files_task_trains_and_predicts_with_embeddings(
    aspectj: tuple[list[Report], StaticCandidates], settings: Settings, sqlite_db: Database, tmp_path: Path
) -> None:
    reports, candidates = aspectj
    with sqlite_db.session() as session:
        upsert_reports(session, reports[:80])
    listed = tmp_path / "paths.txt"
    listed.write_text("\n".join(candidates.paths))
    options = TaskOptions(project="AspectJ")
    options.candidates = str(listed)  # type: ignore[attr-defined]
    on = settings.model_copy(update={"embeddings": "on"})
    outcome = FilesTask().train(sqlite_db, on, options)
    assert outcome.model.params["embeddings"] is True
    predictor = FilesTask().predictor(sqlite_db, options)
    [out] = predictor.predict([reports[100]], top_k=5)
    assert len(out["candidates"]) == 5 and out["prediction"] in candidates.paths
