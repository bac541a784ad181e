"""Carrying out the plan: each action is claimed by one run, checked against the tracker right before the
write, written once, and logged with what the tracker answered.

People win. Right before writing, the report is read again from the tracker and the bot writes only if
the field still holds the value it had when the bot decided, the tracker's version of the report is the
one the bot saw (no person changed anything since), and no person ever removed the new value from this
report.

Exactly once. An action row is unique per rule and report; a run claims it with a compare-and-set
(planned -> writing, naming its process). A run that died mid-write leaves a claimed row: the next run
reads the report and finds the bot's marked note if the write landed (done), or writes it now. A set is
never repeated on a report that already holds the value, and a comment carries the rule's marker, so it
is edited, never posted again.

The bot's own writes are not a person's change: each write logs the tracker's version before it and the
one right after it (the write's answer, or a read right after), and a later action on the same report (a
second rule) accepts that chain of the bot's own versions as the one it saw.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bugsift.bot.fields import FIELD_OF_TASK
from bugsift.bot.planner import Decision, RulePlan, plan
from bugsift.bot.rules import Rule
from bugsift.bot.trackers.base import LiveReport, TrackerAdapter, Write, WriteRefused, marker
from bugsift.store.db import Database
from bugsift.store.labels import upsert_labels
from bugsift.store.models import BotActionRow, ReportRow, utcnow
from bugsift.sync.http import TrackerError

CLAIM_LEASE = timedelta(minutes=15)
"""A claim older than this is taken over even when its process cannot be checked (another host)."""


@dataclass
class RunSummary:
    planned: int = 0
    done: int = 0
    skipped: int = 0
    failed: int = 0
    suggested: int = 0
    reverted: int = 0
    resumed: int = 0
    lines: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "lines"}


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_once(
    database: Database,
    rules: Sequence[Rule],
    adapters: Callable[[Rule], TrackerAdapter],
    now: datetime | None = None,
    log: Callable[[str], None] = lambda line: None,
) -> RunSummary:
    """Review earlier actions, plan, record, and carry out the planned actions of rules with apply = true."""
    now = now or datetime.now(UTC)
    summary = RunSummary()
    summary.reverted = review(database, rules, now)
    for rule in rules:
        summary.resumed += _resume_claims(database, rule, adapters)
    plans = plan(database, rules, lambda rule, raw: adapters(rule).version_of(raw), now)
    for rule_plan in plans:
        if rule_plan.problem:
            log(f"rule {rule_plan.rule.name}: {rule_plan.problem}")
            continue
        summary.planned += record(database, rule_plan)
    for rule in rules:
        if not rule.apply:
            continue
        for action_id in _due(database, rule, now):
            state = execute(database, rule, adapters(rule), action_id)
            if state in ("done", "skipped", "failed"):
                setattr(summary, state, getattr(summary, state) + 1)
            log(f"rule {rule.name}: action {action_id} {state}")
    with database.session() as session:
        summary.suggested = (
            session.scalar(
                select(func.count()).select_from(BotActionRow).where(BotActionRow.state == "suggest")
            )
            or 0
        )
    return summary


def record(database: Database, rule_plan: RulePlan) -> int:
    """Insert the plan's decisions (or refresh those still waiting); returns how many wait to be written."""
    with database.session() as session:
        existing = {
            row.key: row
            for row in session.scalars(select(BotActionRow).where(BotActionRow.rule == rule_plan.rule.name))
        }
        waiting = 0
        for decision in rule_plan.decisions:
            key = action_key(decision)
            state = "planned" if decision.verdict == "act" else "suggest"
            row = existing.get(key)
            if row is None:
                row = BotActionRow(key=key, created_at=utcnow())
                session.add(row)
            elif row.state not in ("planned", "suggest"):
                continue  # claimed or final: the plan never overrides what a run did
            _fill(row, decision, state)
            waiting += state == "planned"
    return waiting


def action_key(decision: Decision) -> str:
    """One action per rule and report: the bot never acts twice on a report for one rule."""
    return f"{decision.rule}|{decision.tracker}|{decision.project}|{decision.external_id}"[:700]


def _fill(row: BotActionRow, decision: Decision, state: str) -> None:
    row.rule, row.report_id, row.tracker = decision.rule, decision.report_id, decision.tracker
    row.external_id, row.task, row.action, row.field = (
        decision.external_id,
        decision.task,
        decision.action,
        decision.field,
    )
    row.old_value, row.new_value = decision.old_value, decision.new_value or ""
    row.model_version, row.probability, row.threshold = (
        decision.model_version,
        decision.probability,
        decision.threshold,
    )
    row.explanation, row.seen_version = decision.explanation[:8], decision.seen_version
    row.state, row.reason, row.updated_at = state, decision.why, utcnow()


def _due(database: Database, rule: Rule, now: datetime) -> list[int]:
    """The rule's planned actions that fit in this hour's allowance, oldest first."""
    with database.session() as session:
        done_this_hour = (
            session.scalar(
                select(func.count())
                .select_from(BotActionRow)
                .where(BotActionRow.rule == rule.name, BotActionRow.done_at >= now - timedelta(hours=1))
            )
            or 0
        )
        room = max(0, rule.max_per_hour - done_this_hour)
        query = (
            select(BotActionRow.id)
            .where(BotActionRow.rule == rule.name, BotActionRow.state == "planned")
            .order_by(BotActionRow.id)
            .limit(room)
        )
        return list(session.scalars(query)) if room else []


def _claim(session: Session, action_id: int, from_state: str, claimant: str | None = None) -> bool:
    condition = [BotActionRow.id == action_id, BotActionRow.state == from_state]
    if claimant is not None:
        condition.append(BotActionRow.claimed_by == claimant)
    result = session.execute(
        update(BotActionRow)
        .where(*condition)
        .values(state="writing", claimed_by=worker_id(), updated_at=utcnow())
    )
    return result.rowcount == 1


def execute(database: Database, rule: Rule, adapter: TrackerAdapter, action_id: int) -> str:
    """Claim, check, write, log one planned action; returns its final state."""
    with database.session() as session:
        if not _claim(session, action_id, "planned"):
            return "claimed elsewhere"
    return _write_claimed(database, rule, adapter, action_id)


def _write_claimed(database: Database, rule: Rule, adapter: TrackerAdapter, action_id: int) -> str:
    with database.session() as session:
        row = session.get(BotActionRow, action_id)
        assert row is not None
        session.expunge(row)
    project = _project_of(database, row.report_id)
    try:
        live = adapter.read(row.external_id, project)
    except TrackerError as error:
        return _finish(database, action_id, "failed", f"could not read the report: {error}")
    problem = people_changed(row, live, bots_versions(database, row))
    if problem:
        return _finish(database, action_id, "skipped", problem)
    change = Write(
        external_id=row.external_id,
        project=project,
        field=row.field,
        new_value=row.new_value,
        old_value=row.old_value,
        note=note_of(row, rule, getattr(adapter, "field_words", {})),
        rule=rule.name,
        comment_id=live.bot_comments.get(rule.name) if live else None,
    )
    try:
        answer = adapter.write(change)
    except WriteRefused as error:
        return _finish(database, action_id, "failed", str(error), error.answer)
    except TrackerError as error:
        return _finish(database, action_id, "failed", str(error))
    answer = {**answer, "version_before": live.version if live else None}
    answer["version_after"] = answer.pop("version", None) or _version_now(adapter, row.external_id, project)
    return _finish(database, action_id, "done", "written", answer)


def _version_now(adapter: TrackerAdapter, external_id: str, project: str) -> str | None:
    """The tracker's version right after the bot's write, where the write's answer does not carry it."""
    try:
        live = adapter.read(external_id, project)
    except TrackerError:
        return None  # the next action on this report then skips it as changed: the safe side
    return live.version if live else None


def bots_versions(database: Database, row: BotActionRow) -> set[str]:
    """The versions of the report that the bot itself made since it looked: each done write whose
    version before is the seen one (or one of these) adds its version after."""
    accepted = {row.seen_version} if row.seen_version else set()
    with database.session() as session:
        answers = session.scalars(
            select(BotActionRow.answer)
            .where(
                BotActionRow.report_id == row.report_id,
                BotActionRow.id != row.id,
                BotActionRow.state.in_(("done", "reverted")),
            )
            .order_by(BotActionRow.done_at)
        ).all()
    for answer in answers:
        before, after = (answer or {}).get("version_before"), (answer or {}).get("version_after")
        if before in accepted and after:
            accepted.add(after)
    return accepted


def people_changed(row: BotActionRow, live: LiveReport | None, seen: set[str] | None = None) -> str | None:
    """Why the bot must not write now (a person acted, or the report is gone); None when it may.
    ``seen``: the versions that count as the one the bot saw (its own later writes' included)."""
    if live is None:
        return "the report is gone from the tracker"
    if row.action == "set":
        current = live.values.get(row.field) or None
        if current == row.new_value:
            return "the field already holds that value"
        if current != (row.old_value or None):
            return f"the field changed since the bot decided ({row.old_value!r} -> {current!r})"
        if row.new_value in live.removed_by_people.get(row.field, set()):
            return f"a person removed {row.new_value!r} from this report before"
    if row.action == "label" and row.new_value in live.labels:
        return "the report already carries that label"
    if row.action == "label" and row.new_value in live.removed_by_people.get("label", set()):
        return f"a person removed the label {row.new_value!r} from this report before"
    accepted = seen if seen is not None else {row.seen_version}
    if row.seen_version and live.version and live.version not in accepted:
        return f"the report changed since the bot looked (version {row.seen_version} -> {live.version})"
    return None


def note_of(row: BotActionRow, rule: Rule, words: dict[str, str] | None = None) -> str:
    """The note or comment that says what the bot did and why, ending with the rule's marker; ``words``
    are the tracker's own names of the fields (Redmine: category, tracker)."""
    reasons = "; ".join(item.get("text", "") for item in (row.explanation or [])[:4] if item.get("text"))
    if row.action == "set":
        what = f"bugsift bot set the {(words or {}).get(row.field, row.field)} to {row.new_value!r}"
    elif row.action == "label":
        what = f"bugsift bot added the label {row.new_value!r}"
    else:
        what = f"bugsift bot: {row.new_value}"
    threshold = f", acting at {row.threshold:.2f} or more" if row.threshold is not None else ""
    lines = [
        f"{what} (p={row.probability or 0:.2f}{threshold}; rule {rule.name}, model {row.model_version}).",
    ]
    if reasons:
        lines.append(f"Why: {reasons}.")
    lines.append("Wrong? Change it back: the bot will not set it again, and learns from your correction.")
    lines.append(marker(rule.name))
    return "\n".join(lines)


def _finish(
    database: Database, action_id: int, state: str, reason: str, answer: dict[str, Any] | None = None
) -> str:
    with database.session() as session:
        values: dict[str, Any] = {"state": state, "reason": reason[:2000], "updated_at": utcnow()}
        if answer is not None:
            values["answer"] = answer
        if state == "done":
            values["done_at"] = utcnow()
        session.execute(update(BotActionRow).where(BotActionRow.id == action_id).values(**values))
    return state


def _project_of(database: Database, report_id: int) -> str:
    with database.session() as session:
        return session.scalar(select(ReportRow.project).where(ReportRow.id == report_id)) or ""


# --- a run that died mid-write -----------------------------------------------------------------------


def _claim_is_dead(claimed_by: str | None, updated_at: datetime | None) -> bool:
    """A claim whose process is gone (this host) or that is older than the lease (any host)."""
    if claimed_by is None:
        return True
    host, _, pid = claimed_by.rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        if int(pid) == os.getpid():
            return False
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False
    return updated_at is None or datetime.now(UTC) - updated_at > CLAIM_LEASE


def _resume_claims(database: Database, rule: Rule, adapters: Callable[[Rule], TrackerAdapter]) -> int:
    """Finish the actions a dead run had claimed: done if its write landed (the rule's marked note is
    there and the field holds the value), else written now, under the same checks."""
    with database.session() as session:
        rows = session.execute(
            select(BotActionRow.id, BotActionRow.claimed_by, BotActionRow.updated_at).where(
                BotActionRow.rule == rule.name, BotActionRow.state == "writing"
            )
        ).all()
    resumed = 0
    for action_id, claimed_by, updated_at in rows:
        if not _claim_is_dead(claimed_by, updated_at):
            continue
        with database.session() as session:
            if not _claim(session, action_id, "writing", claimed_by):
                continue
            row = session.get(BotActionRow, action_id)
            assert row is not None
            session.expunge(row)
        resumed += 1
        adapter = adapters(rule)
        try:
            live = adapter.read(row.external_id, _project_of(database, row.report_id))
        except TrackerError as error:
            _finish(database, action_id, "failed", f"could not read the report: {error}")
            continue
        if live is not None and _landed(row, live, rule):
            _finish(database, action_id, "done", "written by a run that was interrupted before logging it")
        else:
            _write_claimed(database, rule, adapter, action_id)
    return resumed


def _landed(row: BotActionRow, live: LiveReport, rule: Rule) -> bool:
    if rule.name not in live.bot_comments:
        return False
    return row.action != "set" or (live.values.get(row.field) or None) == row.new_value


# --- undo and review -----------------------------------------------------------------------------------


def undo(database: Database, rule: Rule, adapter: TrackerAdapter, action_id: int) -> str:
    """Put the old value back, unless a person changed the field since (then theirs stands)."""
    with database.session() as session:
        row = session.get(BotActionRow, action_id)
        if row is None:
            raise LookupError(f"no bot action {action_id}")
        session.expunge(row)
    if row.state != "done":
        raise ValueError(f"action {action_id} is {row.state}, not done: nothing to undo")
    project = _project_of(database, row.report_id)
    live = adapter.read(row.external_id, project)
    if live is None:
        raise ValueError(f"action {action_id}: the report is gone from the tracker")
    if row.action == "set" and (live.values.get(row.field) or None) != row.new_value:
        raise ValueError(
            f"action {action_id}: a person changed the {row.field} since "
            f"(now {live.values.get(row.field)!r}): left as it is"
        )
    unlabelled: dict[str, Any] = {}
    if row.action == "set":
        note = f"bugsift bot undid its action {action_id}: {row.field} back to {row.old_value or '(none)'}."
        change = Write(
            row.external_id, project, row.field, row.old_value or "", row.new_value, note, rule.name
        )
    else:
        if row.action == "label" and row.new_value in live.labels:  # gone already: a person took it off
            unlabel = Write(row.external_id, project, "unlabel", row.new_value or "", None, "", rule.name)
            unlabelled["unlabel"] = adapter.write(unlabel)
        note = f"(withdrawn by bugsift bot, action {action_id})\n{marker(rule.name)}"
        comment_id = live.bot_comments.get(rule.name)
        change = Write(row.external_id, project, "comment", "", None, note, rule.name, comment_id)
    answer = {**unlabelled, **adapter.write(change)}
    with database.session() as session:
        session.execute(
            update(BotActionRow)
            .where(BotActionRow.id == action_id)
            .values(state="undone", reason="undone on request", answer=answer, updated_at=utcnow())
        )
    return "undone"


def review(database: Database, rules: Sequence[Rule], now: datetime) -> int:
    """Mark the bot's set actions a person reverted, as the store shows the reports after a sync: the
    person's value becomes a human label (the correction), and the rule's live precision counts it."""
    names = {rule.name: rule for rule in rules}
    reverted = 0
    with database.session() as session:
        rows = session.execute(
            select(BotActionRow, ReportRow)
            .join(ReportRow, ReportRow.id == BotActionRow.report_id)
            .where(BotActionRow.state == "done", BotActionRow.action == "set")
        ).all()
        corrections: list[tuple[int, str, str]] = []
        for action, report in rows:
            rule = names.get(action.rule)
            if (
                rule is None
                or action.done_at is None
                or now - action.done_at > timedelta(days=rule.review_days)
            ):
                continue
            current = getattr(report, FIELD_OF_TASK[action.task]) or None
            if current == action.new_value or report.updated_at <= action.done_at:
                continue
            action.state, action.updated_at = "reverted", utcnow()
            action.reason = f"a person changed the {action.field} to {current!r}"
            corrections.append((report.id, action.task, current or ""))
            reverted += 1
        corrections = [c for c in corrections if c[2]]  # a cleared field names no component to learn
        if corrections:
            upsert_labels(session, corrections, "human", author="tracker (reverted a bot action)")
    return reverted
