"""Reading the action log: the newest actions, each rule's volume and its live precision."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from bugsift.bot.rules import Rule
from bugsift.store.db import Database
from bugsift.store.models import BotActionRow

COLUMNS = (
    "id",
    "rule",
    "state",
    "tracker",
    "external_id",
    "task",
    "action",
    "field",
    "old_value",
    "new_value",
    "probability",
    "threshold",
    "model_version",
    "reason",
    "answer",
    "explanation",
    "created_at",
    "updated_at",
    "done_at",
)


def actions(
    database: Database, rule: str | None = None, state: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    with database.session() as session:
        query = select(BotActionRow).order_by(BotActionRow.updated_at.desc(), BotActionRow.id.desc())
        if rule:
            query = query.where(BotActionRow.rule == rule)
        if state:
            query = query.where(BotActionRow.state == state)
        return [{c: getattr(row, c) for c in COLUMNS} for row in session.scalars(query.limit(limit))]


def done_since(database: Database, since: datetime) -> list[int]:
    with database.session() as session:
        query = select(BotActionRow.id).where(BotActionRow.state == "done", BotActionRow.done_at >= since)
        return list(session.scalars(query.order_by(BotActionRow.id)))


@dataclass
class RuleFigures:
    """One rule's volume and live precision: of its writes old enough to have been reviewed (done more
    than ``review_days`` ago), the share no person reverted."""

    rule: str
    done: int
    reverted: int
    undone: int
    skipped: int
    suggested: int
    settled: int
    """Writes done more than review_days ago (kept or reverted): the live precision's denominator."""
    kept: int
    target: float

    @property
    def live_precision(self) -> float | None:
        return self.kept / self.settled if self.settled else None

    def text(self) -> str:
        precision = self.live_precision
        shown = "n/a (nothing settled yet)" if precision is None else f"{precision:.2f}"
        written = self.done + self.reverted + self.undone
        return (
            f"rule {self.rule}: {written} written ({self.reverted} reverted by people, "
            f"{self.undone} undone), {self.skipped} skipped, {self.suggested} only suggested; live precision "
            f"{shown} of {self.settled} settled (target {self.target:.2f})"
        )


def live_precision(
    database: Database, rules: Sequence[Rule], now: datetime | None = None
) -> list[RuleFigures]:
    now = now or datetime.now(UTC)
    figures = []
    with database.session() as session:
        for rule in rules:
            counts = dict(
                session.execute(
                    select(BotActionRow.state, func.count())
                    .where(BotActionRow.rule == rule.name)
                    .group_by(BotActionRow.state)
                ).all()
            )
            settled_before = now - timedelta(days=rule.review_days)
            settled = dict(
                session.execute(
                    select(BotActionRow.state, func.count())
                    .where(
                        BotActionRow.rule == rule.name,
                        BotActionRow.state.in_(("done", "reverted")),
                        BotActionRow.done_at <= settled_before,
                    )
                    .group_by(BotActionRow.state)
                ).all()
            )
            figures.append(
                RuleFigures(
                    rule=rule.name,
                    done=counts.get("done", 0),
                    reverted=counts.get("reverted", 0),
                    undone=counts.get("undone", 0),
                    skipped=counts.get("skipped", 0),
                    suggested=counts.get("suggest", 0),
                    settled=settled.get("done", 0) + settled.get("reverted", 0),
                    kept=settled.get("done", 0),
                    target=rule.precision,
                )
            )
    return figures
