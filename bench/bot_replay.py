"""Replay the newest reports of the shared data through the triage bot in plan mode, and score what it
would have done against what people really did (prints a table; not a timed test).

    nice -n 10 .venv/bin/python bench/bot_replay.py [--data ../shared/data] [--precision 0.9 0.8] [--slices 4]

Per dataset, time-ordered: the newest 20% of each project is replayed in ``--slices`` slices, oldest
first. Before each slice, a fresh store holds every report filed before it and a component model is
trained on them as `bugsift train component` does (as a worker retraining on a schedule would); its own
held-out part (the newest 20% of what it was trained on) gives the per-label thresholds. The slice is
then planned as untriaged reports (component hidden) under a `set component` rule per precision
target. An action is right when the component it sets is one people finally gave the report. The bot judges a
label on the lower end of a 95% Wilson interval and on each admitted answer's own chance (isotonic);
the plain held-out share is shown for comparison.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from bugsift.bot.planner import Answerer, decide
from bugsift.bot.rules import Rule
from bugsift.bot.thresholds import MAX_TARGET, WILSON_Z, drift_margin, held_out_of, label_thresholds
from bugsift.learn.component import SEP, report_labels
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


def load(fmt: str, path: Path) -> list[Report]:
    reports = [r for r in read_reports(fmt, path) if isinstance(r, Report)]
    for r in reports:
        r.comments, r.raw = [], {}  # never read at filing time; saves memory
    return sorted((r for r in reports if report_labels(r)[0] and r.created_at), key=lambda r: r.created_at)


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


def as_row(report: Report, row_id: int) -> ReportRow:
    return ReportRow(
        id=row_id,
        tracker=report.tracker,
        project=report.project,
        external_id=report.external_id,
        title=report.title,
        product=report.product,
        component=None,
        keywords=list(report.keywords or []),
    )


def plan_slice(
    before: list[Report], now: list[Report], rules: list[tuple[Rule, float, bool]]
) -> list[Counter[str]]:
    """Train on ``before``, plan ``now``: per rule, counts of actions, right ones and trusted labels."""
    counts = [Counter[str]() for _ in rules]
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home), embeddings="off")
        database = open_database(settings)
        try:
            with database.session() as session:
                upsert_reports(session, before)
            get_task("component").train(database, settings, TaskOptions())
            predictor = get_task("component").predictor(database, TaskOptions())
            hidden = [untriaged(r) for r in now]
            answers = [
                a for i in range(0, len(hidden), 500) for a in predictor.predict(hidden[i : i + 500], 1)
            ]
            held_out = held_out_of("component", predictor.row.path)
            assert held_out is not None, "the component evaluation kept no per-label answers"
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
                answerer = Answerer(predictor.row, predictor.version_name, thresholds, aimed)
                count["trusted"] += sum(t.threshold is not None for t in thresholds.values())
                count["labels"] += len(thresholds)
                for n, (report, answer) in enumerate(zip(now, answers, strict=True)):
                    decision = decide(rule, as_row(hidden[n], n), answer, answerer, None)
                    if decision is not None and decision.verdict == "act":
                        count["acted"] += 1
                        count["right"] += decision.label in final_labels(report)
        finally:
            database.dispose()
    return counts


def replay_dataset(
    name: str, reports: list[Report], precisions: list[float], count: int, min_support: int
) -> list[str]:
    rules = [
        (
            Rule(
                name="component",
                tracker=reports[0].tracker,
                task="component",
                action="set",
                precision=p,
                apply=True,
                min_support=min_support,
            ),
            z,
            local,
        )
        for p in precisions
        for z, local, _ in CRITERIA
    ]
    totals = [Counter[str]() for _ in rules]
    started = time.perf_counter()
    replayed = 0
    for before, now in slices(reports, count):
        replayed += len(now)
        for total, counted in zip(totals, plan_slice(before, now, rules), strict=True):
            total.update(counted)
    seconds = time.perf_counter() - started
    rows = []
    for (rule, _, _), (_, _, judged), total in zip(rules, CRITERIA * len(precisions), totals, strict=True):
        acted, right = total["acted"], total["right"]
        precision = right / acted if acted else None
        verdict = "no actions" if precision is None else ("met" if precision >= rule.precision else "NOT met")
        shown = "n/a" if precision is None else f"{precision:.3f}"
        rows.append(
            f"| {name} | {rule.precision:.2f} | {judged} | {replayed:,} | {acted:,} ({acted / replayed:.1%}) "
            f"| {shown} ({verdict}) | {total['trusted'] / count:.1f} of {total['labels'] / count:.1f} "
            f"| {total['margin'] / count:.3f} | {seconds / count:.0f} s |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--precision", type=float, nargs="+", default=[0.9, 0.8])
    parser.add_argument("--slices", type=int, default=4)
    parser.add_argument("--min-support", type=int, default=10)
    parser.add_argument("--only", help="Only datasets whose name contains this (e.g. HDFS, Mozilla).")
    args = parser.parse_args()
    jira = load("jira", args.data / "apache-jira" / "jira_issues.jsonl.xz")
    mozilla = load("bugzilla", args.data / "bugzilla-mozilla" / "bugs_full_add08f170.jsonl.xz")
    datasets = [(f"Jira {p}", [r for r in jira if r.project == p]) for p in sorted({r.project for r in jira})]
    datasets.append(("Mozilla (Product::Component)", mozilla))
    print(
        "| dataset | rule precision | labels judged on | replayed | actions (share) | precision of actions "
        "| labels trusted (mean per model) | drift margin | per training |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, reports in datasets:
        if args.only and args.only not in name:
            continue
        for row in replay_dataset(name, reports, args.precision, args.slices, args.min_support):
            print(row, flush=True)


if __name__ == "__main__":
    main()
