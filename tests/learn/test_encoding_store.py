"""The disk cache of sentence encodings: a SQLite file of vectors by key, configured from the settings."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from bugsift.learn import encoding_store
from bugsift.learn.encoding_store import EncodingStore, disk_store, use_disk_cache, use_settings
from bugsift.settings import Settings


@pytest.fixture(autouse=True)
def no_disk_cache_afterwards() -> Iterator[None]:
    yield
    use_disk_cache(None)


def test_vectors_round_trip_and_missing_or_torn_rows_are_not_returned(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "encodings.sqlite3"
    store = EncodingStore(path, dimensions=4)
    vectors = {f"k{i}".encode(): np.arange(4, dtype=np.float32) + i for i in range(2000)}
    store.put_many(vectors.items())  # more keys than one SQL statement may bind
    assert len(store) == 2000
    found = store.get_many([*vectors, b"never stored"])
    assert set(found) == set(vectors)
    np.testing.assert_array_equal(found[b"k7"], vectors[b"k7"])
    with sqlite3.connect(path) as db:  # a row cut short (another model's width, a crash): ignored
        db.execute("UPDATE encodings SET vector = ? WHERE key = ?", (b"\x00" * 8, b"k1"))
    reopened = EncodingStore(path, dimensions=4)  # another process: the same file
    assert b"k1" not in reopened.get_many([b"k1", b"k2"]) and b"k2" in reopened.get_many([b"k2"])


def test_the_settings_put_the_cache_under_home_unless_embeddings_are_off(tmp_path: Path) -> None:
    use_settings(Settings(home=tmp_path / "off", embeddings="off"))
    assert disk_store(384) is None
    use_settings(Settings(home=tmp_path / "home", embeddings="auto"))
    store = disk_store(384)
    assert store is not None and store.path == tmp_path / "home" / "cache" / "encodings.sqlite3"
    assert disk_store(384) is store and encoding_store._path == store.path
