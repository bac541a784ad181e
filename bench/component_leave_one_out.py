"""Leave one project out for component prediction: the settings and folding support chosen on the other
projects, or on the project's own validation carve, or not chosen at all (plain TF-IDF + LR), each scored
on the project's newest 20% (issue 15 part 5: a proxy for a tracker nobody tuned on).

    nice -n 15 .venv/bin/python bench/component_leave_one_out.py [--only jira,mozilla]

(``--data DIR`` for data elsewhere than ../shared/data; about 3 minutes on 2 shared cores, 2026-12-04.)

Each of the five Apache Jira projects alone, split as `bench/component_accuracy.py` and `evaluate_scope`
split it (test = its newest 20% by filing time). For every combination of a settings candidate
(`component.task.CANDIDATES`) and a folding support (`component.task.SUPPORT_CHOICES`):
- validation: fitted on the older 80% of the training part, scored on its newest 20% (the carve of
  `fit_calibrated`) by the mean of answer top-1 and top-3, as `train component` scores it:
  `choose_settings` itself runs these fits (its own pick is today's rule), the combinations it does not
  fit are scored here with the same `_answer_score`;
- test: fitted on the whole training part, scored on the test part as answered (`score`'s answer top-1
  and top-3: buckets never answer, only a report's own component counts).
Then three picks per project P, scored on P's test part: (1) the combination with the best mean
validation score over the other four projects (P never seen); (2) what `choose_settings` and
`choose_support` pick on P's own validation; (3) plain TF-IDF + LR (`component_accuracy.plain_answers`).
The Mozilla sample (one scope, Product::Component) has no other projects: only (2) vs (3).
Prints markdown tables: the picks' test scores, every combination's test scores, the validation scores.
Caches nothing; 12 ComponentModel fits and one LR fit per scope.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from component_accuracy import DEFAULT_DATA, load, plain_answers

from bugsift.evaluate.splits import calibration_split, time_split
from bugsift.learn.component.model import ComponentModel
from bugsift.learn.component.task import (
    CANDIDATES,
    SUPPORT_CHOICES,
    _answer_score,
    choose_settings,
    collect,
    score,
)
from bugsift.sources.base import Report

SETS = {
    "jira": ("jira", "apache-jira/jira_issues.jsonl.xz"),
    "mozilla": ("bugzilla", "bugzilla-mozilla/bugs_full_add08f170.jsonl.xz"),
}
SHORT = {"tuned settings": "tuned", "plain TF-IDF": "plain SVM"}
PICKS = ("(1) chosen on the other four", "(2) chosen on its own validation", "(3) plain TF-IDF + LR")
Combo = tuple[str, int]  # (settings candidate, min_support)
COMBOS: list[Combo] = [(c, s) for c in CANDIDATES for s in SUPPORT_CHOICES]


@dataclass
class Scope:
    name: str
    n_train: int
    n_test: int
    validation: dict[Combo, float]  # mean of answer top-1 and top-3 on the carve (4 decimals, as recorded)
    own_choice: Combo
    test: dict[Combo, tuple[float, float]]  # answer top-1, top-3 on the test part
    plain: tuple[float, float]
    seconds: float


def name_of(combo: Combo) -> str:
    return f"{SHORT.get(combo[0], combo[0])}, {combo[1]}"


def _model(combo: Combo) -> ComponentModel:
    return ComponentModel(**{**CANDIDATES[combo[0]], "min_support": combo[1]})


def score_scope(name: str, reports: list[Report], labels: list[list[str]]) -> Scope:
    """Validation and test scores of every combination on one scope, and its own choice."""
    start = time.perf_counter()
    # The same parts, in the same order, as `evaluate_scope` and `fit_calibrated` build them.
    train_idx, test_idx = time_split([r.created_at for r in reports], 0.2)
    train_r, train_y = [reports[i] for i in train_idx], [list(labels[i]) for i in train_idx]
    test_r, test_y = [reports[i] for i in test_idx], [list(labels[i]) for i in test_idx]
    fit_idx, cal_idx = calibration_split([r.created_at for r in train_r], np.arange(len(train_r)), 0.2)
    fit_r, fit_y = [train_r[i] for i in fit_idx], [train_y[i] for i in fit_idx]
    cal_r, cal_y = [train_r[i] for i in cal_idx], [train_y[i] for i in cal_idx]

    _, chosen, selection = choose_settings(fit_r, fit_y, cal_r, cal_y, {})
    own = (selection["chosen"], int(chosen["min_support"]))
    validation: dict[Combo, float] = {}
    default_support = ComponentModel().min_support  # what `choose_settings` fits the candidates with
    if default_support in SUPPORT_CHOICES:
        for row in selection["candidates"]:
            validation[(row["name"], default_support)] = float(row["score"])
    for support, row in zip(SUPPORT_CHOICES, selection["folding"]["candidates"], strict=True):
        validation[(selection["chosen"], support)] = float(row["score"])
    for combo in COMBOS:  # the rest, scored the same way (rounded as the library records its scores)
        if combo not in validation:
            validation[combo] = round(_answer_score(_model(combo).fit(fit_r, fit_y), cal_r, cal_y), 4)

    test: dict[Combo, tuple[float, float]] = {}
    for combo in COMBOS:
        # The default temperature: calibrating it rescales each row and leaves the ranking as it is.
        model = _model(combo).fit(train_r, train_y)
        metrics = score(model, model.predict_proba(test_r), test_y)
        test[combo] = (float(metrics["answer_top1"]), float(metrics["answer_top3"]))
    plain = plain_answers(reports, labels)
    return Scope(name, len(train_r), len(test_r), validation, own, test, plain, time.perf_counter() - start)


def by_others(others: list[Scope]) -> Combo:
    """The combination with the best mean validation score over ``others`` (first in order on a tie)."""
    return max(COMBOS, key=lambda c: float(np.mean([o.validation[c] for o in others])))


def _pair(values: tuple[float, float]) -> str:
    return f"{values[0]:.3f} / {values[1]:.3f}"


def _mean(pairs: list[tuple[float, float]]) -> tuple[float, float]:
    return float(np.mean([p[0] for p in pairs])), float(np.mean([p[1] for p in pairs]))


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def print_picks(title: str, scopes: list[Scope], leave_one_out: bool) -> None:
    """The picks' test answer top-1 / top-3 per scope (the pick in brackets), then their means."""
    picks = PICKS if leave_one_out else PICKS[1:]
    print(f"\n{title}: test answer top-1 / top-3 on each scope's newest 20% (the pick in brackets)\n")
    print(_row(["scope", "train / test", *picks, "s"]))
    print(_row(["---", "---:", *["---"] * len(picks), "---:"]))
    sums: dict[str, list[tuple[float, float]]] = {p: [] for p in picks}
    for scope in scopes:
        chosen = [scope.own_choice]
        if leave_one_out:
            chosen.insert(0, by_others([o for o in scopes if o is not scope]))
        cells = [scope.name, f"{scope.n_train:,} / {scope.n_test:,}"]
        for pick, combo in zip(picks, chosen, strict=False):
            cells.append(f"{_pair(scope.test[combo])} ({name_of(combo)})")
            sums[pick].append(scope.test[combo])
        cells.append(_pair(scope.plain))
        sums[picks[-1]].append(scope.plain)
        print(_row([*cells, f"{scope.seconds:.0f}"]))
    if len(scopes) > 1:
        print(_row(["**mean**", "", *(f"**{_pair(_mean(sums[p]))}**" for p in picks), ""]))


def print_combos(title: str, scopes: list[Scope]) -> None:
    """Every combination's test scores (hindsight: no pick may see them) and validation scores."""
    print(f"\n{title}: test answer top-1 / top-3 of every combination (settings, min_support)\n")
    print(_row(["scope", *map(name_of, COMBOS)]))
    print(_row(["---", *["---"] * len(COMBOS)]))
    for scope in scopes:
        print(_row([scope.name, *(_pair(scope.test[c]) for c in COMBOS)]))
    if len(scopes) > 1:
        means = [f"**{_pair(_mean([s.test[c] for s in scopes]))}**" for c in COMBOS]
        print(_row(["**mean**", *means]))
    print(
        f"\n{title}: validation, mean of answer top-1 and top-3 (older 80% of the training part fitted, "
        "newest 20% scored)\n"
    )
    extra = ["own choice", "chosen on the others"] if len(scopes) > 1 else ["own choice"]
    print(_row(["scope", *map(name_of, COMBOS), *extra]))
    print(_row(["---", *["---:"] * len(COMBOS), *["---"] * len(extra)]))
    for scope in scopes:
        cells = [scope.name, *(f"{scope.validation[c]:.4f}" for c in COMBOS), name_of(scope.own_choice)]
        if len(scopes) > 1:
            cells.append(name_of(by_others([o for o in scopes if o is not scope])))
        print(_row(cells))
    print("", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--only", default="jira,mozilla")
    args = parser.parse_args()
    began = time.perf_counter()
    for group in args.only.split(","):
        if group not in SETS:
            parser.error(f"unknown set {group!r}; choose from {', '.join(SETS)}")
        fmt, path = SETS[group]
        scopes = []
        for key, (reports, labels) in sorted(collect(load(fmt, args.data / path)).scopes.items()):
            name = key.split("/", 1)[1] if "/" in key else "Mozilla sample"
            scopes.append(score_scope(name, reports, labels))
            s = scopes[-1]
            print(
                f"  {name}: {s.seconds:.0f} s, own choice {name_of(s.own_choice)}",
                file=sys.stderr,
                flush=True,
            )
        if group == "jira":
            title = "Apache Jira projects"
            print_picks(title, scopes, leave_one_out=True)
        else:
            title = "Mozilla sample"
            print(f"\n{title}: one scope, no other project to choose on, so (2) vs (3) only")
            print_picks(title, scopes, leave_one_out=False)
        print_combos(title, scopes)
    print(f"total {time.perf_counter() - began:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
