"""Sentence encodings kept on disk, so that retraining and restarts encode only texts never seen before.

One SQLite file (``$BUGSIFT_HOME/cache/encodings.sqlite3``), one row per (model, token limit, text hash):
a float32 vector of 1.5 kB. Encoding is the slow part of a model with embeddings (~20 texts/s on 2 cores:
a nightly retrain of 20,000 Jira reports would otherwise spend 15-20 minutes re-encoding what it
encoded the night before). The file is a cache: deleting it loses nothing but time.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from bugsift.settings import Settings

# SQLite limits the number of parameters of one statement (32,766 since 3.32; 999 before)
_CHUNK = 900


class EncodingStore:
    """Vectors by key (bytes) in a SQLite file; safe to share between threads and processes."""

    def __init__(self, path: Path | str, dimensions: int) -> None:
        self.path = Path(path)
        self.dimensions = dimensions
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._connection() as db:
            db.execute("CREATE TABLE IF NOT EXISTS encodings (key BLOB PRIMARY KEY, vector BLOB NOT NULL)")

    def _connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30.0)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        """The stored vectors of those ``keys`` that have one."""
        found: dict[bytes, np.ndarray] = {}
        db = self._connection()
        for start in range(0, len(keys), _CHUNK):
            chunk = list(keys[start : start + _CHUNK])
            marks = ",".join("?" * len(chunk))
            rows = db.execute(f"SELECT key, vector FROM encodings WHERE key IN ({marks})", chunk)
            for key, blob in rows:
                vector = np.frombuffer(blob, dtype=np.float32)
                if vector.shape == (self.dimensions,):  # a torn or foreign row is encoded again
                    found[bytes(key)] = vector.copy()
        return found

    def put_many(self, items: Iterable[tuple[bytes, np.ndarray]]) -> None:
        rows = [(key, np.asarray(v, dtype=np.float32).tobytes()) for key, v in items]
        if rows:
            with self._connection() as db:  # one transaction
                db.executemany("INSERT OR REPLACE INTO encodings (key, vector) VALUES (?, ?)", rows)

    def __len__(self) -> int:
        return int(self._connection().execute("SELECT COUNT(*) FROM encodings").fetchone()[0])


_path: Path | None = None  # `use_disk_cache`
_store: EncodingStore | None = None


def use_disk_cache(path: Path | str | None) -> None:
    """Keep encodings in this SQLite file from now on (opened at the first encoding); None: in memory only
    (the default: library calls and tests leave no file behind)."""
    global _path, _store
    _path, _store = (None if path is None else Path(path)), None


def use_settings(settings: Settings) -> None:
    """The CLI, the web app and the job worker: ``$BUGSIFT_HOME/cache/encodings.sqlite3``, unless the
    embeddings are switched off."""
    use_disk_cache(None if settings.embeddings == "off" else settings.home / "cache" / "encodings.sqlite3")


def disk_cache_path() -> Path | None:
    """The file `use_disk_cache` configured (None: encodings stay in memory)."""
    return _path


def disk_store(dimensions: int) -> EncodingStore | None:
    """The configured store (None when `use_disk_cache` was not called)."""
    global _store
    if _path is not None and _store is None:
        _store = EncodingStore(_path, dimensions)
    return _store
