"""Candidate files: the source files that existed at the version a bug was found in.

Three sources, one interface (`CandidateSource.paths_for(report)` -> paths, or None when unknown):

* `DeltaCandidates`: the Eclipse benchmark's delta-encoded file lists
  (``<project>_buggy_version_java_filelists.delta.jsonl.xz``: ``{commit, added[], removed[], n_java}`` in
  time order) replayed from the first line, with ``<project>_bug_to_commits.jsonl`` mapping each bug to its
  buggy parent commit (and giving the exact fix-commit time).
* `GitCandidates`: ``git ls-tree -r --name-only <commit>`` in a local repository (``--repo``), at the
  parent of the commit that fixed the bug (found by `gitlog`), else at HEAD (a new report).
* `StaticCandidates`: one fixed list of paths (a text file, one path per line) for every report.

Only source files (``.java`` by default) are candidates: fixed files of other kinds (test data, manifests)
cannot be ranked by any method of this family and are left out of the evaluation as in the published protocol.
"""

from __future__ import annotations

import json
import lzma
import subprocess
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from bugsift.sources.base import Report

SOURCE_SUFFIXES: tuple[str, ...] = (".java",)
DELTA_SUFFIX = "_buggy_version_java_filelists.delta.jsonl.xz"
BUG_COMMITS_SUFFIX = "_bug_to_commits.jsonl"


class CandidateSource(Protocol):
    def paths_for(self, report: Report) -> list[str] | None: ...

    def fix_time(self, report: Report) -> float | None: ...


def _open_text(path: Path) -> Iterator[str]:
    opener = lzma.open if path.suffix == ".xz" else open
    with opener(path, "rt", encoding="utf-8") as handle:  # type: ignore[operator]
        yield from handle


@dataclass
class FileLists:
    """Replayed delta file lists: every path ever listed, and when (which list indices) it existed.

    A path may be added, removed and added again: it then has two intervals. ``starts[i] <= k < ends[i]``
    means path ``file_ids[i]`` exists in list ``k``.
    """

    paths: list[str]
    commits: list[str]
    starts: np.ndarray
    ends: np.ndarray
    file_ids: np.ndarray
    sizes: np.ndarray  # n_java of each list, as the file says

    @classmethod
    def load(cls, path: Path | str) -> FileLists:
        return cls.from_lines(json.loads(line) for line in _open_text(Path(path)) if line.strip())

    @classmethod
    def from_lines(cls, lines: Iterable[dict]) -> FileLists:
        ids: dict[str, int] = {}
        open_since: dict[int, int] = {}
        starts: list[int] = []
        ends: list[int] = []
        file_ids: list[int] = []
        commits: list[str] = []
        sizes: list[int] = []
        for k, line in enumerate(lines):
            commits.append(str(line["commit"]))
            for path in line.get("removed", []):
                fid = ids.get(path)
                if fid is None or fid not in open_since:
                    raise ValueError(f"list {k} ({line['commit']}): removes {path!r}, which is not there")
                starts.append(open_since.pop(fid))
                ends.append(k)
                file_ids.append(fid)
            for path in line.get("added", []):
                fid = ids.setdefault(path, len(ids))
                if fid not in open_since:
                    open_since[fid] = k
            sizes.append(int(line.get("n_java", len(open_since))))
            if "n_java" in line and sizes[-1] != len(open_since):
                raise ValueError(
                    f"list {k} ({line['commit']}): {len(open_since)} files, n_java says {sizes[-1]}"
                )
        end = len(commits)
        for fid, start in open_since.items():
            starts.append(start)
            ends.append(end)
            file_ids.append(fid)
        return cls(
            paths=list(ids),
            commits=commits,
            starts=np.asarray(starts, dtype=np.int32),
            ends=np.asarray(ends, dtype=np.int32),
            file_ids=np.asarray(file_ids, dtype=np.int32),
            sizes=np.asarray(sizes, dtype=np.int32),
        )

    def index_of(self, commit: str) -> int | None:
        if not hasattr(self, "_index"):
            self._index = {c: k for k, c in enumerate(self.commits)}
        return self._index.get(commit)

    def ids_at(self, k: int) -> np.ndarray:
        """Ids (into ``paths``) of the files in list ``k``, sorted."""
        alive = (self.starts <= k) & (k < self.ends)
        return np.sort(self.file_ids[alive])

    def files_at(self, commit: str) -> list[str]:
        k = self.index_of(commit)
        if k is None:
            raise KeyError(f"commit {commit} is not in the file lists")
        return [self.paths[i] for i in self.ids_at(k)]


@dataclass
class BugCommit:
    fix_commit: str
    buggy_parent: str
    fix_time: float | None


def load_bug_commits(path: Path | str) -> dict[str, BugCommit]:
    """``<project>_bug_to_commits.jsonl`` -> bug id (as text) -> fix commit, buggy parent, fix time."""
    out: dict[str, BugCommit] = {}
    for line in _open_text(Path(path)):
        if not line.strip():
            continue
        row = json.loads(line)
        time = row.get("fix_commit_time")
        out[str(row["bug_id"])] = BugCommit(
            str(row.get("fix_commit_full", "")),
            str(row["buggy_parent_commit"]),
            float(time) if time is not None else None,
        )
    return out


class DeltaCandidates:
    """Candidates of the Eclipse benchmark's reports, from the delta file lists of one project."""

    def __init__(self, lists: FileLists, bug_commits: dict[str, BugCommit], project: str = "") -> None:
        self.lists = lists
        self.bug_commits = bug_commits
        self.project = project

    @classmethod
    def load(cls, delta_path: Path | str, bug_commits_path: Path | str | None = None) -> DeltaCandidates:
        delta_path = Path(delta_path)
        if bug_commits_path is None:
            stem = delta_path.name.removesuffix(DELTA_SUFFIX)
            bug_commits_path = delta_path.with_name(stem + BUG_COMMITS_SUFFIX)
        project = delta_path.name.removesuffix(DELTA_SUFFIX)
        return cls(FileLists.load(delta_path), load_bug_commits(bug_commits_path), project)

    def list_index(self, report: Report) -> int | None:
        link = self.bug_commits.get(report.external_id)
        return None if link is None else self.lists.index_of(link.buggy_parent)

    def ids_for(self, report: Report) -> np.ndarray | None:
        k = self.list_index(report)
        return None if k is None else self.lists.ids_at(k)

    def paths_for(self, report: Report) -> list[str] | None:
        ids = self.ids_for(report)
        return None if ids is None else [self.lists.paths[i] for i in ids]

    def fix_time(self, report: Report) -> float | None:
        link = self.bug_commits.get(report.external_id)
        return None if link is None else link.fix_time


class StaticCandidates:
    """The same candidate list for every report (e.g. today's files, one path per line in a text file)."""

    def __init__(self, paths: Iterable[str]) -> None:
        self.paths = sorted(set(paths))

    @classmethod
    def load(cls, path: Path | str) -> StaticCandidates:
        return cls(line.strip() for line in _open_text(Path(path)) if line.strip())

    def paths_for(self, report: Report) -> list[str] | None:
        return self.paths

    def fix_time(self, report: Report) -> float | None:
        return None


def git_ls_tree(
    repo: Path | str, commit: str = "HEAD", suffixes: tuple[str, ...] = SOURCE_SUFFIXES
) -> list[str]:
    """Source files at a commit: ``git ls-tree -r --name-only <commit>`` filtered by suffix."""
    out = subprocess.run(
        ["git", "-C", str(repo), "ls-tree", "-r", "--name-only", "-z", commit],
        check=True,
        capture_output=True,
    ).stdout.decode("utf-8", "replace")
    return [p for p in out.split("\0") if p and (not suffixes or p.endswith(suffixes))]


class GitCandidates:
    """Candidates from a local git repository: files at the buggy parent of the fix, else at HEAD."""

    def __init__(
        self,
        repo: Path | str,
        links: dict[str, Any] | None = None,
        head: str = "HEAD",
        suffixes: tuple[str, ...] = SOURCE_SUFFIXES,
    ) -> None:
        self.repo = Path(repo)
        self.links = links or {}
        self.head = head
        self.suffixes = suffixes
        self._cache: dict[str, list[str]] = {}

    def commit_for(self, report: Report) -> str:
        link = self.links.get(report.external_id)
        return link.buggy_parent if link is not None and link.buggy_parent else self.head

    def paths_for(self, report: Report) -> list[str] | None:
        commit = self.commit_for(report)
        if commit not in self._cache:
            self._cache[commit] = git_ls_tree(self.repo, commit, self.suffixes)
        return self._cache[commit]

    def fix_time(self, report: Report) -> float | None:
        link = self.links.get(report.external_id)
        return None if link is None else link.fix_time


def find_delta_files(folder: Path | str, project: str) -> Path | None:
    """The delta file of ``project`` in a folder (names are the project lower-cased, e.g. ``swt_...``)."""
    path = Path(folder) / f"{project.lower()}{DELTA_SUFFIX}"
    return path if path.is_file() else None


def load_candidates(spec: Path | str, project: str = "") -> CandidateSource:
    """Read ``--candidates``: a delta file, a folder holding ``<project>`` delta files, or a path list."""
    spec = Path(spec)
    if spec.is_dir():
        found = find_delta_files(spec, project)
        if found is None:
            raise ValueError(f"{spec}: no {project.lower()}{DELTA_SUFFIX} for project {project!r}")
        return DeltaCandidates.load(found)
    if spec.name.endswith(DELTA_SUFFIX):
        return DeltaCandidates.load(spec)
    if spec.is_file():
        return StaticCandidates.load(spec)
    raise ValueError(f"{spec}: no such file or folder (expected delta file lists or a list of paths)")


class FixedBeforeCandidates:
    """Without file lists or a repository: the files fixed by reports fixed before this one was filed.

    The weakest candidate source (a file never fixed before cannot be found), for trackers such as the
    Apache Jira dump whose fixed files are bare names.
    """

    def __init__(self, fixes: Iterable[tuple[float, Sequence[str]]]) -> None:
        ordered = sorted(fixes, key=lambda item: item[0])
        self.times = np.array([t for t, _ in ordered])
        self.files = [list(f) for _, f in ordered]

    def paths_for(self, report: Report) -> list[str] | None:
        if report.created_at is None:
            return sorted({f for files in self.files for f in files})
        n = int(np.searchsorted(self.times, report.created_at.timestamp(), side="left"))
        return sorted({f for files in self.files[:n] for f in files})

    def fix_time(self, report: Report) -> float | None:
        return None
