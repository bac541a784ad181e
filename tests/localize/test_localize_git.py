"""The --repo path on a tiny git repository built here: fixes named in commit messages, files at the buggy
version, file contents read by blob and cached."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from bugsift.learn.files.candidates import GitCandidates, git_ls_tree
from bugsift.learn.files.gitlog import link_fixes, mentioned_ids, read_log
from bugsift.learn.files.model import train_localizer
from bugsift.learn.files.source_text import SourceText
from bugsift.learn.files.task import FilesModel, FilesPredictor
from bugsift.sources.base import Report


def _git(repo: Path, *args: str, when: int = 0) -> None:
    env = {
        "GIT_AUTHOR_DATE": f"{when} +0000",
        "GIT_COMMITTER_DATE": f"{when} +0000",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@x",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@x",
        "HOME": str(repo),
        "PATH": "/usr/bin:/bin",
    }
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


def _commit(repo: Path, files: dict[str, str], message: str, when: int) -> None:
    for name, text in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    _git(repo, "add", "-A", when=when)
    _git(repo, "commit", "-q", "-m", message, when=when)


DAY = 86_400
T0 = 1_600_000_000


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _commit(
        repo,
        {
            "src/app/Parser.java": "class Parser { void parseExpression() { tokenizer.next(); } }",
            "src/app/Renderer.java": "class Renderer { void drawCanvas() { canvas.paint(); } }",
            "src/app/Network.java": "class Network { void openSocket() { socket.connect(); } }",
            "README.txt": "readme",
        },
        "initial import",
        T0,
    )
    _commit(
        repo,
        {"src/app/Parser.java": "class Parser { void parseExpression() { tokenizer.peek(); } }"},
        "Bug 101: parser loses the expression token",
        T0 + 2 * DAY,
    )
    _commit(
        repo,
        {
            "src/app/Renderer.java": "class Renderer { void drawCanvas() { canvas.flush(); } }",
            "docs/notes.txt": "n",
        },
        "fixes #102 canvas flicker when drawing",
        T0 + 4 * DAY,
    )
    _commit(
        repo, {"src/app/Cache.java": "class Cache { void evict() {} }"}, "add cache (no bug)", T0 + 5 * DAY
    )
    _commit(
        repo,
        {"src/app/Network.java": "class Network { void openSocket() { socket.retry(); } }"},
        "[103] socket connect hangs",
        T0 + 6 * DAY,
    )
    return repo


def _report(i: str, day: int, title: str) -> Report:
    return Report(
        tracker="mine",
        external_id=i,
        title=title,
        description=title,
        created_at=datetime.fromtimestamp(T0 + day * DAY, tz=UTC),
    )


def test_localize_commit_messages_name_bug_ids() -> None:
    assert mentioned_ids("Bug 101: x") == {"101"}
    assert mentioned_ids("fixes #7788 and HIVE-12 (see [4455])") == {"7788", "HIVE-12", "4455"}
    assert mentioned_ids("bump version to 2.0") == set()


def test_localize_git_links_candidates_and_source_text(repo: Path, tmp_path: Path) -> None:
    commits = read_log(repo)
    assert [c.message.split(":")[0] for c in commits][:2] == ["initial import", "Bug 101"]
    links = link_fixes(commits, {"101", "102", "103", "999"})
    assert set(links) == {"101", "102", "103"}
    assert links["102"].files == ["src/app/Renderer.java"]  # only source files
    assert links["101"].buggy_parent == commits[0].sha
    assert links["101"].fix_time == T0 + 2 * DAY

    candidates = GitCandidates(repo, links)
    at_103 = candidates.paths_for(_report("103", 5, "x"))
    assert at_103 is not None and "src/app/Cache.java" in at_103  # added before 103's fix
    assert "src/app/Cache.java" not in (candidates.paths_for(_report("101", 1, "x")) or [])
    assert git_ls_tree(repo) == sorted(at_103)
    assert candidates.fix_time(_report("103", 5, "x")) == T0 + 6 * DAY

    text = SourceText(repo, candidates, cache_dir=tmp_path / "blobs")
    paths = ["src/app/Parser.java", "src/app/Renderer.java", "src/app/Network.java"]
    sims, lengths = text(_report("101", 1, "tokenizer fails in parseExpression"), paths)
    assert np.argmax(sims) == 0 and sims[0] > 0 and (lengths > 0).all()
    read_before = text.blobs_read
    fresh = SourceText(repo, candidates, cache_dir=tmp_path / "blobs")  # blob cache on disk
    again, _ = fresh(_report("101", 1, "tokenizer fails in parseExpression"), paths)
    assert fresh.blobs_read == 0 and read_before > 0
    np.testing.assert_allclose(again, sims)


def test_localize_repo_path_end_to_end(repo: Path) -> None:
    links = link_fixes(read_log(repo))
    titles = {
        "101": "parser expression token lost",
        "102": "canvas flicker on draw",
        "103": "socket connect hangs forever",
    }
    days = {"101": 1, "102": 3, "103": 5}
    reports = []
    for rid, title in titles.items():
        report = _report(rid, days[rid], title)
        report.fixed_files = links[rid].files
        report.extra = {"fix_commit_time": links[rid].fix_time}
        reports.append(report)
    candidates = GitCandidates(repo, links)
    model, result = train_localizer(reports, candidates, source=SourceText(repo, candidates), project="")
    assert len(result.outcomes) == 3
    predictor = FilesPredictor(FilesModel({"": model}), repo=repo)
    [out] = predictor.predict([Report(tracker="mine", external_id="104", title="canvas paint broken")], 2)
    assert out["prediction"] == "src/app/Renderer.java"
    assert {c["label"] for c in out["candidates"]} <= set(git_ls_tree(repo))
