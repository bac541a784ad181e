"""Honest evaluation: replay one project's history in filing order.

For each report, in the order reports were filed, only what existed at its filing time is used: past
reports whose fix commit landed before that moment (their text and fixed files), word weights (IDF)
from reports filed before the last refresh, and a ranker trained on older reports only. The ranker and
the word weights are refreshed as history grows (every 15% more fixed reports, at least every 25 and at
most every 300), never with a report that was not yet fixed.

A report is evaluated when at least one of its fixed files is a candidate (a source file that existed at
its buggy version); the others are counted with the reason they were left out.

Several projects (`replay_projects`) are replayed together, interleaved in filing order: each keeps its
own history, word weights and candidates, but their rankers learn from the training rows of every
project, still only of reports fixed before the refresh. The ranker's columns compare files within one
report (scores relative to the best candidate, fix counts, name matches), so what makes a file likely
carries across projects, and a small project's ranker no longer learns from a handful of reports:
Eclipse benchmark MAP 0.347 -> 0.355, older halves 0.326 -> 0.335 (AspectJ, 593 reports, 0.286 -> 0.310;
bench/files_accuracy.py).
"""

from __future__ import annotations

import bisect
import heapq
import time as clock
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from bugsift.learn.files.candidates import SOURCE_SUFFIXES, CandidateSource, DeltaCandidates
from bugsift.learn.files.embedding import Encoder
from bugsift.learn.files.features import FEATURES, FileTable, Query, baseline_scores, build_features
from bugsift.learn.files.history import History
from bugsift.learn.files.mentions import extract_mentions
from bugsift.learn.files.ranker import FileRanker, sample_rows
from bugsift.learn.files.textspace import TextSpace
from bugsift.learn.files.tokens import text_tokens
from bugsift.sources.base import Report

TOP_KS = (1, 5, 10)
SourceScorer = Callable[[Report, list[str]], "tuple[np.ndarray, np.ndarray] | None"]


@dataclass
class ReplayConfig:
    ranker: str = "pairwise"
    min_train_reports: int = 30
    retrain_growth: float = 0.15
    retrain_min_step: int = 25
    retrain_max_step: int = 300
    seed: int = 0


def report_fix_time(report: Report, candidates: CandidateSource | None = None) -> float | None:
    """When the fix of a report landed (epoch seconds), from the best source there is.

    The candidate source's exact fix-commit time first (Eclipse's ``bug_to_commits``, or git); else the
    report's ``fix_commit_time``, else its ``commit_timestamp`` (the Eclipse file rounds it to 10,000 s, so
    5,000 s are added to stay on the safe side), else its resolution time.
    """
    if candidates is not None and (exact := candidates.fix_time(report)) is not None:
        return exact
    extra = report.extra or {}
    if extra.get("fix_commit_time") is not None:
        return float(extra["fix_commit_time"])
    if extra.get("commit_timestamp") is not None:
        return float(extra["commit_timestamp"]) + 5_000.0
    return report.resolved_at.timestamp() if report.resolved_at else None


def report_text(report: Report) -> tuple[list[str], list[str]]:
    """Tokens of the whole report (summary counted twice: it names the problem, the description adds
    noise such as logs and steps) and of the summary alone."""
    title = text_tokens(report.title or "")
    return title + title + text_tokens(report.description or ""), title


def ranks_of(scores: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """Ranks (1 = best) of the positive rows, ascending; a tie counts as its expected rank under a random
    order (e.g. 3 files tied behind 4 better ones all rank 6), so no file table order can favour them."""
    ordered = np.sort(-scores)
    mine = -scores[positive]
    better = np.searchsorted(ordered, mine, side="left")
    tied = np.searchsorted(ordered, mine, side="right") - better
    return np.sort(better + (tied + 1) / 2.0)


def ranking_metrics(all_ranks: Sequence[np.ndarray]) -> dict[str, Any]:
    """Top-k accuracy, MAP and MRR over reports, given each report's ranks of its fixed files."""
    n = len(all_ranks)
    if n == 0:
        return {"n": 0, **{f"top{k}": None for k in TOP_KS}, "map": None, "mrr": None}
    first = np.array([r[0] for r in all_ranks])
    ap = [float(np.mean(np.arange(1, len(r) + 1) / r)) for r in all_ranks]
    return {
        "n": n,
        **{f"top{k}": float(np.mean(first <= k)) for k in TOP_KS},
        "map": float(np.mean(ap)),
        "mrr": float(np.mean(1.0 / first)),
    }


@dataclass
class ReportOutcome:
    report_id: str
    n_candidates: int
    ranks: np.ndarray
    plain_ranks: np.ndarray
    top_score: float
    top_correct: bool
    scored_by: str
    plain_top_score: float = 0.0
    plain_top_correct: bool = False


@dataclass
class ReplayResult:
    project: str
    outcomes: list[ReportOutcome] = field(default_factory=list)
    excluded: Counter = field(default_factory=Counter)
    n_reports: int = 0
    seconds: float = 0.0
    n_retrains: int = 0
    calibration: list[tuple[float, int]] = field(default_factory=list)
    """(raw score, is a fixed file) of the top 10 of each evaluated report, for the probability mapping."""
    plain_calibration: list[tuple[float, int]] = field(default_factory=list)
    """The same of the plain ranking, on the same reports: its mapping, where plain is chosen."""

    def metrics(self, plain: bool = False) -> dict[str, Any]:
        return ranking_metrics([o.plain_ranks if plain else o.ranks for o in self.outcomes])

    def as_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "n_reports": self.n_reports,
            "n_evaluated": len(self.outcomes),
            "excluded": dict(self.excluded),
            "model": self.metrics(),
            "plain": self.metrics(plain=True),
            "first_ranks": [float(o.ranks[0]) for o in self.outcomes],
            "plain_first_ranks": [float(o.plain_ranks[0]) for o in self.outcomes],
            "seconds": round(self.seconds, 1),
            "retrains": self.n_retrains,
        }


Sample = tuple[float, np.ndarray, np.ndarray, np.ndarray]
"""One report's training rows for the ranker: (fix time, rows, labels, weights), from `sample_rows`."""


class TrainingRows:
    """The ranker's training rows of the replayed reports, shared by the projects replayed together."""

    def __init__(self) -> None:
        self.samples: list[Sample] = []
        self._fix_times: list[float] = []  # sorted

    def add(self, sample: Sample) -> None:
        self.samples.append(sample)
        bisect.insort(self._fix_times, sample[0])

    def count_before(self, now: float) -> int:
        return bisect.bisect_left(self._fix_times, now)

    def before(self, now: float) -> list[Sample]:
        """The rows of the reports fixed before ``now``: all a ranker used at ``now`` may learn from."""
        return [s for s in self.samples if s[0] < now]


def fit_ranker(samples: Sequence[Sample], config: ReplayConfig) -> FileRanker | None:
    """A ranker on ``samples`` (None with fewer than ``config.min_train_reports`` reports, or one class)."""
    if len(samples) < config.min_train_reports:
        return None
    X = np.vstack([x for _, x, _, _ in samples])
    y = np.concatenate([y for _, _, y, _ in samples])
    w = np.concatenate([w for _, _, _, w in samples])
    groups = np.repeat(np.arange(len(samples)), [len(y) for _, _, y, _ in samples])
    if not 0 < y.sum() < len(y):
        return None
    return FileRanker(config.ranker, random_state=config.seed).fit(X, y, w, groups)


class _Replayer:
    def __init__(
        self,
        reports: Sequence[Report],
        candidates: CandidateSource,
        config: ReplayConfig,
        source: SourceScorer | None,
        embed: Encoder | None = None,
        rows: TrainingRows | None = None,
    ) -> None:
        self.config = config
        self.candidates = candidates
        self.source = source
        self.rng = np.random.default_rng(config.seed)
        dated = [r for r in reports if r.created_at is not None]
        self.undated = len(reports) - len(dated)
        self.reports = sorted(dated, key=lambda r: (r.created_at, r.external_id))
        self.filed = np.array([r.created_at.timestamp() for r in self.reports])  # type: ignore[union-attr]
        tokens = [report_text(r) for r in self.reports]
        self.space = TextSpace()
        self.space.add(t for t, _ in tokens)
        self.table = FileTable(self.space)
        if isinstance(candidates, DeltaCandidates):  # table ids == file-list ids
            self.table.ensure(candidates.lists.paths, grow_vocabulary=True)
        self.fixed = [self.table.ensure(r.fixed_files, grow_vocabulary=True) for r in self.reports]
        self.embed = embed
        self.counts = self.space.counts([t for t, _ in tokens])
        self.title_counts = self.space.counts([t for _, t in tokens])
        self.fix_times = [report_fix_time(r, candidates) for r in self.reports]
        known = [i for i, t in enumerate(self.fix_times) if t is not None and len(self.fixed[i])]
        self.embeddings = None if embed is None else np.asarray(embed.reports(self.reports), dtype=np.float32)
        self.history = History(
            self.counts[known],
            [self.fixed[i] for i in known],
            [self.fix_times[i] for i in known],
            [self.reports[i].external_id for i in known],
            len(self.table),
            None if self.embeddings is None else self.embeddings[known],
        )
        # training rows, shared with the other projects' replayers when replayed together
        self.rows = TrainingRows() if rows is None else rows
        self.ranker: FileRanker | None = None
        self.next_refresh = -1
        self.n_retrains = 0

    def refresh(self, k: int, now: float, n_past: int) -> None:
        """New word weights from reports filed before ``now``; a new ranker from reports fixed before it."""
        self.space.fit_idf(self.counts[:k])
        self.history.reweigh(self.space, n_past)
        self.table.reweigh()
        self.fit_ranker(now)
        c = self.config
        self.next_refresh = n_past + int(
            min(max(c.retrain_growth * n_past, c.retrain_min_step), c.retrain_max_step)
        )

    def fit_ranker(self, now: float) -> None:
        """A new ranker from the rows of reports fixed before ``now`` (every project's, when together)."""
        ranker = fit_ranker(self.rows.before(now), self.config)
        if ranker is not None:
            self.ranker = ranker
            self.n_retrains += 1

    def candidate_ids(self, report: Report) -> np.ndarray | None:
        if isinstance(self.candidates, DeltaCandidates):
            return self.candidates.ids_for(report)
        paths = self.candidates.paths_for(report)
        return None if paths is None else np.unique(self.table.ensure(paths))

    def start(self, project: str) -> ReplayResult:
        self.result = ReplayResult(project=project, n_reports=len(self.reports) + self.undated)
        if self.undated:
            self.result.excluded["no filing time"] = self.undated
        return self.result

    def step(self, k: int) -> None:
        """Replay the ``k``-th report in filing order (refreshing first when history has grown)."""
        now = self.filed[k]
        n_past = self.history.upto(now)
        if n_past >= self.next_refresh:
            self.refresh(k, now, n_past)
        elif self.ranker is None and self.rows.count_before(now) >= self.config.min_train_reports:
            self.fit_ranker(now)  # enough rows before this project's next refresh (e.g. other projects')
        self.one(k, self.reports[k], now, n_past, self.result)

    def one(self, k: int, report: Report, now: float, n_past: int, result: ReplayResult) -> None:
        candidates = self.candidate_ids(report)
        if candidates is None:
            result.excluded["no candidate list for its version"] += 1
            return
        if self.embed is not None:
            self.table.embed_paths(self.embed.paths)
        positive = np.isin(candidates, self.fixed[k])
        if not positive.any():
            if not any(f.endswith(SOURCE_SUFFIXES) for f in report.fixed_files):
                result.excluded["no source (.java) file among its fixed files"] += 1
            else:
                result.excluded[
                    "its fixed source files did not exist at the buggy version (added by the fix)"
                ] += 1
            return
        query = Query(
            vector=self.space.weigh(self.counts[k]),
            title_vector=self.space.weigh(self.title_counts[k]),
            mentions=extract_mentions(report.title or "", report.description or ""),
            time=now,
            embedding=None if self.embeddings is None else self.embeddings[k],
        )
        source = None
        if self.source is not None:
            source = self.source(report, [self.table.paths[i] for i in candidates])
        features, sims = build_features(query, candidates, self.table, self.history, n_past, source)
        plain = baseline_scores(features, self.history.top_sum(sims, n_past)[candidates])
        scores = self.ranker.score(features) if self.ranker is not None else plain
        ranks = ranks_of(scores, positive)
        top = np.argsort(-scores, kind="stable")[:10]
        plain_top = np.argsort(-plain, kind="stable")[:10]
        if self.ranker is not None:
            result.calibration.extend((float(scores[i]), int(positive[i])) for i in top)
            result.plain_calibration.extend((float(plain[i]), int(positive[i])) for i in plain_top)
        result.outcomes.append(
            ReportOutcome(
                report_id=report.external_id,
                n_candidates=len(candidates),
                ranks=ranks,
                plain_ranks=ranks_of(plain, positive),
                top_score=float(scores[top[0]]),
                top_correct=bool(positive[top[0]]),
                scored_by="ranker" if self.ranker is not None else "plain (too little history)",
                plain_top_score=float(plain[plain_top[0]]),
                plain_top_correct=bool(positive[plain_top[0]]),
            )
        )
        if self.fix_times[k] is not None:
            x, y, w = sample_rows(features.astype(np.float32), positive, plain, self.rng)
            self.rows.add((self.fix_times[k], x, y, w))


@dataclass
class ProjectHistory:
    """What one project's replay needs: its reports, its candidates and (with ``--repo``) source text."""

    project: str
    reports: Sequence[Report]
    candidates: CandidateSource
    source: SourceScorer | None = None


def replay_together(
    projects: Sequence[ProjectHistory], config: ReplayConfig, embed: Encoder | None = None
) -> list[tuple[_Replayer, ReplayResult]]:
    """Replay several projects interleaved in filing order, their rankers learning from every project's
    training rows (reports fixed before each refresh only). Returns each project's replayer (for the
    final fit) and result, in the order given."""
    rows = TrainingRows()
    replayers = [_Replayer(p.reports, p.candidates, config, p.source, embed, rows) for p in projects]
    results = [r.start(p.project) for r, p in zip(replayers, projects, strict=True)]
    seconds = [0.0] * len(replayers)
    timelines = [[(float(t), i, k) for k, t in enumerate(r.filed)] for i, r in enumerate(replayers)]
    for _, i, k in heapq.merge(*timelines):
        started = clock.perf_counter()
        replayers[i].step(k)
        seconds[i] += clock.perf_counter() - started
    for replayer, result, took in zip(replayers, results, seconds, strict=True):
        result.seconds = took
        result.n_retrains = replayer.n_retrains
    return list(zip(replayers, results, strict=True))


def replay_projects(
    projects: Sequence[ProjectHistory], config: ReplayConfig | None = None, embed: Encoder | None = None
) -> list[ReplayResult]:
    """Replay several projects together (see the module docstring): one `ReplayResult` per project."""
    with threadpool_limits(1):  # OpenMP threads fight over shared cores: one is much faster here
        return [result for _, result in replay_together(projects, config or ReplayConfig(), embed)]


def replay(
    reports: Sequence[Report],
    candidates: CandidateSource,
    config: ReplayConfig | None = None,
    source: SourceScorer | None = None,
    project: str = "",
    embed: Encoder | None = None,
) -> ReplayResult:
    """Replay one project's reports in filing order; see the module docstring. With ``embed``, the rows
    also hold the sentence-embedding columns (`EMBEDDING_FEATURES`)."""
    [result] = replay_projects([ProjectHistory(project, reports, candidates, source)], config, embed)
    return result


__all__ = [
    "FEATURES",
    "ProjectHistory",
    "ReplayConfig",
    "ReplayResult",
    "ranking_metrics",
    "replay",
    "replay_projects",
    "report_fix_time",
]
