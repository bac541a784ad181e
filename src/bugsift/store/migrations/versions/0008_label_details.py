"""A model label keeps what its answer rested on: probability, "not sure" and the explanation.

Before, only reports filed on the web form kept these (in ``reports.extra["suggestions"]``), so the
triage queue could say "not sure" and show reasons for those alone; the ``classify`` job now stores
them on the label for every report it labels. The upgrade copies the form's stored answers onto their
labels, where the label still holds the same value.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

from bugsift.store.models import JSONType

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# The label name each task's answer is stored under (as `bugsift.web.suggest.LABEL_NAMES` at 0008).
_TASK_OF_LABEL = {"type": "type", "defect": "defect", "component": "component", "duplicate_of": "duplicates"}


def upgrade() -> None:
    with op.batch_alter_table("labels") as batch:
        batch.add_column(sa.Column("probability", sa.Float(), nullable=True))
        batch.add_column(sa.Column("uncertain", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("explanation", JSONType, nullable=True))
    _copy_form_answers()


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _copy_form_answers() -> None:
    reports = sa.table("reports", sa.column("id"), sa.column("tracker"), sa.column("extra", JSONType))
    labels = sa.table(
        "labels",
        sa.column("id"),
        sa.column("report_id"),
        sa.column("name"),
        sa.column("value"),
        sa.column("source"),
        sa.column("probability"),
        sa.column("uncertain"),
        sa.column("explanation", JSONType),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(labels.c.id, labels.c.name, labels.c.value, reports.c.extra)
        .join(reports, reports.c.id == labels.c.report_id)
        .where(reports.c.tracker == "web", labels.c.source == "model")
    )
    updates = []
    for label_id, name, value, extra in rows:
        suggestions = (extra or {}).get("suggestions") if isinstance(extra, dict) else None
        stored = suggestions.get(_TASK_OF_LABEL.get(name, name)) if isinstance(suggestions, dict) else None
        if not isinstance(stored, dict) or str(stored.get("prediction"))[:200] != value:
            continue  # predicted again since: the stored answer is another one's
        explanation = stored.get("explanation")
        updates.append(
            {
                "label_id": label_id,
                "probability": _number(stored.get("probability")),
                "uncertain": bool(stored.get("uncertain")),
                "explanation": explanation if isinstance(explanation, list) else None,
            }
        )
    if updates:
        connection.execute(
            labels.update()
            .where(labels.c.id == sa.bindparam("label_id"))
            .values(
                probability=sa.bindparam("probability"),
                uncertain=sa.bindparam("uncertain"),
                explanation=sa.bindparam("explanation"),
            ),
            updates,
        )


def downgrade() -> None:
    with op.batch_alter_table("labels") as batch:
        batch.drop_column("explanation")
        batch.drop_column("uncertain")
        batch.drop_column("probability")
