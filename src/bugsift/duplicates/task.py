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


def _evaluate(database: Database, options: TaskOptions, test_share: float) -> tuple[dict[str, Any], Any]:
    with database.session() as session:
        docs = ev.load_docs(session, options.tracker)
        links = dict(
            session.execute(
                select(ReportRow.external_id, ReportRow.duplicate_of).where(
                    ReportRow.duplicate_of.is_not(None)
                )
            ).all()
        )
    by_key = {d.external_id: d for d in docs}
    by_row = {d.row_id: d for d in docs if d.row_id is not None}
    queries = replay.replay_queries(ev.stored_pairs(docs, links), {d.external_id: d.created_at for d in docs})
    if len(queries) < 20:
        raise ValueError(f"only {len(queries)} duplicate links between stored reports: need at least 20")
    cut = max(1, int(len(queries) * (1 - test_share)))
    train_q, test_q = queries[:cut], queries[cut:]
    ranker = DuplicateRanker().fit_text(
        [d for d in docs if d.created_at and d.created_at < test_q[0].created_at]
    )
    with database.session() as session:
        base = ev.stage_one(session, None, by_key, by_row, test_q, limit=10)
        train_1 = ev.stage_one(session, ranker, by_key, by_row, train_q)
        test_1 = ev.stage_one(session, ranker, by_key, by_row, test_q)
    X, y = ev.pair_matrix(ranker, by_key, train_1)
    ev.fit_ranker(ranker, X, y)
    test_X, _ = ev.pair_matrix(ranker, by_key, test_1)
    evaluation = {
        "queries": len(queries),
        "n_train": len(train_q),
        "n_test": len(test_q),
        "test_dates": [str(test_q[0].created_at), str(test_q[-1].created_at)],
        "two_stage": ev.rates(test_q, ev.ranked_ids(ranker, test_1, test_X)),
        "full_text_baseline": ev.rates(test_q, ev.ranked_ids(None, base, None)),
    }
    return evaluation, (ranker, docs, by_key, train_1, test_1)


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
    return "\n".join(lines)


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
        evaluation, _ = _evaluate(database, options, options.test_fraction or TEST_SHARE)
        return EvaluationOutcome(evaluation=evaluation, text=describe(evaluation))

    def train(self, database: Database, settings: Settings, options: TaskOptions) -> TrainOutcome:
        """Evaluate on the time split, then refit the re-ranker on every query and register it."""
        evaluation, (_ranker, docs, by_key, train_1, test_1) = _evaluate(
            database, options, options.test_fraction or TEST_SHARE
        )
        final = DuplicateRanker().fit_text(docs)
        merged = ev.Replayed(
            train_1.queries + test_1.queries,
            train_1.candidates + test_1.candidates,
            train_1.scores + test_1.scores,
        )
        X, y = ev.pair_matrix(final, by_key, merged)
        ev.fit_ranker(final, X, y)
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
                metrics={"test": evaluation["two_stage"], "baseline": evaluation["full_text_baseline"]},
                thresholds={"uncertain": 0.5, "chosen_on": "fixed: probability 0.5 of the pair classifier"},
            )
        text = f"{describe(evaluation)}\nsaved duplicates model v{version} to {path}"
        return TrainOutcome(model=row, evaluation=evaluation, text=text)

    def predictor(self, database: Database, options: TaskOptions) -> DuplicatesPredictor:
        with database.session() as session:
            row = active_model(session, "duplicates", options.tracker or None)
        return DuplicatesPredictor(database, row, load_ranker(row.path))
