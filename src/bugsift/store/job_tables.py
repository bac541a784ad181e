"""Tables of the jobs layer: jobs, mail subscriptions, the mail outbox and tracker sync watermarks.

The schema is owned by migration ``0004_jobs``; these classes must match it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bugsift.store.models import Base, JSONType, UTCDateTime, utcnow

JOB_STATES = ("queued", "running", "done", "failed")


class JobRow(Base):
    """One submitted job: what to run (task + plain JSON args), where it stands, and what came out."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_state", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task: Mapped[str] = mapped_column(String(50))
    args: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    state: Mapped[str] = mapped_column(String(20), default="queued")  # queued | running | done | failed
    progress: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    log: Mapped[str] = mapped_column(Text, default="")
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(200))  # "host:pid" of the worker running it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SubscriptionRow(Base):
    """Someone who wants mail when a report is predicted into a value (a component, a kind) of a label."""

    __tablename__ = "subscriptions"
    __table_args__ = (UniqueConstraint("email", "field", "value", name="uq_subscriptions_email_field_value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    field: Mapped[str] = mapped_column(String(100))  # the label name: component, type, defect, is_bug...
    value: Mapped[str] = mapped_column(String(200))
    digest: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxRow(Base):
    """One notification owed to a subscriber; written once (unique key), marked sent once mailed."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("subscription_id", "report_id", "value", name="uq_outbox_subscription_report_value"),
        Index("ix_outbox_state", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"))
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))
    field: Mapped[str] = mapped_column(String(100))
    value: Mapped[str] = mapped_column(String(200))
    probability: Mapped[float] = mapped_column(Float)
    model_version: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(20), default="pending")  # pending | sent
    message_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SyncStateRow(Base):
    """Per tracker source: the server time up to which every change has been imported."""

    __tablename__ = "sync_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(300), unique=True)
    watermark: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
