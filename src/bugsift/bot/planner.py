"""What the bot would do now: for each rule, the reports in its scope, the model's answer, and whether
that answer is trusted enough to act on (per-label thresholds for the rule's precision).

Planning reads the store and the models only; it changes nothing (`bugsift bot plan`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from bugsift.bot.fields import (
    FIELD_OF_TASK,
    SCALE_TASKS,
    is_untouched,
    levels_of,
    never_written,
    scale_fits,
    untouched_spellings,
)
from bugsift.bot.log import live_precision
from bugsift.bot.rules import Rule
from bugsift.bot.thresholds import (
    MAX_TARGET,
    HeldOut,
    LabelThreshold,
    drift_margin,
    held_out_of,
    label_thresholds,
)
from bugsift.learn.component.model import OTHER, SEP
from bugsift.learn.tasks import TaskOptions, get_task
from bugsift.store.db import Database
from bugsift.store.models import BotActionRow, LabelRow, ModelRow, ReportRow
from bugsift.store.reports import row_to_report

PREDICT_BATCH = 200
PAUSE_AFTER = 20  # settled writes before a live precision below target pauses a rule (fewer: noise)
# The label name a person's answer for each task is stored under (as `web.suggest.LABEL_NAMES`).
HUMAN_LABEL = {
    "component": "component",
    "type": "type",
    "defect": "defect",
    "duplicates": "duplicate_of",
    "severity": "severity",
    "priority": "priority",
}
# States after which a rule never acts on that report again (a person undid or reverted it, or it is done).
FINAL = ("writing", "done", "skipped", "failed", "undone", "reverted")


@dataclass
class Decision:
    """One report under one rule: what the bot would write and why, or why it would not."""

    rule: str
    report_id: int
    tracker: str
    project: str
    external_id: str
    title: str
    task: str
    action: str
    field: str
    old_value: str | None
    new_value: str | None
    label: str | None
    probability: float
    threshold: float | None
    verdict: str  # act | suggest
    why: str
    model_version: str
    seen_version: str | None
    explanation: list[dict[str, Any]] = field(default_factory=list)
    scale: str | None = None
    """Severity and priority: the ordered scale the value is on (`bugsift.learn.scale.scales`)."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Answerer:
    """The model a rule's answers come from: its registry row (None for the text-similarity duplicates
    search), its name, and the per-label thresholds for the rule's precision."""

    model: ModelRow | None
    version_name: str
    thresholds: dict[str, LabelThreshold]
    target: float
    """The precision the thresholds were chosen for: the rule's, raised by the store's drift."""
    scale: str | None = None
    """Severity and priority: the scale the model answers on."""
    unverified: str | None = None
    """Why the thresholds do not hold where the rule acts (a scale model trained before its held-out
    answers counted the untouched reports); None: they do."""


@dataclass
class RulePlan:
    rule: Rule
    decisions: list[Decision] = field(default_factory=list)
    problem: str | None = None
    """Why the rule cannot plan at all (no model, unknown tracker): said, never raised."""
    thresholds: dict[str, LabelThreshold] = field(default_factory=dict)
    margin: float = 0.0
    """How much the labels' held-out precision fell from older to newer reports: thresholds aim this
    much higher than the rule's precision."""
    paused: str | None = None
    """Why the rule only suggests for now (its live precision fell below its target)."""
    scale: str | None = None
    """Severity and priority: the scale the rule's model answers on."""


def plan(
    database: Database,
    rules: Sequence[Rule],
    version_of: Any,
    now: datetime | None = None,
) -> list[RulePlan]:
    """Every rule's decisions; ``version_of(rule, raw)`` reads the tracker's version from a raw record."""
    now = now or datetime.now(UTC)
    return [_plan_rule(database, rule, version_of, now) for rule in rules]


def _plan_rule(database: Database, rule: Rule, version_of: Any, now: datetime) -> RulePlan:
    result = RulePlan(rule)
    # New reports: what is known at filing.
    mode = "filing" if rule.task in ("type", "defect", *SCALE_TASKS) or ":" in rule.task else None
    options = TaskOptions(tracker=rule.tracker, mode=mode, label=rule.scale)
    try:
        predictor = get_task(rule.task).predictor(database, options)
    except LookupError as error:
        result.problem = f"no {rule.task} model: {error}"
        return result
    except (ValueError, OSError) as error:
        result.problem = f"the {rule.task} model does not load: {error}"
        return result
    model: ModelRow | None = getattr(predictor, "row", None)
    if model is None and hasattr(predictor, "loaded"):
        model = predictor.loaded.row  # the scale tasks' predictor keeps its row there
    if rule.task in SCALE_TASKS:
        result.scale = str(getattr(predictor, "scale", "") or "") or None
        result.problem = _scale_problem(rule, result.scale)
        if result.problem:
            return result
    result.thresholds, result.margin, held_out = _thresholds(rule, model)
    target = min(MAX_TARGET, rule.precision + result.margin)
    answerer = Answerer(
        model, predictor.version_name, result.thresholds, target, result.scale, unverified(rule, held_out)
    )
    result.paused = paused_because(database, rule, now)
    for rows in _candidates(database, rule, now):
        reports = [row_to_report(row) for row in rows]
        answers = predictor.predict(reports, top_k=1)
        for row, answer in zip(rows, answers, strict=True):
            decision = decide(rule, row, answer, answerer, version_of(rule, row.raw or {}))
            if decision is not None and decision.verdict == "act" and result.paused:
                decision.verdict, decision.why = "suggest", f"{decision.why}; {result.paused}"
            if decision is not None:
                result.decisions.append(decision)
    return result


def _scale_problem(rule: Rule, scale: str | None) -> str | None:
    """Why a severity or priority model cannot answer for this rule's tracker (its scale is another's)."""
    kind = rule.kind or rule.tracker
    if scale is None:
        return f"the {rule.task} model names no scale: retrain it"
    if rule.scale and scale != rule.scale:
        return f"the active {rule.task} model answers on {scale}, not the rule's scale {rule.scale}"
    if kind == "github" and rule.action == "label" and rule.scale == scale:
        return None  # labels carry any names: the rule chose this scale's
    if not scale_fits(scale, rule.task, kind):
        return (
            f"the active {rule.task} model answers on {scale}, which {kind} does not use: train one on "
            f"this tracker's reports (bugsift train {rule.task} --tracker {rule.tracker})"
        )
    return None


def paused_because(database: Database, rule: Rule, now: datetime) -> str | None:
    """Why a rule must stop acting: people reverted too many of its settled writes (its live precision,
    over at least ``PAUSE_AFTER`` of them, is below its target); None when it may act."""
    (figures,) = live_precision(database, [rule], now)
    precision = figures.live_precision
    if figures.settled < PAUSE_AFTER or precision is None or precision >= rule.precision:
        return None
    return (
        f"rule paused: people reverted {figures.settled - figures.kept} of its {figures.settled} settled "
        f"writes (live precision {precision:.2f} < {rule.precision:.2f}); retrain, or lower its precision"
    )


def _thresholds(
    rule: Rule, model: ModelRow | None
) -> tuple[dict[str, LabelThreshold], float, HeldOut | None]:
    """Per-label thresholds for the rule's precision, raised by the drift the store's own held-out answers
    show from their older half to their newer half (`thresholds.drift_margin`); that margin; and the
    held-out answers they come from."""
    if rule.task == "duplicates" or model is None:
        return {}, 0.0, None
    held_out = held_out_of(rule.task, model.path, untouched=not rule.act_on_defaults)
    if held_out is None:
        return {}, 0.0, None
    margin = drift_margin(held_out, rule.precision, rule.min_support)
    target = min(MAX_TARGET, rule.precision + margin)
    return label_thresholds(held_out, target, rule.min_support), margin, held_out


def unverified(rule: Rule, held_out: HeldOut | None) -> str | None:
    """Why a scale rule's thresholds do not hold where it acts, or None (`Answerer.unverified`)."""
    if held_out is None or held_out.untouched_counted or rule.act_on_defaults:
        return None
    return UNVERIFIED_SCALE


def _candidates(database: Database, rule: Rule, now: datetime) -> Iterator[list[ReportRow]]:
    """The rule's reports, in batches: old enough, young enough, untriaged, not a skipped reporter's, with
    no person's answer for the task and no earlier action of this rule."""
    with database.session() as session:
        query = select(ReportRow).where(ReportRow.tracker == rule.tracker).order_by(ReportRow.id)
        query = query.where(ReportRow.created_at <= now - timedelta(minutes=rule.grace_minutes))
        if rule.max_age_days is not None:
            query = query.where(ReportRow.created_at >= now - timedelta(days=rule.max_age_days))
        if rule.projects:
            query = query.where(ReportRow.project.in_(rule.projects) | ReportRow.product.in_(rule.projects))
        if rule.skip_reporters:
            query = query.where(ReportRow.reporter.is_(None) | ReportRow.reporter.not_in(rule.skip_reporters))
        stored_field = FIELD_OF_TASK.get(rule.task)
        if rule.only_untriaged and stored_field and rule.action == "set":
            column = getattr(ReportRow, stored_field)
            # Severity and priority are untriaged while they hold the tracker's default.
            untriaged = (
                untouched_spellings(rule.task, rule.kind or rule.tracker)
                if rule.task in SCALE_TASKS
                else ("", *rule.untriaged_values)
            )
            query = query.where(column.is_(None) | column.in_(untriaged))
        people = select(LabelRow.report_id).where(
            LabelRow.name == HUMAN_LABEL.get(rule.task, rule.task), LabelRow.source == "human"
        )
        acted = select(BotActionRow.report_id).where(
            BotActionRow.rule == rule.name, BotActionRow.state.in_(FINAL)
        )
        query = query.where(ReportRow.id.not_in(people), ReportRow.id.not_in(acted))
        if rule.task == "duplicates":
            query = query.where(ReportRow.duplicate_of.is_(None))
        batch: list[ReportRow] = []
        for row in session.scalars(query.execution_options(yield_per=PREDICT_BATCH)):
            session.expunge(row)
            batch.append(row)
            if len(batch) == PREDICT_BATCH:
                yield batch
                batch = []
        if batch:
            yield batch


def decide(
    rule: Rule,
    row: ReportRow,
    answer: dict[str, Any],
    answerer: Answerer,
    seen_version: str | None,
) -> Decision | None:
    # The model's own first choice: where that was a bucket (component's catch_all), the prediction is
    # a runner-up carrying the bucket's confidence, so the decision is about the bucket: never written.
    label = answer.get("catch_all") or answer.get("prediction")
    if label is None:
        return None
    label = str(label)
    probability = float(answer.get("confidence", answer.get("probability")) or 0.0)
    field_name, old_value, new_value, why_not = _change(rule, row, label, answerer.scale)
    decision = Decision(
        rule=rule.name,
        report_id=row.id,
        tracker=row.tracker,
        project=row.project,
        external_id=row.external_id,
        title=row.title[:200],
        task=rule.task,
        action=rule.action,
        field=field_name,
        old_value=old_value,
        new_value=new_value,
        label=label,
        probability=round(probability, 4),
        threshold=None,
        verdict="suggest",
        why="",
        model_version=answer.get("model_version") or answerer.version_name,
        seen_version=seen_version,
        explanation=list(answer.get("explanation") or []),
        scale=answerer.scale,
    )
    if why_not:
        decision.why = why_not
        return decision if new_value else None
    decision.verdict, decision.threshold, decision.why = _trust(rule, label, probability, answer, answerer)
    if decision.verdict == "act" and not rule.apply:
        decision.verdict, decision.why = "suggest", f"{decision.why}; the rule has apply = false"
    return decision


def _change(
    rule: Rule, row: ReportRow, label: str, scale: str | None = None
) -> tuple[str, str | None, str | None, str | None]:
    """(field, old value, new value, why not) for a rule's action on a report given the model's label."""
    if rule.action == "comment":
        return "comment", None, _comment_value(rule, label), None
    if rule.task in SCALE_TASKS:
        return _scale_change(rule, row, label, scale)
    if rule.action == "label":
        if label == OTHER or label.endswith(SEP + OTHER):
            return "label", None, None, f"{label!r} is a catch-all, never written as an answer"
        value = rule.label_format.format(value=label)
        if value in (row.keywords or []):
            return "label", None, None, f"already carries {value!r}"
        return "label", None, value, None if rule.admits(label) else f"{label!r} is not allowed by the rule"
    stored = getattr(row, FIELD_OF_TASK[rule.task])
    value = label
    if rule.task == "component" and SEP in label:
        product, value = label.split(SEP, 1)
        if row.product and product != row.product:
            return "component", stored, None, f"the model's {label!r} is outside the report's product"
    if value == OTHER or value in rule.untriaged_values:
        return FIELD_OF_TASK[rule.task], stored, None, f"{label!r} is a catch-all, never written as an answer"
    if value == stored:
        return "component" if rule.task == "component" else "type", stored, None, "already has that value"
    if not rule.admits(value) or not rule.admits(label):
        return FIELD_OF_TASK[rule.task], stored, value, f"{value!r} is not allowed by the rule"
    return FIELD_OF_TASK[rule.task], stored or None, value, None


def _scale_change(
    rule: Rule, row: ReportRow, level: str, scale: str | None
) -> tuple[str, str | None, str | None, str | None]:
    """A severity or priority to set or label: never the tracker's default ('normal', 'Major', 'Normal',
    '--'), which means "not set"; with ``only_untriaged``, only where the field still holds it."""
    kind = rule.kind or rule.tracker
    stored = getattr(row, FIELD_OF_TASK[rule.task])
    field_name = FIELD_OF_TASK[rule.task] if rule.action == "set" else "label"
    if never_written(rule.task, kind, scale, level):
        return field_name, stored, None, f"{level!r} is the tracker's default ('not set'), never written"
    if rule.action == "label":
        value = rule.label_format.format(value=level)
        carried = {k.lower() for k in row.keywords or []}
        if value.lower() in carried:
            return "label", None, None, f"already carries {value!r}"
        if rule.only_untriaged and (stored and not is_untouched(rule.task, kind, stored)):
            return "label", None, None, f"the {rule.task} is already {stored!r}"
        levels = levels_of(rule.task, kind, scale)
        other = sorted(f for lv in levels if (f := rule.label_format.format(value=lv)).lower() in carried)
        if rule.only_untriaged and other:
            return "label", None, None, f"already carries the {rule.task} label {other[0]!r}"
        return "label", None, value, None if rule.admits(level) else f"{level!r} is not allowed by the rule"
    if stored == level:
        return field_name, stored, None, "already has that value"
    if rule.only_untriaged and not is_untouched(rule.task, kind, stored):
        return field_name, stored, None, f"a person set the {rule.task} to {stored!r}"
    if not rule.admits(level):
        return field_name, stored, level, f"{level!r} is not allowed by the rule"
    return field_name, stored or None, level, None


def _comment_value(rule: Rule, label: str) -> str:
    if rule.task == "duplicates":
        return f"possible duplicate of {label}"
    return f"{rule.task}: {label}"


# The replay (docs/bot.md): held-out answers on reports people gave a level overstate the precision on
# the untouched reports a rule acts on (HIVE priority: 0.89 there, 0.58 in the replay).
UNVERIFIED_SCALE = (
    "the model's held-out answers are only on reports people gave a level, not on the untouched ones "
    "this rule acts on, most of which stay untouched: retrain it (act_on_defaults = true acts anyway)"
)


def _trust(
    rule: Rule,
    label: str,
    probability: float,
    answer: dict[str, Any],
    answerer: Answerer,
) -> tuple[str, float | None, str]:
    """(verdict, threshold, why): act only at or above the label's own threshold for the rule's precision."""
    model, version_name, thresholds = answerer.model, answerer.version_name, answerer.thresholds
    if rule.task == "duplicates":
        chosen = (model.thresholds or {}) if model is not None else {}
        target = float(chosen.get("precision_target") or 0.0)
        if answer.get("uncertain"):
            return "suggest", None, f"{version_name} is not sure"
        if model is None or target < rule.precision or not chosen.get("met", True):
            return (
                "suggest",
                None,
                f"{version_name} has no threshold chosen for precision {rule.precision:.2f}",
            )
        return "act", float(chosen.get("uncertain") or 0.0), f"p={probability:.2f}, not uncertain"
    if answerer.unverified:
        return "suggest", None, answerer.unverified
    if not thresholds:
        if rule.task in SCALE_TASKS and not answerer.unverified:
            return "suggest", None, f"{version_name}'s test part held no untouched report to measure on"
        return "suggest", None, f"{version_name} kept no held-out answers per label: retrain it"
    chosen = thresholds.get(label)
    if chosen is None:
        return "suggest", None, f"no held-out answers of {label!r}"
    if chosen.threshold is None:
        return "suggest", None, chosen.why_not(answerer.target, rule.min_support)
    if probability < chosen.threshold:
        return (
            "suggest",
            chosen.threshold,
            f"p={probability:.2f} is below {label!r}'s threshold {chosen.threshold:.2f}",
        )
    return (
        "act",
        chosen.threshold,
        f"p={probability:.2f} >= {chosen.threshold:.2f}, where {label!r} was right "
        f"{chosen.precision:.0%} of {chosen.support} held-out times",
    )
