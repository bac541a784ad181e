"""The `duplicates` task behind the common task interface (train / evaluate / predictor)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from bugsift.learn.duplicates import evaluation as ev
from bugsift.learn.duplicates import replay
from bugsift.learn.duplicates.ranker import DuplicateRanker, load_ranker, save_ranker
from bugsift.learn.duplicates.search import predictions
from bugsift.learn.duplicates.similarity import Calibration, fit_on_links, fit_text_model, similar_prediction
from bugsift.learn.duplicates.text_choice import TextSettings, defaults
from bugsift.learn.tasks import EvaluationOutcome, TaskOptions, TrainOutcome
from bugsift.settings import Settings
from bugsift.sources.base import Report
from bugsift.store.db import Database
from bugsift.store.models import ModelRow, ReportRow
from bugsift.store.registry import active_model, next_version, register_model
from bugsift.store.reports import count_reports

TEST_SHARE = 0.3
MIN_QUERIES = 20
"""Replayable duplicate links needed to train (and evaluate) the learned re-ranker."""
KEPT_TEXT_SIMILARITY = "duplicate search keeps answering by text similarity (no learned model registered)"


class TooFewLinks(ValueError):
    """The store holds too few duplicate links to train or evaluate the learned re-ranker."""


def _evaluate(
    database: Database, options: TaskOptions, test_share: float, precision_target: float
) -> tuple[dict[str, Any], Any]:
    with database.session() as session:
        docs = ev.load_docs(session, options.tracker)
        links = dict(
            session.execute(
                select(ReportRow.external_id, ReportRow.duplicate_of).where(
                    ReportRow.duplicate_of.is_not(None)
                )
            ).all()
        )
        linked = ev.linked_ids(session)
    by_key = {d.external_id: d for d in docs}
    queries = replay.replay_queries(ev.stored_pairs(docs, links), {d.external_id: d.created_at for d in docs})
    if len(queries) < MIN_QUERIES:
        raise TooFewLinks(
            f"only {len(queries)} duplicate links between stored reports: need at least {MIN_QUERIES}"
        )
    with database.session() as session:
        result = ev.run_replay(session, docs, queries, linked, test_share, precision_target, options.tracker)
    train_q, test_q = result.train.queries, result.test.queries
    evaluation = {
        "queries": len(queries),
        "n_train": len(train_q),
        "n_test": len(test_q),
        "test_dates": [str(test_q[0].created_at), str(test_q[-1].created_at)],
        "two_stage": result.rows["two_stage"],
        "full_text_baseline": result.rows["full_text_baseline"],
        "text_similarity": result.rows["text_similarity"],
        "validation": {
            "learned": result.rows["validation_learned"],
            "text_similarity": result.rows["validation_text_similarity"],
            "n": result.rows["validation_learned"]["n"],
        },
        "uncertain": result.uncertain,
        "uncertain_test": result.uncertain_test,
    }
    return evaluation, (result.ranker, docs, by_key, result.train, result.test, result.negatives)


def describe(evaluation: dict[str, Any]) -> str:
    lines = [
        f"duplicates: {evaluation['queries']} replay queries; train {evaluation['n_train']}, "
        f"test {evaluation['n_test']} (newest, {evaluation['test_dates'][0][:10]} .. "
        f"{evaluation['test_dates'][1][:10]})",
        f"{'method':28} {'RR@1':>6} {'RR@5':>6} {'RR@10':>6} {'MRR':>6}",
    ]
    named = [(name, evaluation.get(name)) for name in ("full_text_baseline", "text_similarity", "two_stage")]
    validation = evaluation.get("validation") or {}
    named += [(f"validation {name}", validation.get(name)) for name in ("text_similarity", "learned")]
    for name, r in named:
        if r:
            lines.append(f"{name:28} {r['rr@1']:6.3f} {r['rr@5']:6.3f} {r['rr@10']:6.3f} {r['mrr']:6.3f}")
    lines.append(threshold_line(evaluation["uncertain"], evaluation["uncertain_test"]))
    return "\n".join(lines)


def threshold_line(chosen: dict[str, Any], test: dict[str, Any]) -> str:
    """The threshold, as chosen on the calibration part, and what it gives on the test part."""
    best = chosen.get("best") or {}
    met = ""
    if not chosen["met"]:
        reached, at = best.get("precision") or 0.0, best.get("threshold", 1.0)
        met = f" (not reached on calibration, best {reached:.3f} at {at:.3f}: nothing confident)"

    def share(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    return (
        f"uncertain below {chosen['threshold']:.3f} (chosen on calibration for precision "
        f"{chosen['precision_target']:.2f}{met}); on test: precision {share(test['precision'])} "
        f"(among duplicates only: {share(test.get('precision_duplicates_only'))}), confident for "
        f"{test['coverage']:.1%} of reports, {test['duplicates_found']:.1%} of duplicates found"
    )


@dataclass
class DuplicatesPredictor:
    database: Database
    row: ModelRow
    ranker: DuplicateRanker

    @property
    def version_name(self) -> str:
        return str(self.row.version_name)

    def predict(self, reports: Sequence[Report], top_k: int) -> list[dict[str, Any]]:
        threshold = float(self.row.thresholds.get("uncertain", 0.5))
        with self.database.session() as session:
            return predictions(session, self.ranker, reports, top_k, threshold)


TEXT_SIMILARITY_VERSION = "duplicates-text-similarity"


@dataclass
class TextSimilarityPredictor:
    """Answers with no trained model: full-text candidates re-scored by text similarity (`similarity`)."""

    database: Database
    model: DuplicateRanker | None
    """The stored reports' word statistics; None when the store holds no report."""
    calibration: Calibration | None
    threshold: float
    """A calibrated probability below this is uncertain (the precision target)."""
    version_name: str = TEXT_SIMILARITY_VERSION
    settings: TextSettings = field(default_factory=TextSettings)
    """The mix chosen on the store's links (`text_choice`), or the defaults."""
    embeddings: bool = False
    """Whether the titles' sentence cosine is a signal (the encoder is installed and not switched off)."""
    choice: dict[str, Any] = field(default_factory=dict)

    @property
    def keep_seconds(self) -> float:
        """How long a server may keep this predictor: an empty store's, briefly (an import may follow)."""
        return 3600.0 if self.model is not None else 5.0

    def predict(self, reports: Sequence[Report], top_k: int) -> list[dict[str, Any]]:
        with self.database.session() as session:
            return [
                similar_prediction(
                    session,
                    self.model,
                    self.calibration,
                    r,
                    top_k,
                    self.threshold,
                    self.settings,
                    self.embeddings,
                )
                for r in reports
            ]


def text_similarity_predictor(
    database: Database, tracker: str | None = None, threshold: float | None = None
) -> TextSimilarityPredictor:
    """Fit the word statistics on the stored reports; choose the mix and calibrate on their links (when
    there are some)."""
    settings = Settings()
    embeddings = text_embeddings(settings)
    with database.session() as session:
        model = fit_text_model(session, tracker)
        if model is not None:
            model.indexed_reports_ = count_reports(session)  # stage one's budget in rows (`ranker`)
        tuned = fit_on_links(session, model, tracker, embeddings) if model is not None else None
    target = settings.precision_target if threshold is None else threshold
    if tuned is None:
        return TextSimilarityPredictor(database, model, None, target, settings=defaults(embeddings))
    return TextSimilarityPredictor(
        database,
        model,
        tuned.calibration,
        target,
        TEXT_SIMILARITY_VERSION,
        tuned.settings,
        embeddings,
        tuned.choice,
    )


def text_embeddings(settings: Settings) -> bool:
    """The titles' sentence cosine joins text similarity only with embeddings ``on``: it gains 0.017
    RR@10 on Jira for about 55 ms more an answer and 11 s more to start (docs/duplicates.md)."""
    from bugsift.learn.embeddings import embeddings_available

    return settings.embeddings == "on" and embeddings_available()


def learned_beats_text(evaluation: dict[str, Any]) -> bool:
    """The learned re-ranker on the validation queries: RR@10 at least that of text similarity, and at a
    tie MRR at least as well (a tie keeps the learned one: it carries a threshold chosen on calibration)."""
    learned, text = evaluation["validation"]["learned"], evaluation["validation"]["text_similarity"]
    return (learned["rr@10"], learned["mrr"]) >= (text["rr@10"], text["mrr"])


class DuplicatesTask:
    help = "which stored reports a report duplicates (full-text candidates, learned re-ranker)"
    answers_without_model = True
    """With no trained model, `predictor` serves text similarity (`TextSimilarityPredictor`)."""

    def __init__(self, name: str = "duplicates") -> None:
        self.name = name

    def evaluate(self, database: Database, settings: Settings, options: TaskOptions) -> EvaluationOutcome:
        evaluation, _ = _evaluate(
            database, options, options.test_fraction or TEST_SHARE, settings.precision_target
        )
        return EvaluationOutcome(evaluation=evaluation, text=describe(evaluation))

    def train(self, database: Database, settings: Settings, options: TaskOptions) -> TrainOutcome:
        """Evaluate on the time split; when the learned re-ranker beats text similarity on the validation
        queries, refit it on every query and register it. Otherwise nothing is registered (``model`` None)
        and text similarity keeps answering."""
        try:
            evaluation, (_ranker, docs, by_key, train_1, test_1, negatives) = _evaluate(
                database, options, options.test_fraction or TEST_SHARE, settings.precision_target
            )
        except TooFewLinks as error:
            return TrainOutcome(model=None, evaluation={}, text=f"{error}; {KEPT_TEXT_SIMILARITY}")
        if not learned_beats_text(evaluation):
            v = evaluation["validation"]
            text = (
                f"{describe(evaluation)}\nthe learned re-ranker does not beat text similarity on the "
                f"{v['n']} validation queries (RR@10 {v['learned']['rr@10']:.3f} vs "
                f"{v['text_similarity']['rr@10']:.3f}): {KEPT_TEXT_SIMILARITY}"
            )
            return TrainOutcome(model=None, evaluation=evaluation, text=text)
        final = DuplicateRanker().fit_text(docs)
        merged = ev.Replayed(
            train_1.queries + test_1.queries,
            train_1.candidates + test_1.candidates,
            train_1.scores + test_1.scores,
        )
        X, y = ev.pair_matrix(final, by_key, merged)
        neg_X = ev.pair_matrix(final, by_key, negatives)[0] if ev.TRAIN_WITH_NEGATIVES else []
        ev.fit_ranker(final, X, y, neg_X)
        label = options.tracker or "all"
        settings.ensure_home()
        with database.session() as session:
            version = next_version(session, "duplicates", label, "filing")
            path = settings.models_dir / f"duplicates-{label}-filing-v{version}.skops"
            save_ranker(final, path)
            row = register_model(
                session,
                task="duplicates",
                label=label,
                mode="filing",
                version=version,
                path=path,
                params={"tracker": options.tracker, "candidates": ev.CANDIDATES},
                data={k: evaluation[k] for k in ("queries", "n_train", "n_test", "test_dates")},
                metrics={
                    "test": evaluation["two_stage"],
                    "baseline": evaluation["full_text_baseline"],
                    "text_similarity": evaluation["text_similarity"],
                    "validation": evaluation["validation"],
                    "uncertain_calibration": evaluation["uncertain"],
                    "uncertain_test": evaluation["uncertain_test"],
                },
                thresholds={
                    "uncertain": evaluation["uncertain"]["threshold"],
                    "precision_target": settings.precision_target,
                    "chosen_on": "calibration: the newest 30% of the training queries and non-duplicates "
                    "of their period, re-ranker fitted on the older queries",
                },
            )
        text = f"{describe(evaluation)}\nsaved duplicates model v{version} to {path}"
        return TrainOutcome(model=row, evaluation=evaluation, text=text)

    def predictor(
        self, database: Database, options: TaskOptions
    ) -> DuplicatesPredictor | TextSimilarityPredictor:
        """The active learned model's predictor; with none, text similarity over the stored reports."""
        with database.session() as session:
            try:
                row = active_model(session, "duplicates", options.tracker or None)
            except LookupError:
                row = None
            indexed = count_reports(session)
        if row is None:
            return text_similarity_predictor(database, options.tracker)
        ranker = load_ranker(row.path)
        ranker.indexed_reports_ = indexed  # stage one's budget in rows (`ranker.MAX_POSTING_ROWS`)
        return DuplicatesPredictor(database, row, ranker)

    def without_model(self, database: Database, options: TaskOptions) -> TextSimilarityPredictor:
        """Text similarity, whatever the registry holds (a server whose learned model will not load)."""
        return text_similarity_predictor(database, options.tracker)
