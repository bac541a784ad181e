"""The triage bot's action log (`bugsift bot`): one row per planned action and what became of it.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from bugsift.store.models import JSONType, UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bot_actions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(700), nullable=False),
        sa.Column("rule", sa.String(100), nullable=False),
        sa.Column("report_id", sa.Integer(), sa.ForeignKey("reports.id", ondelete="CASCADE"), nullable=False),
        sa.Column("tracker", sa.String(64), nullable=False),
        sa.Column("external_id", sa.String(200), nullable=False),
        sa.Column("task", sa.String(50), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("field", sa.String(50), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=False),
        sa.Column("model_version", sa.String(100), nullable=True),
        sa.Column("probability", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("explanation", JSONType, nullable=True),
        sa.Column("seen_version", sa.String(100), nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("answer", JSONType, nullable=True),
        sa.Column("claimed_by", sa.String(200), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("done_at", UTCDateTime(), nullable=True),
        sa.UniqueConstraint("key", name="uq_bot_actions_key"),
    )
    op.create_index("ix_bot_actions_state", "bot_actions", ["state"])
    op.create_index("ix_bot_actions_rule_done", "bot_actions", ["rule", "done_at"])


def downgrade() -> None:
    op.drop_index("ix_bot_actions_rule_done", table_name="bot_actions")
    op.drop_index("ix_bot_actions_state", table_name="bot_actions")
    op.drop_table("bot_actions")
