"""The time-ordered replay: honesty (no future fix is used), metrics, and a real AspectJ slice."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from bugsift.learn.files import replay as replay_module
from bugsift.learn.files.candidates import StaticCandidates, load_candidates
from bugsift.learn.files.replay import ReplayConfig, ranking_metrics, ranks_of, replay
from bugsift.sources import read_reports
from bugsift.sources.base import Report


def _report(i: int, day: int, fixed_day: int, files: list[str], text: str) -> Report:
    return Report(
        tracker="t",
        external_id=str(i),
        title=text,
        description=text,
        project="p",
        created_at=datetime(2020, 1, day, tzinfo=UTC),
        fixed_files=files,
        extra={"fix_commit_time": datetime(2020, 1, fixed_day, tzinfo=UTC).timestamp()},
    )


def test_localize_metrics() -> None:
    assert list(ranks_of(np.array([0.1, 0.9, 0.5, 0.7]), np.array([True, False, True, False]))) == [3, 4]
    assert list(ranks_of(np.array([0.0, 0.0, 0.0, 1.0]), np.array([True, False, False, False]))) == [3]
    m = ranking_metrics([np.array([1]), np.array([3, 4])])
    assert m["top1"] == 0.5 and m["top5"] == 1.0
    assert m["mrr"] == pytest.approx((1 + 1 / 3) / 2)
    assert m["map"] == pytest.approx((1 + (1 / 3 + 2 / 4) / 2) / 2)


def test_localize_replay_never_uses_a_fix_from_after_filing(monkeypatch: pytest.MonkeyPatch) -> None:
    files = [f"src/p/File{i}.java" for i in range(30)]
    # report 1 is filed on day 2 but fixed on day 20: reports filed before day 20 must not see it.
    reports = [_report(1, 2, 20, [files[7]], "crash in the frobnicator widget")]
    reports += [_report(10 + d, d, d + 1, [files[d % 30]], f"other words {d}") for d in range(3, 28)]
    seen: list[tuple[float, float]] = []
    real = replay_module.build_features

    def spy(query, candidates, table, history, n_past, source=None):  # type: ignore[no-untyped-def]
        newest_fix = history.fix_times[n_past - 1] if n_past else -np.inf
        seen.append((query.time, newest_fix))
        assert all(history.fix_times[:n_past] < query.time)
        assert n_past == np.sum(history.fix_times < query.time)
        return real(query, candidates, table, history, n_past, source)

    monkeypatch.setattr(replay_module, "build_features", spy)
    result = replay(reports, StaticCandidates(files), ReplayConfig(min_train_reports=5), project="p")
    assert len(seen) == len(result.outcomes) == 26
    assert all(fix < filed for filed, fix in seen)


def test_localize_replay_a_future_twin_does_not_help(monkeypatch: pytest.MonkeyPatch) -> None:
    files = [f"src/p/File{i}.java" for i in range(30)]
    twin_text = "crash in the frobnicator widget"
    early = _report(1, 2, 20, [files[7]], twin_text)  # fixed on day 20
    late = _report(2, 10, 11, [files[7]], twin_text)  # filed on day 10: must not learn from report 1
    result = replay([early, late], StaticCandidates(files), ReplayConfig(), project="p")
    by_id = {o.report_id: o for o in result.outcomes}
    assert by_id["2"].plain_ranks[0] > 1  # no evidence: File7 is not ranked first
    later = _report(3, 25, 26, [files[7]], twin_text)  # filed after both fixes: it may
    result = replay([early, late, later], StaticCandidates(files), ReplayConfig(), project="p")
    assert {o.report_id: o for o in result.outcomes}["3"].plain_ranks[0] == 1


@pytest.fixture(scope="module")
def aspectj_slice(shared_data: Path) -> tuple[list[Report], object]:
    folder = shared_data / "eclipse-localization"
    reports = [r for r in read_reports("bugzilla", folder / "bug_reports.jsonl.xz") if r.project == "AspectJ"]
    reports.sort(key=lambda r: r.created_at)
    return reports[:300], load_candidates(folder, "AspectJ")


def test_localize_real_slice_beats_the_plain_ranking(aspectj_slice: tuple[list[Report], object]) -> None:
    reports, candidates = aspectj_slice
    result = replay(reports, candidates, project="AspectJ")  # type: ignore[arg-type]
    model, plain = result.metrics(), result.metrics(plain=True)
    assert result.n_reports == 300
    assert model["n"] + sum(result.excluded.values()) == 300
    assert set(result.excluded) <= {
        "its fixed source files did not exist at the buggy version (added by the fix)",
        "no source (.java) file among its fixed files",
    }
    assert plain["top10"] > 0.2
    assert model["map"] >= plain["map"] - 0.01
    assert model["top10"] >= plain["top10"] - 0.02
