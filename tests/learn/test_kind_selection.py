"""Kind-model settings chosen on the training part's newest reports: plain TF-IDF + LR always competes,
the budget leaves out what would not fit, and the choice is what the test part and the final model use."""

from __future__ import annotations

import numpy as np
import pytest

from bugsift.learn.kind import selection as kind_selection
from bugsift.learn.kind.selection import CANDIDATES, PLAIN, candidate_order, choose
from bugsift.learn.targets import Dataset
from bugsift.learn.training import evaluate_dataset
from bugsift.sources.base import Report


def _dataset(reports: list[Report], label: str = "is_bug_derived") -> Dataset:
    return Dataset(
        task="defect", label_name=label, reports=reports, labels=[r.labels[label] for r in reports]
    )


def test_the_size_picks_which_candidate_goes_first_and_plain_always_competes() -> None:
    assert candidate_order(800) == ["small-store settings", PLAIN, "large-store settings"]
    assert candidate_order(20_000) == ["large-store settings", PLAIN, "small-store settings"]
    assert set(candidate_order(10)) == set(CANDIDATES)


@pytest.mark.slow
def test_every_candidate_is_scored_on_the_training_part_and_the_test_part_is_never_read(
    mozilla: list[Report],
) -> None:
    dataset = _dataset(mozilla[:500])
    evaluation = evaluate_dataset(dataset, "filing", "time", 0.2)
    selection = evaluation.selection
    names = [c["name"] for c in selection["candidates"]]
    assert names == candidate_order(400) and selection["metric"] == "roc_auc"
    assert all(0.5 < c["score"] <= 1.0 and c["seconds"] > 0 for c in selection["candidates"])
    chosen = next(c for c in selection["candidates"] if c["name"] == selection["chosen"])
    best = max(c["score"] for c in selection["candidates"])
    first = selection["candidates"][0]
    # the size's pick keeps its place unless another candidate leads it by the margin
    if chosen is first:
        assert best - first["score"] <= kind_selection.SWITCH_MARGIN
    else:
        assert chosen["score"] == best > first["score"] + kind_selection.SWITCH_MARGIN
    assert selection["params"] == CANDIDATES[selection["chosen"]]
    # validation rows come from the training part: all filed before the test part
    assert selection["validation"]["validation_dates"][1] <= evaluation.data["test_dates"][0]
    assert selection["validation"]["n_fit"] + selection["validation"]["n_validation"] == 400


@pytest.mark.slow
def test_given_settings_skip_the_choice(mozilla: list[Report]) -> None:
    evaluation = evaluate_dataset(_dataset(mozilla[:300]), settings=CANDIDATES[PLAIN])
    assert evaluation.selection == {"chosen": "given", "params": CANDIDATES[PLAIN]}


def test_the_budget_leaves_out_what_would_not_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter(range(0, 1000, 10))  # every perf_counter() call: 10 more seconds
    monkeypatch.setattr(kind_selection.time, "perf_counter", lambda: float(next(clock)))

    class Model:
        classes_ = np.array(["defect", "not_defect"], dtype=object)

    y = ["defect", "not_defect"] * 10
    proba = np.tile([0.6, 0.4], (20, 1))
    selection, _ = choose(lambda params: (Model(), proba), y, ["defect", "not_defect"], "defect", 800, 100.0)
    tried = {c.name: c for c in selection.candidates}
    # half of the 100 s budget may go to choosing; the first fit "took" 10 s at a relative cost of 2 (5 s a
    # unit): plain starts at 40 s (+1.5 s: fits in 50), the large-store settings at 70 s (+5 s: do not)
    assert tried["small-store settings"].score is not None and tried[PLAIN].score is not None
    assert tried["large-store settings"].score is None and "budget" in tried["large-store settings"].skipped
    assert selection.chosen == "small-store settings"  # a tie keeps the size's pick


def test_a_label_the_older_part_never_saw_does_not_stop_training(mozilla: list[Report]) -> None:
    # a young label: only the newest reports of the training part and the test part carry it
    reports = mozilla[:250]
    labels = [r.labels["is_bug_derived"] for r in reports]
    for i in range(170, 250, 4):
        labels[i] = "task"
    dataset = Dataset(task="type", label_name="young", reports=reports, labels=labels)
    evaluation = evaluate_dataset(dataset, "filing", "time", 0.2)
    assert evaluation.threshold["threshold"] > 0 and "task" in evaluation.metrics["per_class"]
