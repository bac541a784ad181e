"""The `duplicates` task behind the common task interface (train / evaluate / predictor)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from bugsift.duplicates import evaluation as ev
from bugsift.duplicates import replay
from bugsift.duplicates.ranker import DuplicateRanker, load_ranker, save_ranker
from bugsift.duplicates.search import predictions
from bugsift.learn.tasks import EvaluationOutcome, TaskOptions, TrainOutcome
from bugsift.settings import Settings
from bugsift.sources.base import Report
from bugsift.store.db import Database
from bugsift.store.models import ModelRow, ReportRow
from bugsift.store.registry import active_model, next_version, register_model

TEST_SHARE = 0.3


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
    if len(queries) < 20:
        raise ValueError(f"only {len(queries)} duplicate links between stored reports: need at least 20")
    with database.session() as session:
        result = ev.run_replay(session, docs, queries, linked, test_share, precision_target)
    train_q, test_q = result.train.queries, result.test.queries
    evaluation = {
        "queries": len(queries),
        "n_train": len(train_q),
        "n_test": len(test_q),
        "test_dates": [str(test_q[0].created_at), str(test_q[-1].created_at)],
        "two_stage": result.rows["two_stage"],
        "full_text_baseline": result.rows["full_text_baseline"],
        "uncertain": result.uncertain,
        "uncertain_test": result.uncertain_test,
    }
    return evaluation, (result.ranker, docs, by_key, result.train, result.test, result.negatives)


def describe(evaluation: dict[str, Any]) -> str:
    lines = [
        f"duplicates: {evaluation['queries']} replay queries; train {evaluation['n_train']}, "
        f"test {evaluation['n_test']} (newest, {evaluation['test_dates'][0][:10]} .. "
        f"{evaluation['test_dates'][1][:10]})",
        f"{'method':20} {'RR@1':>6} {'RR@5':>6} {'RR@10':>6} {'MRR':>6}",
    ]
    for name in ("full_text_baseline", "two_stage"):
        r = evaluation[name]
        lines.append(f"{name:20} {r['rr@1']:6.3f} {r['rr@5']:6.3f} {r['rr@10']:6.3f} {r['mrr']:6.3f}")
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


class DuplicatesTask:
    help = "which stored reports a report duplicates (full-text candidates, learned re-ranker)"

    def __init__(self, name: str = "duplicates") -> None:
        self.name = name

    def evaluate(self, database: Database, settings: Settings, options: TaskOptions) -> EvaluationOutcome:
        evaluation, _ = _evaluate(
            database, options, options.test_fraction or TEST_SHARE, settings.precision_target
        )
        return EvaluationOutcome(evaluation=evaluation, text=describe(evaluation))

    def train(self, database: Database, settings: Settings, options: TaskOptions) -> TrainOutcome:
        """Evaluate on the time split, then refit the re-ranker on every query and register it."""
        evaluation, (_ranker, docs, by_key, train_1, test_1, negatives) = _evaluate(
            database, options, options.test_fraction or TEST_SHARE, settings.precision_target
        )
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

    def predictor(self, database: Database, options: TaskOptions) -> DuplicatesPredictor:
        with database.session() as session:
            row = active_model(session, "duplicates", options.tracker or None)
        return DuplicatesPredictor(database, row, load_ranker(row.path))
