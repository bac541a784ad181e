"""Text similarity between a report and each candidate file's contents at the buggy version (``--repo``).

File contents are read with ``git ls-tree`` (path -> blob id) and one ``git cat-file --batch`` process; a
blob's word counts are cached by blob id (in memory, and as JSON under ``cache_dir`` when given), so a
file unchanged across versions is read and tokenized once. Word weights (IDF) come from the files of the
version itself, as BugLocator does; the similarity is the cosine of sublinear TF-IDF vectors, and the file's
length (log of its word count) is a second feature.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter, OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from bugsift.learn.files.tokens import text_tokens
from bugsift.sources.base import Report

_VERSIONS_KEPT = 4


def blobs_at(repo: Path | str, commit: str) -> dict[str, str]:
    """Path -> blob id of every file at ``commit``."""
    out = subprocess.run(
        ["git", "-C", str(repo), "ls-tree", "-r", "-z", commit], check=True, capture_output=True
    ).stdout.decode("utf-8", "replace")
    blobs: dict[str, str] = {}
    for entry in out.split("\0"):
        if not entry:
            continue
        meta, path = entry.split("\t", 1)
        _, kind, sha = meta.split()
        if kind == "blob":
            blobs[path] = sha
    return blobs


def read_blobs(repo: Path | str, shas: Sequence[str]) -> dict[str, bytes]:
    """Contents of blobs, read through one ``git cat-file --batch``."""
    if not shas:
        return {}
    data = subprocess.run(
        ["git", "-C", str(repo), "cat-file", "--batch"],
        input="\n".join(shas).encode() + b"\n",
        check=True,
        capture_output=True,
    ).stdout
    out: dict[str, bytes] = {}
    pos = 0
    for sha in shas:
        end = data.index(b"\n", pos)
        header = data[pos:end].split()
        pos = end + 1
        if len(header) < 3 or header[1] == b"missing":
            continue
        size = int(header[2])
        out[sha] = data[pos : pos + size]
        pos += size + 1
    return out


class SourceText:
    """Callable ``(report, candidate paths) -> (cosine, log length)`` arrays, for `replay` and prediction."""

    def __init__(self, repo: Path | str, candidates: Any, cache_dir: Path | str | None = None) -> None:
        self.repo = Path(repo)
        self.candidates = candidates
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.blob_counts: dict[str, Counter] = {}
        self._versions: OrderedDict[
            str, tuple[dict[str, int], dict[str, int], sp.csr_matrix, np.ndarray, np.ndarray]
        ]
        self._versions = OrderedDict()
        self.blobs_read = 0

    def _cached(self, sha: str) -> Counter | None:
        if sha in self.blob_counts:
            return self.blob_counts[sha]
        if self.cache_dir is not None:
            path = self.cache_dir / sha[:2] / f"{sha}.json"
            if path.is_file():
                self.blob_counts[sha] = Counter(json.loads(path.read_text("utf-8")))
                return self.blob_counts[sha]
        return None

    def counts_of(self, shas: Sequence[str]) -> list[Counter]:
        missing = [s for s in dict.fromkeys(shas) if self._cached(s) is None]
        for sha, content in read_blobs(self.repo, missing).items():
            counts = Counter(text_tokens(content.decode("utf-8", "replace")))
            self.blob_counts[sha] = counts
            self.blobs_read += 1
            if self.cache_dir is not None:
                path = self.cache_dir / sha[:2] / f"{sha}.json"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(counts), "utf-8")
        return [self.blob_counts.get(s, Counter()) for s in shas]

    def _version(
        self, commit: str
    ) -> tuple[dict[str, int], dict[str, int], sp.csr_matrix, np.ndarray, np.ndarray]:
        if commit in self._versions:
            self._versions.move_to_end(commit)
            return self._versions[commit]
        blobs = blobs_at(self.repo, commit)
        paths = sorted(blobs)
        counts = self.counts_of([blobs[p] for p in paths])
        vocab: dict[str, int] = {}
        rows, cols, vals = [], [], []
        for i, c in enumerate(counts):
            for token, n in c.items():
                rows.append(i)
                cols.append(vocab.setdefault(token, len(vocab)))
                vals.append(1.0 + np.log(n))
        m = sp.csr_matrix((vals, (rows, cols)), shape=(len(paths), len(vocab)))
        df = np.bincount(m.indices, minlength=len(vocab))
        idf = np.log((1.0 + len(paths)) / (1.0 + df)) + 1.0
        m = normalize(m @ sp.diags(idf))
        length = np.log1p(np.array([sum(c.values()) for c in counts], dtype=float))
        entry = ({p: i for i, p in enumerate(paths)}, vocab, sp.csr_matrix(m), idf, length)
        self._versions[commit] = entry
        if len(self._versions) > _VERSIONS_KEPT:
            self._versions.popitem(last=False)
        return entry

    def __call__(self, report: Report, paths: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        commit = self.candidates.commit_for(report)
        index, vocab, matrix, idf, length = self._version(commit)
        words = Counter(t for t in text_tokens(f"{report.title}\n{report.description}") if t in vocab)
        sims = np.zeros(len(paths))
        lengths = np.zeros(len(paths))
        rows = np.array([index.get(p, -1) for p in paths])
        known = rows >= 0
        lengths[known] = length[rows[known]]
        if words and known.any():
            cols = np.array([vocab[t] for t in words])
            vals = np.array([(1.0 + np.log(n)) * idf[vocab[t]] for t, n in words.items()])
            query = sp.csr_matrix(
                (vals / np.linalg.norm(vals), (np.zeros(len(cols), dtype=int), cols)), shape=(1, len(vocab))
            )
            sims[known] = np.asarray((matrix[rows[known]] @ query.T).todense()).ravel()
        return sims, lengths
