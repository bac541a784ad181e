"""The bot's action log in the store: which reports' current values the bot wrote (never training labels)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bugsift.store.models import BotActionRow

# States of an action (`bugsift.bot.runner` moves them): suggest is for the digest only; planned waits for
# a run; writing is claimed by one run; done, skipped, failed, undone and reverted are final.
STATES = ("suggest", "planned", "writing", "done", "skipped", "failed", "undone", "reverted")
# The report field each settable task writes, as stored in `reports`.
FIELD_OF_TASK = {"component": "component", "type": "type", "severity": "severity", "priority": "priority"}


def written_by_bot(session: Session, task: str) -> set[int]:
    """Reports whose field for ``task`` holds what the bot wrote, with no person's correction since:
    their value is the bot's own answer, so training on it would feed the model its own output."""
    if task not in FIELD_OF_TASK:
        return set()
    query = select(BotActionRow.report_id).where(
        BotActionRow.task == task, BotActionRow.action == "set", BotActionRow.state == "done"
    )
    return set(session.scalars(query))
