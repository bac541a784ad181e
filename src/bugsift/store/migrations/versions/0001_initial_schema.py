"""Initial schema: reports, labels, models.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from bugsift.store.models import JSONType, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "models",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("task", sa.String(50), nullable=False),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("mode", sa.String(20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("params", JSONType, nullable=False),
        sa.Column("data", JSONType, nullable=False),
        sa.Column("metrics", JSONType, nullable=False),
        sa.Column("thresholds", JSONType, nullable=False),
        sa.UniqueConstraint("task", "label", "mode", "version", name="uq_models_key_version"),
    )
    op.create_table(
        "reports",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("tracker", sa.String(64), nullable=False),
        sa.Column("project", sa.String(200), nullable=False),
        sa.Column("external_id", sa.String(200), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("reporter", sa.String(320), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=True),
        sa.Column("type", sa.String(100), nullable=True),
        sa.Column("product", sa.String(200), nullable=True),
        sa.Column("component", sa.String(200), nullable=True),
        sa.Column("components", JSONType, nullable=False),
        sa.Column("severity", sa.String(100), nullable=True),
        sa.Column("priority", sa.String(100), nullable=True),
        sa.Column("status", sa.String(100), nullable=True),
        sa.Column("resolution", sa.String(100), nullable=True),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("duplicate_of", sa.String(200), nullable=True),
        sa.Column("fixed_files", JSONType, nullable=False),
        sa.Column("keywords", JSONType, nullable=False),
        sa.Column("comments", JSONType, nullable=False),
        sa.Column("filed_from_history", sa.Boolean(), nullable=False),
        sa.Column("filed_product", sa.String(200), nullable=True),
        sa.Column("filed_component", sa.String(200), nullable=True),
        sa.Column("filed_type", sa.String(100), nullable=True),
        sa.Column("filed_severity", sa.String(100), nullable=True),
        sa.Column("filed_priority", sa.String(100), nullable=True),
        sa.Column("extra", JSONType, nullable=False),
        sa.Column("raw", JSONType, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("imported_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("tracker", "project", "external_id", name="uq_reports_tracker_project_id"),
    )
    op.create_index("ix_reports_tracker_created", "reports", ["tracker", "created_at"])
    op.create_table(
        "labels",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("report_id", sa.Integer(), sa.ForeignKey("reports.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("value", sa.String(200), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("author", sa.String(320), nullable=True),
        sa.Column("model_version", sa.String(100), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("report_id", "name", "source", name="uq_labels_report_name_source"),
    )
    op.create_index("ix_labels_name", "labels", ["name"])


def downgrade() -> None:
    op.drop_index("ix_labels_name", table_name="labels")
    op.drop_table("labels")
    op.drop_index("ix_reports_tracker_created", table_name="reports")
    op.drop_table("reports")
    op.drop_table("models")
