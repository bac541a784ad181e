"""Replay the newest reports of the shared data through the triage bot in plan mode, and score what it
would have done against what people really did (prints a table; not a timed test).

    nice -n 10 .venv/bin/python bench/bot_replay.py [--data ../shared/data] [--precision 0.9 0.8] [--slices 4]
        [--tasks component severity priority defect type] [--only HIVE Mozilla NLBSE]

Per dataset, time-ordered: the newest 20% of each project is replayed in ``--slices`` slices, oldest
first. Before each slice, a fresh store holds every report filed before it and the task's model is
trained on them as `bugsift train TASK` does (as a worker retraining on a schedule would); its own
held-out part (the newest 20% of what it was trained on) gives the per-label thresholds. The slice is
then planned under a `set` rule per precision target, as the bot finds its reports:

- component: every report with a component, component hidden; right when the component it sets is one
  people finally gave the report;
- severity and priority (Jira: priority; Mozilla: both): the field hidden, on the reports still at the
  tracker's default when filed (all of them where the tracker kept no history); right when the level it
  sets is the one people finally left; a report left at the default counts as a wrong action;
- defect (Jira per project, Mozilla) and type (the NLBSE GitHub issues, five repositories in one store):
  a `label` rule on the reports whose verdict is known today (defect: the resolution, or a recorded type
  of other work; type: the tracker's type), as the bot found them at filing time (no resolution, status
  or type yet); right when the label it adds is that verdict. Open reports have no verdict to score and
  are left out of the replay, though a rule would act on them too.

The bot judges a label on the lower end of a 95% Wilson interval, on each admitted answer's own chance
(isotonic) and with the store's drift margin; weaker criteria are shown for comparison.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bugsift.bot.fields import is_untouched
from bugsift.bot.planner import Answerer, decide
from bugsift.bot.rules import Rule
from bugsift.bot.thresholds import MAX_TARGET, WILSON_Z, drift_margin, held_out_of, label_thresholds
from bugsift.learn.component.model import SEP, report_labels
from bugsift.learn.scale.scales import BY_NAME, Scale, level_on, normalise
from bugsift.learn.targets import defect_from_report
from bugsift.learn.tasks import TaskOptions, get_task
from bugsift.settings import Settings
from bugsift.sources import read_reports
from bugsift.sources.base import Report
from bugsift.store.db import open_database
from bugsift.store.models import ReportRow
from bugsift.store.reports import upsert_reports

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("BUGSIFT_SHARED_DATA", REPO.parent / "shared" / "data"))
CRITERIA = [  # (Wilson z, each answer too, name); a None z: the bot's, with its drift margin
    (None, True, "Wilson 95% + each answer + drift margin"),
    (WILSON_Z, True, "Wilson 95% + each answer"),
    (WILSON_Z, False, "Wilson 95% only"),
    (0.0, False, "held-out share"),
]
SCALE_CRITERIA = [CRITERIA[0], CRITERIA[-1]]  # the bot's, and the plain share for comparison


def load(fmt: str, path: Path) -> list[Report]:
    """Every dated report, oldest first (the component replay keeps those with a component)."""
    reports = [r for r in read_reports(fmt, path) if isinstance(r, Report)]
    for r in reports:
        # Never read at filing time; saves memory. The filing time stays: it tells a back-filled type.
        r.comments, r.raw = [], {k: r.raw[k] for k in ("creation_time",) if k in r.raw}
    return sorted((r for r in reports if r.created_at), key=lambda r: r.created_at)


def slices(reports: list[Report], count: int) -> list[tuple[list[Report], list[Report]]]:
    """(everything filed before, the slice) for each of ``count`` slices of each project's newest 20%."""
    by_project: dict[str, list[Report]] = {}
    for report in reports:  # oldest first
        by_project.setdefault(report.project, []).append(report)
    parts: list[tuple[list[Report], list[Report]]] = []
    for k in range(count):
        before: list[Report] = []
        now: list[Report] = []
        for members in by_project.values():
            start = int(len(members) * 0.8)
            bounds = np.linspace(start, len(members), count + 1).astype(int)
            before += members[: bounds[k]]
            now += members[bounds[k] : bounds[k + 1]]
        parts.append((before, now))
    return parts


def final_labels(report: Report) -> set[str]:
    """What people finally gave the report (not what it was filed with: Mozilla files most bugs in
    Untriaged or General, and the bot's move is judged against where triagers put them)."""
    names = report.components or ([report.component] if report.component else [])
    return {f"{report.product}{SEP}{name}" if report.product else name for name in names}


def untriaged(report: Report) -> Report:
    """The report as the bot finds it: no component yet (neither today's nor the filed one)."""
    filed = {**report.filed, "component": None} if report.filed else report.filed
    return dataclasses.replace(report, component=None, components=[], filed=filed)


def hidden_level(report: Report, task: str) -> Report:
    """The report as a severity or priority rule finds it: the field not set yet (today's and the filed)."""
    filed = {**report.filed, task: None} if report.filed else report.filed
    return dataclasses.replace(report, filed=filed, **{task: None})


def scale_candidate(report: Report, task: str) -> bool:
    """Whether the rule would find the field untouched: where history says what the reporter filed, only
    then (a reporter's own choice stays); without history (Jira's dump) every report, field hidden."""
    if report.filed is None:
        return True
    return is_untouched(task, report.tracker, report.filed.get(task))


def final_level(report: Report, task: str, scale: Scale) -> str | None:
    """The level people finally left on the model's scale; None where it is still "not set" (the default,
    '--'): an action there is a change no person made, so it counts as wrong."""
    return level_on(scale, getattr(report, task))


def unresolved(report: Report) -> Report:
    """The report as a defect rule finds it at filing: no verdict yet (the type the reporter filed stays)."""
    return dataclasses.replace(report, status=None, resolution=None, resolved_at=None, duplicate_of=None)


def untyped(report: Report) -> Report:
    """The report as a type rule finds it: no verdict and no type recorded yet."""
    filed = {**report.filed, "type": None} if report.filed else report.filed
    return dataclasses.replace(unresolved(report), type=None, filed=filed)


def kind_truth(task: str, report: Report) -> str | None:
    """The verdict a defect or type label is judged against: what the tracker says today."""
    if task == "defect":
        return defect_from_report(report)
    return report.type or None


def as_row(report: Report, row_id: int) -> ReportRow:
    return ReportRow(
        id=row_id,
        tracker=report.tracker,
        project=report.project,
        external_id=report.external_id,
        title=report.title,
        product=report.product,
        component=report.component,
        severity=report.severity,
        priority=report.priority,
        keywords=list(report.keywords or []),
    )


@dataclass(frozen=True)
class Replay:
    """What a rule is replayed on: which of a slice's reports it could act on, and how it finds them."""

    task: str
    candidate: Callable[[Report], bool]
    hide: Callable[[Report], Report]
    action: str = "set"


def component_replay() -> Replay:
    return Replay("component", lambda r: True, untriaged)


def scale_replay(task: str) -> Replay:
    return Replay(task, lambda r: scale_candidate(r, task), lambda r: hidden_level(r, task))


def kind_replay(task: str) -> Replay:
    hide = unresolved if task == "defect" else untyped
    return Replay(task, lambda r: kind_truth(task, r) is not None, hide, action="label")


def plan_slice(
    before: list[Report], now: list[Report], rules: list[tuple[Rule, float | None, bool]], replay: Replay
) -> list[Counter[str]]:
    """Train on ``before``, plan ``now``: per rule, counts of actions, right ones and trusted labels."""
    counts = [Counter[str]() for _ in rules]
    task = get_task(replay.task)
    now = [r for r in now if replay.candidate(r)]
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home), embeddings="off")
        database = open_database(settings)
        try:
            with database.session() as session:
                upsert_reports(session, before)
            mode = None if replay.task == "component" else "filing"  # as the planner asks
            try:
                task.train(database, settings, TaskOptions(mode=mode))
            except ValueError as error:  # no labelled report on a scale yet: the rule has no model
                for count in counts:
                    count["no model"] += 1
                print(f"  no {replay.task} model: {error}", flush=True)
                return counts
            predictor: Any = task.predictor(database, TaskOptions(mode=mode))
            model = getattr(predictor, "row", None) or predictor.loaded.row
            scale = BY_NAME.get(str(getattr(predictor, "scale", "")))
            hidden = [replay.hide(r) for r in now]
            answers = [
                a for i in range(0, len(hidden), 500) for a in predictor.predict(hidden[i : i + 500], 1)
            ]
            held_out = held_out_of(replay.task, model.path)
            assert held_out is not None, f"the {replay.task} evaluation kept no per-label answers"
            for (rule, z, local), count in zip(rules, counts, strict=True):
                margin = 0.0
                if z is None:
                    margin = drift_margin(held_out, rule.precision, rule.min_support)
                    count["margin"] += margin
                    target = min(MAX_TARGET, rule.precision + margin)
                    thresholds = label_thresholds(held_out, target, rule.min_support)
                else:
                    thresholds = label_thresholds(held_out, rule.precision, rule.min_support, z, local)
                aimed = min(MAX_TARGET, rule.precision + (margin if z is None else 0.0))
                answerer = Answerer(model, predictor.version_name, thresholds, aimed, scale and scale.name)
                count["trusted"] += sum(t.threshold is not None for t in thresholds.values())
                count["labels"] += len(thresholds)
                count["candidates"] += len(now)
                if replay.task in ("defect", "type"):  # how common each verdict is: a label's base rate
                    count.update(f"truth:{kind_truth(replay.task, r)}" for r in now)
                for n, (report, answer) in enumerate(zip(now, answers, strict=True)):
                    decision = decide(rule, as_row(hidden[n], n), answer, answerer, None)
                    if decision is None or decision.verdict != "act":
                        continue
                    count["acted"] += 1
                    if replay.task in ("defect", "type"):
                        right = decision.label == kind_truth(replay.task, report)
                        count["right"] += right
                        count[f"acted:{decision.label}"] += 1
                        count[f"right:{decision.label}"] += right
                        continue
                    if scale is None:
                        count["right"] += decision.label in final_labels(report)
                        continue
                    final = final_level(report, replay.task, scale)
                    count["left default"] += final is None  # people never set it: wrong by definition
                    level = normalise(decision.new_value or "")
                    count["right"] += final is not None and normalise(final) == level
        finally:
            database.dispose()
    return counts


def replay_dataset(
    name: str,
    reports: list[Report],
    precisions: list[float],
    count: int,
    min_support: int,
    replay: Replay,
    criteria: list[tuple[float | None, bool, str]],
) -> list[str]:
    rules = [
        (
            Rule(
                name=replay.task,
                tracker=reports[0].tracker,
                task=replay.task,
                action=replay.action,
                precision=p,
                apply=True,
                min_support=min_support,
            ),
            z,
            local,
        )
        for p in precisions
        for z, local, _ in criteria
    ]
    totals = [Counter[str]() for _ in rules]
    started = time.perf_counter()
    replayed = 0
    for before, now in slices(reports, count):
        replayed += len(now)
        for total, counted in zip(totals, plan_slice(before, now, rules, replay), strict=True):
            total.update(counted)
    seconds = time.perf_counter() - started
    rows = []
    for (rule, _, _), (_, _, judged), total in zip(rules, criteria * len(precisions), totals, strict=True):
        acted, right = total["acted"], total["right"]
        precision = right / acted if acted else None
        verdict = "no actions" if precision is None else ("met" if precision >= rule.precision else "NOT met")
        shown = "n/a" if precision is None else f"{precision:.3f}"
        # Of the actions on reports people did give a level: the held-out part's own population.
        given = acted - total["left default"]
        scale_task = replay.task in ("severity", "priority")
        among = f"{right / given:.3f} of {given}" if given and scale_task else "n/a"
        models = count - total["no model"]
        per_model = (
            f"{total['trusted'] / models:.1f} of {total['labels'] / models:.1f}" if models else "no model"
        )
        candidates = total["candidates"]  # the slices' reports the rule could act on, where a model was
        if replay.task in ("defect", "type"):  # per label: actions, their precision, and its base rate
            among = by_label(total)
        rows.append(
            f"| {name} | {replay.task} | {rule.precision:.2f} | {judged} | {replayed:,} / {candidates:,} "
            f"| {acted:,} ({acted / max(1, candidates):.1%}) | {shown} ({verdict}) | {among} "
            f"| {per_model} | {total['margin'] / max(1, models):.3f} | {seconds / count:.0f} s |"
        )
    return rows


def by_label(total: Counter[str]) -> str:
    """Each acted-on label's actions and precision beside the share of replayed reports it is right for:
    a label acted on everywhere at its base rate tells the triager nothing."""
    shown = []
    for key, acted in sorted(total.items()):
        if key.startswith("acted:") and acted:
            label = key.removeprefix("acted:")
            base = total[f"truth:{label}"] / max(1, total["candidates"])
            shown.append(f"{label} {acted:,} at {total[f'right:{label}'] / acted:.3f} (base rate {base:.3f})")
    return "; ".join(shown) or "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--precision", type=float, nargs="+", default=[0.9, 0.8])
    parser.add_argument("--slices", type=int, default=4)
    parser.add_argument("--min-support", type=int, default=10)
    parser.add_argument(
        "--only", nargs="+", help="Only datasets whose name contains one of these (e.g. HDFS Mozilla)."
    )
    parser.add_argument("--tasks", nargs="+", default=["component", "severity", "priority", "defect", "type"])
    args = parser.parse_args()
    jira = load("jira", args.data / "apache-jira" / "jira_issues.jsonl.xz")
    mozilla = load("bugzilla", args.data / "bugzilla-mozilla" / "bugs_full_add08f170.jsonl.xz")
    github = load("github", args.data / "github-issues" / "nlbse24_train.csv")
    # Jira has no severity field; Mozilla's component labels are Product::Component; the NLBSE issues
    # carry only a type (bug / feature / question), each repository a project of one GitHub store.
    datasets = [
        (f"Jira {p}", [r for r in jira if r.project == p], ("component", "priority", "defect"))
        for p in sorted({r.project for r in jira})
    ]
    datasets.append(("Mozilla", mozilla, ("component", "severity", "priority", "defect")))
    datasets.append(("NLBSE GitHub", github, ("type",)))
    print(
        "| dataset | task | rule precision | labels judged on | replayed / candidates | actions (share) "
        "| precision of actions | of those people gave a level (per label: defect, type) "
        "| labels trusted (mean per model) "
        "| drift margin | per training |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, reports, tasks in datasets:
        if args.only and not any(part in name for part in args.only):
            continue
        for task in (t for t in tasks if t in args.tasks):
            if task == "component":
                replay, criteria, replayed = (
                    component_replay(),
                    CRITERIA,
                    [r for r in reports if report_labels(r)[0]],
                )
            elif task in ("defect", "type"):
                replay, criteria = kind_replay(task), CRITERIA
                replayed = [r for r in reports if replay.candidate(r)]
            else:
                replay, criteria, replayed = scale_replay(task), SCALE_CRITERIA, reports
            rows = replay_dataset(
                name, replayed, args.precision, args.slices, args.min_support, replay, criteria
            )
            for row in rows:
                print(row, flush=True)


if __name__ == "__main__":
    main()
