"""What the `severity` and `priority` tasks learn: the tracker's own field as the reporter filed it.

Per report, the value is the filing-time one where the importer replayed the field's history
(``report.filed``), else today's value (the tracker gave no history: Jira's flattened dumps, CSV); the
dataset counts both, and the task's output says so. The value then goes through its scale
(`bugsift.learn.scale.scales`): a level is a label; the tracker's default ("normal", "Major") is a label only
where the history shows a person set the field to it (`person_set`); anything else is excluded, each
with its reason in ``Dataset.excluded``. A person's correction stored in bugsift (a human label named
after the task) wins over the tracker's value (`human_corrections`).

One dataset is on one scale: the one most labelled reports use (ask for ``--tracker`` to choose); where
a tracker's reports use Bugzilla's classic severities and Mozilla's S1..S4 both, the classic ones are
mapped onto S1..S4 (`scales.CLASSIC_TO_S`).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bugsift.learn.field.targets import prefixed, without_labels
from bugsift.learn.scale.scales import (
    BUGZILLA_SEVERITY,
    CLASSIC_TO_S,
    DEFAULT,
    FIELDS,
    MOZILLA_SEVERITY,
    NOT_SET,
    SCALES,
    Scale,
    is_untouched,
    level_on,
    normalise,
    scale_for_value,
)
from bugsift.learn.targets import Dataset
from bugsift.sources.base import Report
from bugsift.store.bot_actions import written_by_bot
from bugsift.store.models import LabelRow
from bugsift.store.reports import iter_newest_reports

AS_FILED, FINAL, CORRECTED = "as filed", "final value (no history)", "a person's correction"
# Accounts that change fields without a person deciding: Mozilla's release-management and triage bots,
# "nobody@" placeholders, automation users.
_NOT_A_PERSON = re.compile(r"(^|[^a-z])bot([^a-z]|$)|automation|autonag|^nobody@|^nobody$", re.I)
# Field names of a severity / priority change in each tracker's history.
_HISTORY_NAMES = {"severity": {"severity", "bug_severity"}, "priority": {"priority"}}


@dataclass
class ScaleDataset(Dataset):
    """A `Dataset` whose labels are levels of one ordered scale."""

    scale: Scale | None = None
    sources: Counter[str] = field(default_factory=Counter)
    """How many labels are the value as filed, and how many today's value (no history)."""
    person_set_defaults: int = 0
    """Labels that are the tracker's default, counted because a person set them."""
    label_sources: list[str] = field(default_factory=list)
    """Per labelled report, where its label came from (AS_FILED, FINAL or CORRECTED)."""
    at_default: list[Report] = field(default_factory=list)
    """Reports filed with the field untouched (empty, '--' or the tracker's default): no label, but the
    reports a triage bot acts on (`bugsift.bot`); the held-out ones score its thresholds."""
    at_default_final: list[str | None] = field(default_factory=list)
    """Per `at_default` report, the level people finally gave it on the dataset's scale; None: it stays
    "not set" (where the tracker kept no history, today's value is the filed one, so always None)."""


def is_person(who: str | None) -> bool:
    return bool(who) and not _NOT_A_PERSON.search(str(who))


def person_set(report: Report, field_name: str, value: str) -> bool:
    """Whether the report's history shows a person changing ``field_name`` to ``value`` (Bugzilla
    ``history``, Jira ``changelog``; Redmine journals name ids, not values, and are not read)."""
    raw: dict[str, Any] = report.raw or {}
    names, wanted = _HISTORY_NAMES[field_name], normalise(value)
    for entry in raw.get("history") or []:  # Bugzilla REST
        if not isinstance(entry, dict) or not is_person(entry.get("who")):
            continue
        for change in entry.get("changes") or []:
            if (
                isinstance(change, dict)
                and change.get("field_name") in names
                and normalise(str(change.get("added") or "")) == wanted
            ):
                return True
    changelog = raw.get("changelog")
    for entry in (changelog.get("histories") or []) if isinstance(changelog, dict) else []:  # Jira REST
        author = entry.get("author") if isinstance(entry, dict) else None
        who = (author.get("name") or author.get("displayName")) if isinstance(author, dict) else None
        if not is_person(who):
            continue
        for item in entry.get("items") or []:
            if (
                isinstance(item, dict)
                and str(item.get("field", "")).lower() in names
                and normalise(str(item.get("toString") or "")) == wanted
            ):
                return True
    return False


def label_rules(text: str | None = None) -> dict[str, tuple[str, ...]]:
    """The ``BUGSIFT_GITHUB_SCALE_LABELS`` rules (``severity=severity,priority=priority``) as field ->
    label prefixes; ``text`` None reads the setting."""
    if text is None:
        from bugsift.settings import Settings

        text = Settings().github_scale_labels
    rules: dict[str, tuple[str, ...]] = {}
    for rule in filter(None, (part.strip() for part in text.split(","))):
        field_name, sep, prefix = (piece.strip() for piece in rule.partition("="))
        if field_name not in FIELDS or not sep or not prefix:
            raise ValueError(
                f"BUGSIFT_GITHUB_SCALE_LABELS: {rule!r} is not FIELD=PREFIX (FIELD: {', '.join(FIELDS)})"
            )
        rules[field_name] = (*rules.get(field_name, ()), prefix)
    return rules


def report_value(
    report: Report, field_name: str, rules: dict[str, tuple[str, ...]] | None = None
) -> tuple[str | None, str]:
    """The field's value as filed where history was replayed, else today's; and which of the two. A
    report without the field (GitHub) takes it from one label a rule names (`label_rules`); GitHub's
    issue object has no label history, so that is today's value."""
    if report.filed is not None:
        return report.filed.get(field_name), AS_FILED
    value = getattr(report, field_name)
    if value is None and rules and rules.get(field_name):
        found = {v for prefix in rules[field_name] for v in prefixed(report.keywords or [], prefix)}
        value = found.pop() if len(found) == 1 else None  # several levels at once: no answer
    return value, FINAL


def load_scale_dataset(
    session: Session,
    task: str,
    tracker: str | None = None,
    project: str | None = None,
    rules: dict[str, tuple[str, ...]] | None = None,
    mode: str = "backlog",
    max_reports: int | None = None,
) -> ScaleDataset:
    """The stored reports whose ``task`` field (severity / priority) is a level of one scale; ``rules``
    (default: the setting) say which labels carry the field where a report has none (`label_rules`).
    For a filing-mode model the later comments and the raw record are dropped once the value is read:
    such a model never reads them (issue 20: training memory). With ``max_reports``, the newest that many
    stored reports only (the training window)."""
    if task not in FIELDS:
        raise ValueError(f"unknown task {task!r}; scale tasks are {', '.join(FIELDS)}")
    rows, unread = iter_newest_reports(session, tracker, project, max_reports)
    corrections, by_bot = human_corrections(session, task), written_by_bot(session, task)
    rules = label_rules() if rules is None else rules
    dataset = build_scale_dataset(task, rows, corrections, by_bot, rules, slim=mode == "filing")
    if unread:  # read newest first: back to oldest first, as without a window
        dataset.excluded[f"not read: older than the newest {max_reports:,} reports"] = unread
        for items in (dataset.row_ids, dataset.reports, dataset.labels, dataset.label_sources):
            items.reverse()
        dataset.at_default.reverse()
        dataset.at_default_final.reverse()
    return dataset


def human_corrections(session: Session, task: str) -> dict[int, str]:
    """Values people gave the field in bugsift (form, queue, API: labels named after the task): they
    win over the tracker's, and a default set this way counts. Model and import labels never do."""
    query = select(LabelRow.report_id, LabelRow.value).where(
        LabelRow.name == task, LabelRow.source == "human"
    )
    return {report_id: value for report_id, value in session.execute(query)}


def build_scale_dataset(
    task: str,
    rows: Any,
    corrections: dict[int, str] | None = None,
    by_bot: set[int] | frozenset[int] = frozenset(),
    rules: dict[str, tuple[str, ...]] | None = None,
    slim: bool = False,
) -> ScaleDataset:
    """`load_scale_dataset` over (row id, Report) pairs, with people's corrections by row id and the rows
    whose current value the bot wrote (`bugsift.store.bot_actions`); ``slim`` drops what only a
    backlog-mode model reads (comments, the raw record) once the value is known."""
    corrections = corrections or {}
    seen: list[tuple[int, Report, str | None, str, Scale | None]] = []
    n_by_bot = 0
    prefixes = (rules or {}).get(task, ())
    for row_id, report in rows:
        value, source = report_value(report, task, rules)
        if prefixes and getattr(report, task) is None:  # a label carried it: no mode may read it
            report = without_labels(report, prefixes)
        if row_id in corrections:
            value, source = corrections[row_id], CORRECTED
        elif source == FINAL and row_id in by_bot:  # the bot's own answer: never a label
            n_by_bot += 1
            continue
        seen.append((row_id, report, value, source, scale_for_value(task, value, report.tracker)))
    scale, mapped = _choose_scale(task, [s for *_, s in seen])
    dataset = ScaleDataset(task=task, label_name=scale.name if scale else task, scale=scale)
    if n_by_bot:
        dataset.excluded["set by the bot"] = n_by_bot
    for row_id, report, value, source, on in seen:
        label, reason = _label(task, report, value, on, scale, mapped, source == CORRECTED)
        if label is None:
            dataset.excluded[reason] += 1
            if scale is not None and source != CORRECTED and is_untouched(task, report.tracker, value):
                final = level_on(scale, getattr(report, task)) if source == AS_FILED else None
                if slim:
                    report.comments, report.raw = [], {}
                dataset.at_default.append(report)
                dataset.at_default_final.append(final)
            continue
        if slim:  # after `_label`, which reads the raw history (who set a default)
            report.comments, report.raw = [], {}
        dataset.row_ids.append(row_id)
        dataset.reports.append(report)
        dataset.labels.append(label)
        dataset.sources[source] += 1
        dataset.label_sources.append(source)
        dataset.person_set_defaults += reason == "person-set default"
    return dataset


def _choose_scale(task: str, scales: list[Scale | None]) -> tuple[Scale | None, bool]:
    """The scale most reports are on; (S1..S4, True) where classic and S severities are mixed."""
    counts = Counter(s.name for s in scales if s is not None)
    if not counts:
        return None, False
    if task == "severity" and BUGZILLA_SEVERITY.name in counts and MOZILLA_SEVERITY.name in counts:
        return MOZILLA_SEVERITY, True
    name = counts.most_common(1)[0][0]
    return next(s for s in scales if s is not None and s.name == name), False


def _label(
    task: str,
    report: Report,
    value: str | None,
    on: Scale | None,
    scale: Scale | None,
    mapped: bool,
    by_person: bool = False,
) -> tuple[str | None, str]:
    """(label, why): the label, or None and the reason it is excluded."""
    if value is None or not normalise(value):
        return None, f"no {task} ('{value or '--'}': not set)"
    if on is None or scale is None:
        if any(s.field == task and s.classify(value)[0] == NOT_SET for s in SCALES):
            return None, f"{task} {value}: not a {task}"
        return None, f"{task} {value}: on no known scale"
    kind, level = on.classify(value)
    assert level is not None  # scale_for_value only answers for levels and defaults
    reason = "level"
    if kind == DEFAULT:
        if not (by_person or person_set(report, task, value)):
            return None, f"{task} {level}: the tracker's default, left untouched"
        reason = "person-set default"
    if on is scale:
        return level, reason
    if mapped and on is BUGZILLA_SEVERITY:
        return CLASSIC_TO_S[level], reason
    return None, f"{task} {value}: on another scale ({on.name}, not {scale.name})"
