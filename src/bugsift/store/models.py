"""SQLAlchemy 2 tables: reports, labels (kept apart so corrections never overwrite data), model registry.

The schema is owned by the Alembic migrations in ``store/migrations``; these classes must match them
(a test compares the two).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from bugsift.store.compressed import CompressedJSON

JSONType = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: bugsift stores UTC-aware datetimes only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class ReportRow(Base):
    __tablename__ = "reports"
    __table_args__ = (
        UniqueConstraint("tracker", "project", "external_id", name="uq_reports_tracker_project_id"),
        Index("ix_reports_tracker_created", "tracker", "created_at"),
        Index("ix_reports_created", "created_at"),  # the triage queue, every tracker newest first
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tracker: Mapped[str] = mapped_column(String(64))
    project: Mapped[str] = mapped_column(String(200), default="")
    external_id: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    reporter: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    type: Mapped[str | None] = mapped_column(String(100))
    product: Mapped[str | None] = mapped_column(String(200))
    component: Mapped[str | None] = mapped_column(String(200))
    components: Mapped[list[str]] = mapped_column(JSONType, default=list)
    severity: Mapped[str | None] = mapped_column(String(100))
    priority: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str | None] = mapped_column(String(100))
    resolution: Mapped[str | None] = mapped_column(String(100))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duplicate_of: Mapped[str | None] = mapped_column(String(200))
    fixed_files: Mapped[list[str]] = mapped_column(JSONType, default=list)
    keywords: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # The two big columns are stored zlib-compressed (migration 0010, docs/data-model.md).
    comments: Mapped[list[str]] = mapped_column(CompressedJSON, default=list)
    # Reporter-set fields as they were at filing time, replayed from the tracker's history.
    # filed_from_history is False when the tracker gave no history: filed_* are then unknown (NULL).
    filed_from_history: Mapped[bool] = mapped_column(Boolean, default=False)
    filed_product: Mapped[str | None] = mapped_column(String(200))
    filed_component: Mapped[str | None] = mapped_column(String(200))
    filed_type: Mapped[str | None] = mapped_column(String(100))
    filed_severity: Mapped[str | None] = mapped_column(String(100))
    filed_priority: Mapped[str | None] = mapped_column(String(100))
    extra: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    raw: Mapped[dict[str, Any]] = mapped_column(CompressedJSON, default=dict)
    content_hash: Mapped[str] = mapped_column(String(64))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    labels: Mapped[list[LabelRow]] = relationship(back_populates="report", cascade="all, delete-orphan")


class LabelRow(Base):
    """A label of a report: one row per (report, label name, source); a human label wins over the others."""

    __tablename__ = "labels"
    __table_args__ = (
        UniqueConstraint("report_id", "name", "source", name="uq_labels_report_name_source"),
        Index("ix_labels_name", "name"),
        # the triage queue's "least sure first" walks the answers in this order (migration 0011)
        Index("ix_labels_probability", "probability", "report_id"),
        Index(  # the queue's decided reports; partial: on all of source it misled the planner for 'model'
            "ix_labels_human_updated",
            "updated_at",
            sqlite_where=text("source = 'human'"),
            postgresql_where=text("source = 'human'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    value: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(20))  # import | human | model
    author: Mapped[str | None] = mapped_column(String(320))
    model_version: Mapped[str | None] = mapped_column(String(100))
    # What a model label's answer rested on (NULL for human and import labels, and for model labels
    # stored without them): the probability, the model's "not sure" and the reasons in words.
    probability: Mapped[float | None] = mapped_column(Float)
    uncertain: Mapped[bool | None] = mapped_column(Boolean)
    explanation: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    report: Mapped[ReportRow] = relationship(back_populates="labels")


class ModelRow(Base):
    """The registry: one row per trained model file, with what it was trained on and how well it did."""

    __tablename__ = "models"
    __table_args__ = (UniqueConstraint("task", "label", "mode", "version", name="uq_models_key_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task: Mapped[str] = mapped_column(String(50))  # type | defect (later: component, files, duplicates)
    label: Mapped[str] = mapped_column(String(100))  # label set name, or the tracker field used
    mode: Mapped[str] = mapped_column(String(20))  # filing | backlog
    version: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    thresholds: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)

    @property
    def version_name(self) -> str:
        """How predictions name the model that made them, e.g. ``defect:is_bug:filing:v3``."""
        return f"{self.task}:{self.label}:{self.mode}:v{self.version}"


class BotActionRow(Base):
    """One thing the triage bot decided to do in a tracker, and what became of it (`bugsift.bot`).

    ``key`` makes an action unique per rule, report and new value: planning again, a retried job or two
    runs at once find the same row, and an action that was undone or reverted is never planned again.
    """

    __tablename__ = "bot_actions"
    __table_args__ = (
        UniqueConstraint("key", name="uq_bot_actions_key"),
        Index("ix_bot_actions_state", "state"),
        Index("ix_bot_actions_rule_done", "rule", "done_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(700))
    rule: Mapped[str] = mapped_column(String(100))
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))
    tracker: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(200))
    task: Mapped[str] = mapped_column(String(50))
    action: Mapped[str] = mapped_column(String(20))  # set | label | comment
    field: Mapped[str] = mapped_column(String(50))  # component | type | label | comment
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str] = mapped_column(Text)
    model_version: Mapped[str | None] = mapped_column(String(100))
    probability: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float | None] = mapped_column(Float)
    explanation: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)
    seen_version: Mapped[str | None] = mapped_column(String(100))
    """The tracker's own version of the report when the bot decided (updated_on, last_change_time...)."""
    state: Mapped[str] = mapped_column(String(20))  # see bugsift.bot.actions.STATES
    reason: Mapped[str | None] = mapped_column(Text)
    answer: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    """What the tracker answered to the write (status, the ids it gave, an error body)."""
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
