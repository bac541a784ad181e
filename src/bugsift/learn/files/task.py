"""The `files` task: rank the source files most likely to hold a report's bug.

``bugsift train files`` replays the projects' histories in filing order, together (the evaluation, see
`replay`: their rankers learn from every project's rows), and then fits one `FileLocalizer` per project on
all of it; the models of one training run are saved together
as one file. ``evaluate files`` only replays. ``predict files`` ranks the candidates of each report.

Where the history and the candidates come from (options ``candidates`` and ``repo``):

* fixed files: the reports' own ``fixed_files`` (Eclipse ``files``, Jira ``changed_java_files``); with
  ``--repo``, reports without them get the files of the commits whose message names their id (`gitlog`);
* candidates: ``--candidates`` (Eclipse delta file lists: a folder or one file; or a text file of paths),
  else with ``--repo`` ``git ls-tree`` at the fix's parent commit (HEAD for a new report), else the files
  fixed before the report was filed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bugsift.learn.files.candidates import (
    CandidateSource,
    FixedBeforeCandidates,
    GitCandidates,
    load_candidates,
)
from bugsift.learn.files.embedding import SentenceEncoder, use_embeddings
from bugsift.learn.files.gitlog import link_fixes, read_log
from bugsift.learn.files.model import FileLocalizer, train_localizers
from bugsift.learn.files.replay import (
    ProjectHistory,
    ReplayConfig,
    ReplayResult,
    replay_projects,
    report_fix_time,
)
from bugsift.learn.files.source_text import SourceText
from bugsift.learn.tasks import EvaluationOutcome, TaskOptions, TrainOutcome
from bugsift.settings import Settings
from bugsift.sources.base import Report
from bugsift.store.db import Database
from bugsift.store.reports import iter_reports, stored_external_ids

TASK = "files"
LABEL = "fixed_files"
MODE = "filing"
HELP = (
    "the source files most likely to hold the bug (needs fixed files, or --repo with commits naming bug ids)"
)
MIN_PROJECT_REPORTS = 20


@dataclass
class FilesModel:
    """The localizers of one training run, one per project."""

    localizers: dict[str, FileLocalizer]

    def __getstate__(self) -> dict[str, Any]:
        return {"localizers": self.localizers}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.localizers = state["localizers"]

    def for_report(self, report: Report) -> FileLocalizer:
        if report.project in self.localizers:
            return self.localizers[report.project]
        return max(self.localizers.values(), key=lambda m: len(m.report_ids))


def _option(options: TaskOptions, name: str) -> Any:
    return getattr(options, name, None)


def load_history(
    database: Database, options: TaskOptions, max_reports: int | None = None
) -> dict[str, list[Report]]:
    """Stored reports with fixed files, grouped by project; with ``--repo``, fixed files filled in from
    commit messages. Streamed: a report without fixed files is never held, and with ``max_reports`` at
    most that many are kept, the newest (the training window of `Settings.train_max_reports`)."""
    repo = _option(options, "repo")
    kept: list[Report] = []
    with database.session() as session:
        links = {}
        if repo:
            links = link_fixes(read_log(repo), stored_external_ids(session, options.tracker, options.project))
        rows = iter_reports(session, options.tracker, options.project, newest_first=max_reports is not None)
        for _, report in rows:
            link = links.get(report.external_id)
            if link is not None:
                if not report.fixed_files:
                    report.fixed_files = list(link.files)
                report.extra = {**(report.extra or {}), "fix_commit_time": link.fix_time}
            if report.fixed_files:
                kept.append(report)
                if max_reports is not None and len(kept) >= max_reports:
                    break
    projects: dict[str, list[Report]] = defaultdict(list)
    for report in reversed(kept) if max_reports is not None else kept:  # oldest first either way
        projects[report.project or ""].append(report)
    return {p: rs for p, rs in projects.items() if len(rs) >= MIN_PROJECT_REPORTS}


def candidate_source(options: TaskOptions, project: str, reports: Sequence[Report]) -> CandidateSource:
    spec, repo = _option(options, "candidates"), _option(options, "repo")
    if spec:
        return load_candidates(spec, project)
    if repo:
        links = link_fixes(read_log(repo), {r.external_id for r in reports})
        return GitCandidates(repo, links)
    fixes = [(t, r.fixed_files) for r in reports if (t := report_fix_time(r)) is not None]
    return FixedBeforeCandidates(fixes)


def _source(options: TaskOptions, candidates: CandidateSource, settings: Settings | None) -> Any:
    repo = _option(options, "repo")
    if not repo or not isinstance(candidates, GitCandidates):
        return None
    cache = settings.home / "cache" / "blobs" if settings is not None else None
    return SourceText(repo, candidates, cache_dir=cache)


def project_histories(database: Database, settings: Settings, options: TaskOptions) -> list[ProjectHistory]:
    """Every project with enough reports with fixed files: its reports, candidates and source text."""
    out = []
    for project, reports in sorted(load_history(database, options, settings.train_max_reports).items()):
        candidates = candidate_source(options, project, reports)
        out.append(ProjectHistory(project, reports, candidates, _source(options, candidates, settings)))
    return out


def _encoder(settings: Settings) -> SentenceEncoder | None:
    """The sentence encoder for the embedding columns, when the ``embeddings`` setting allows it."""
    return SentenceEncoder() if use_embeddings(settings.embeddings) else None


def format_results(results: Sequence[ReplayResult]) -> str:
    lines = [
        f"{'project':22s} {'n':>5s} {'excl':>5s}  {'':6s} {'top1':>6s} {'top5':>6s} {'top10':>6s} "
        f"{'MAP':>6s} {'MRR':>6s}"
    ]
    for res in results:
        for name, m in (("model", res.metrics()), ("plain", res.metrics(plain=True))):
            if not m["n"]:
                continue
            lines.append(
                f"{res.project:22s} {m['n']:5d} {sum(res.excluded.values()):5d}  {name:6s} "
                + " ".join(f"{m[k]:6.3f}" for k in ("top1", "top5", "top10", "map", "mrr"))
            )
        for reason, n in res.excluded.items():
            lines.append(f"    excluded {n}: {reason}")
    return "\n".join(lines)


def selection_line(model: FileLocalizer) -> str:
    """How a project's ranking was chosen (`model.choose_ranking`), in one line."""
    chosen = model.selection or {}
    scores = chosen.get("candidates") or {}
    if not scores:
        return f"{model.project}: plain ranking ({chosen.get('why', 'no ranker')})"
    shown = ", ".join(f"{name} {value:.3f}" for name, value in scores.items())
    return (
        f"{model.project}: ranking chosen on the replay's {chosen['n']} ranker-scored reports "
        f"(MAP): {shown} -> {chosen['chosen']}"
    )


class FilesTask:
    def __init__(self, name: str = TASK) -> None:
        self.name = name
        self.help = HELP

    def evaluate(self, database: Database, settings: Settings, options: TaskOptions) -> EvaluationOutcome:
        config = ReplayConfig(seed=settings.random_seed)
        results = replay_projects(project_histories(database, settings, options), config, _encoder(settings))
        evaluation = {"task": TASK, "projects": [r.as_dict() for r in results]}
        return EvaluationOutcome(evaluation=evaluation, text=format_results(results))

    def train(self, database: Database, settings: Settings, options: TaskOptions) -> TrainOutcome:
        from bugsift.learn.persist import save_model
        from bugsift.store.registry import next_version, register_model

        trained = train_localizers(
            project_histories(database, settings, options),
            ReplayConfig(seed=settings.random_seed),
            settings.precision_target,
            _encoder(settings),
        )
        localizers: dict[str, FileLocalizer] = {model.project: model for model, _ in trained}
        results = [result for _, result in trained]
        if not localizers:
            raise ValueError("no project has reports with fixed files: import them, or give --repo")
        settings.ensure_home()
        with database.session() as session:
            version = next_version(session, TASK, LABEL, MODE)
            path = settings.models_dir / f"{TASK}-{LABEL}-{MODE}-v{version}.skops"
            save_model(FilesModel(localizers), path)
            row = register_model(
                session,
                task=TASK,
                label=LABEL,
                mode=MODE,
                version=version,
                path=path,
                params={
                    "ranker": ReplayConfig().ranker,
                    "tracker": options.tracker,
                    "project": options.project,
                    "candidates": _option(options, "candidates"),
                    "repo": _option(options, "repo"),
                    "embeddings": any(m.uses_embeddings for m in localizers.values()),
                    # the projects whose rows trained the one ranker they share (replayed together)
                    "ranker_projects": sorted(localizers),
                    "selection": {p: m.selection for p, m in localizers.items()},
                },
                data={
                    p: {"n_history": len(m.report_ids), "n_files": len(m.paths)}
                    for p, m in localizers.items()
                },
                metrics={r.project: r.as_dict() for r in results},
                thresholds={
                    "uncertain": {p: m.threshold for p, m in localizers.items()},
                    "precision_target": settings.precision_target,
                },
            )
        text = "\n".join(
            [
                format_results(results),
                *map(selection_line, localizers.values()),
                f"saved files model v{version} to {path}",
            ]
        )
        evaluation = {
            "projects": [r.as_dict() for r in results],
            "selection": {p: m.selection for p, m in localizers.items()},
        }
        return TrainOutcome(model=row, evaluation=evaluation, text=text)

    def predictor(self, database: Database, options: TaskOptions) -> FilesPredictor:
        from bugsift.learn.persist import load_model
        from bugsift.store.registry import active_model

        with database.session() as session:
            row = active_model(session, TASK)
        model = load_model(row.path)
        if any(m.uses_embeddings for m in model.localizers.values()):
            from bugsift.learn.embeddings import load_encoder

            for localizer in model.localizers.values():
                localizer.require_embeddings()
            load_encoder()  # now (the web server warms predictors at start-up), not on a first request
        return FilesPredictor(
            model,
            f"{TASK}:v{row.version}",
            _option(options, "candidates"),
            _option(options, "repo"),
        )


class FilesPredictor:
    """Ranks each report's candidates: from ``--candidates``, else ``git ls-tree HEAD`` of ``--repo``, else
    the files the model saw fixed."""

    def __init__(
        self,
        model: FilesModel,
        version_name: str = TASK,
        candidates: str | Path | None = None,
        repo: str | Path | None = None,
    ) -> None:
        self.model = model
        self.version_name = version_name
        self.candidates = candidates
        self.repo = repo
        self._sources: dict[str, CandidateSource | None] = {}
        self._text = SourceText(repo, GitCandidates(repo)) if repo and not candidates else None

    def _candidates_for(self, report: Report) -> list[str] | None:
        project = report.project or ""
        if project not in self._sources:
            if self.candidates:
                self._sources[project] = load_candidates(self.candidates, project)
            elif self.repo:
                self._sources[project] = GitCandidates(self.repo)
            else:
                self._sources[project] = None
        source = self._sources[project]
        return None if source is None else source.paths_for(report)

    def predict(self, reports: Sequence[Report], top_k: int) -> list[dict[str, Any]]:
        return [self.model.for_report(r).rank(r, self._candidates_for(r), top_k, self._text) for r in reports]
