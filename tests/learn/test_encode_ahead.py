"""Encoding stored reports ahead of training: every text a model will ask for lands in the disk cache,
and a training afterwards encodes nothing. Needs the real encoder (skipped on a laptop without it,
fails under CI=true)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bugsift.learn import embeddings
from bugsift.learn.encode_ahead import check_can_encode, encode_reports
from bugsift.learn.encoding_store import use_disk_cache
from bugsift.learn.kind.model import build_kind_model
from bugsift.sources.base import Report
from bugsift.store.db import Database
from bugsift.store.reports import upsert_reports

pytestmark = pytest.mark.usefixtures("sentence_model")


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "cache" / "encodings.sqlite3"
    use_disk_cache(path)
    embeddings.clear_cache()  # other tests of this process may have encoded the same issues
    yield path
    use_disk_cache(None)


class TokenizerOnly:
    """The real tokenizer (the body windows are cut with it), but an encoder that must not be asked."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.max_seq_length = 256

    def encode(self, texts: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"encoded {len(texts)} texts again")


def test_a_training_after_encode_reads_every_vector_from_disk(
    sqlite_db: Database, cache: Path, github: list[Report], monkeypatch: pytest.MonkeyPatch
) -> None:
    reports = github[:24]
    # two of them with fixed files: the files ranker's text of those is encoded too
    reports[0] = replace(reports[0], fixed_files=["src/vs/editor/editor.main.ts"])
    reports[1] = replace(reports[1], fixed_files=["src/vs/base/common/strings.ts"])
    with sqlite_db.session() as session:
        upsert_reports(session, reports)
    seen: list[tuple[int, int]] = []
    summary = encode_reports(sqlite_db, on_progress=lambda s, total: seen.append((s.reports, total)))
    assert seen[0] == (0, 24) and seen[-1] == (24, 24)
    assert summary.reports == 24 and summary.encoded["files ranker"] == 2
    assert summary.encoded["kind views"] >= 24  # titles alone are 24 distinct texts

    embeddings.clear_cache()  # a new process: only the file remembers
    only = TokenizerOnly(embeddings.load_encoder().tokenizer)
    monkeypatch.setattr(embeddings, "load_encoder", lambda device="cpu": only)
    again = encode_reports(sqlite_db, tracker="github")
    assert again.encoded == {"kind views": 0, "files ranker": 0}
    assert again.cached["kind views"] == summary.encoded["kind views"]
    labels = [str(r.type) for r in github[:24]]
    model = build_kind_model(embeddings=True).fit(github[:24], labels)  # no text is encoded
    proba = model.predict_proba(github[:3])
    assert model.embedding_model_ is not None and np.allclose(proba.sum(axis=1), 1.0)
    assert encode_reports(sqlite_db, tracker="jira").reports == 0


def test_encode_refuses_when_nothing_would_keep_or_read_the_vectors(tmp_path: Path) -> None:
    use_disk_cache(None)
    with pytest.raises(ValueError, match="no encoding cache is configured"):
        check_can_encode("auto")
    use_disk_cache(tmp_path / "encodings.sqlite3")
    try:
        with pytest.raises(ValueError, match="BUGSIFT_EMBEDDINGS is off"):
            check_can_encode("off")
        check_can_encode("on")
    finally:
        use_disk_cache(None)
