"""The plain-language summary at the top of a report: what the model is good for, where it is weak, and
whether it meets the accuracy floor. Every function returns JSON-ready dicts of plain strings and numbers
(the HTML escapes them; `--json` can print them as they are)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

# classes in the sentences as a person reads them ("Not a defect"); `confused` keeps the raw values
from bugsift.web.names import value_words

ACCURACY_FLOOR = 0.75
"""The triage lead's floor: a model below this accuracy is not good enough to suggest on its own."""
GOOD_F1 = 0.75
CALIBRATED_ECE = 0.05
N_PAIRS = 3
N_EXAMPLES = 3


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _floor(name: str, score: float | None, floor: float, extra: str = "") -> dict[str, Any]:
    met = score is not None and score >= floor - 1e-12
    if score is None:
        text = f"No {name} could be measured, so the {floor:.0%} floor cannot be checked."
    elif met:
        text = f"Meets the {floor:.0%} accuracy floor: {name} {score:.1%}."
    else:
        text = f"Below the {floor:.0%} accuracy floor: {name} {score:.1%}."
    return {"floor": floor, "measure": name, "score": score, "met": met, "text": (text + " " + extra).strip()}


def _smallest_k(ks: Sequence[float], shares: Sequence[float], floor: float) -> int | None:
    for k, share in zip(ks, shares, strict=True):
        if share >= floor - 1e-12:
            return int(k)
    return None


# -- classification ------------------------------------------------------------------------------------------


def confused_pairs(
    metrics: Mapping[str, Any],
    predictions: Mapping[str, Any] | None,
    n_pairs: int = N_PAIRS,
    n_examples: int = N_EXAMPLES,
) -> list[dict[str, Any]]:
    """The most frequent (true, predicted) mistakes, each with its most confidently wrong test reports."""
    classes = list(metrics["classes"])
    cm = np.asarray(metrics["confusion_matrix"])
    pairs = [
        (int(cm[i, j]), i, j) for i in range(len(classes)) for j in range(len(classes)) if i != j and cm[i, j]
    ]
    pairs.sort(key=lambda t: (-t[0], t[1], t[2]))
    out = []
    proba = np.asarray(predictions.get("proba") or [], dtype=float) if predictions else np.zeros((0, 0))
    for count, i, j in pairs[:n_pairs]:
        examples = []
        if predictions and proba.size:
            pred_classes = list(predictions["classes"])
            y_true = np.asarray(predictions["y_true"])
            predicted = np.asarray(pred_classes)[proba.argmax(axis=1)]
            rows = np.flatnonzero((y_true == classes[i]) & (predicted == classes[j]))
            rows = rows[np.argsort(-proba[rows].max(axis=1), kind="stable")][:n_examples]
            examples = [
                {
                    "id": str(predictions["ids"][r]),
                    "title": str(predictions["titles"][r]),
                    "probability": round(float(proba[r].max()), 3),
                }
                for r in rows
            ]
        support = int(cm[i].sum())
        out.append(
            {
                "true": classes[i],
                "predicted": classes[j],
                "count": count,
                "share_of_true": count / support if support else None,
                "examples": examples,
            }
        )
    return out


def classification_summary(
    evaluation: Mapping[str, Any], previous: Mapping[str, Any] | None = None, floor: float = ACCURACY_FLOOR
) -> dict[str, Any]:
    m, base = evaluation["metrics"], evaluation.get("baseline") or {}
    data = evaluation.get("data") or {}
    dates = data.get("test_dates") or [None, None]
    when = f" filed {dates[0][:10]} to {dates[1][:10]}" if dates and dates[0] and dates[1] else ""
    headline = (
        f"On {m['n']} held-out reports{when}, the model gives the right {evaluation.get('label', 'class')} "
        f"for {_pct(m['accuracy'])} of them"
    )
    if base:
        headline += (
            f"; always answering '{value_words(base.get('majority_class'))}' would be right for "
            f"{_pct(base['accuracy'])}"
        )
    headline += "."
    good: list[str] = []
    weak: list[str] = []
    per_class = m.get("per_class") or {}
    ranked = sorted(
        ((c, v) for c, v in per_class.items() if v.get("f1") is not None), key=lambda cv: -cv[1]["f1"]
    )
    for c, v in ranked:
        if v["f1"] >= GOOD_F1:
            good.append(
                f"Recognises '{value_words(c)}' reports well: it finds {_pct(v['recall'])} of them, and "
                f"{_pct(v['precision'])} "
                f"of the reports it calls '{value_words(c)}' are (F1 {v['f1']:.2f})."
            )
    at = evaluation.get("at_threshold") or {}
    if at.get("precision") is not None:
        good.append(
            f"When it is confident (top probability at least {at['threshold']:.2f}, {_pct(at['coverage'])} "
            f"of "
            f"reports) it is right {_pct(at['precision'])} of the time; below that it says 'uncertain'."
        )
    if m.get("roc_auc") is not None and m["roc_auc"] >= 0.8:
        good.append(
            f"It ranks reports by class well (ROC AUC {m['roc_auc']:.2f}): useful for sorting a backlog."
        )
    macro = m.get("macro_f1")
    for c, v in reversed(ranked[-2:]):
        if v["f1"] < GOOD_F1 or (macro is not None and v["f1"] < macro - 0.1):
            weak.append(
                f"Weakest on '{value_words(c)}': it finds {_pct(v['recall'])} of these reports, and "
                f"{_pct(v['precision'])} of "
                f"its '{value_words(c)}' answers are right (F1 {v['f1']:.2f}, {v['support']} test reports)."
            )
    pairs = confused_pairs(m, evaluation.get("predictions"))
    for pair in pairs:
        true, predicted = value_words(pair["true"]), value_words(pair["predicted"])
        weak.append(
            f"'{true}' reports taken for '{predicted}': {pair['count']} "
            f"({_pct(pair['share_of_true'])} of the '{true}' test reports)."
        )
    ece = m.get("ece")
    predictions = evaluation.get("predictions") or {}
    if ece is not None:
        if ece <= CALIBRATED_ECE:
            good.append(f"Its probabilities can be read at face value (calibration error {ece:.3f}).")
        else:
            direction = ""
            if predictions.get("proba"):
                proba = np.asarray(predictions["proba"], dtype=float)
                stated = float(proba.max(axis=1).mean())
                direction = (
                    f" over-confident: it states {_pct(stated)} on average and is right {_pct(m['accuracy'])}"
                    if stated > m["accuracy"]
                    else f" under-confident: it states {_pct(stated)} on average and is right "
                    f"{_pct(m['accuracy'])}"
                )
            weak.append(f"Its probabilities are{direction or ' off'} (calibration error {ece:.3f}).")
    curve = evaluation.get("learning_curve") or []
    if len(curve) >= 2:
        gain = curve[-1]["accuracy"] - curve[-2]["accuracy"]
        if gain > 0.02:
            weak.append(
                f"More labelled reports should help: accuracy rose {gain:.1%} between "
                f"{curve[-2]['n_train']} and "
                f"{curve[-1]['n_train']} training reports."
            )
        else:
            good.append(
                f"Accuracy has levelled off with the training data there is ({curve[-1]['n_train']} "
                f"reports): more "
                "of the same labels will not change much."
            )
    extra = ""
    if m["accuracy"] < floor and at.get("precision") is not None and at["precision"] >= floor:
        extra = (
            f"Its confident answers alone ({_pct(at['coverage'])} of reports) are right "
            f"{_pct(at['precision'])}: "
            "use it only for those."
        )
    summary = {
        "headline": headline,
        "good": good,
        "weak": weak,
        "floor": _floor("accuracy", m["accuracy"], floor, extra),
        "confused": pairs,
    }
    prev = previous_metrics(previous, "classification")
    if prev and prev.get("accuracy") is not None:
        delta = m["accuracy"] - prev["accuracy"]
        summary["previous"] = (
            f"Against the previous model ({previous_name(previous)}): accuracy {delta:+.1%}"
            + (
                f", macro F1 {m['macro_f1'] - prev['macro_f1']:+.2f}"
                if prev.get("macro_f1") is not None and macro is not None
                else ""
            )
            + " (measured on its own test part at the time)."
        )
    return summary


# -- previous model version ---------------------------------------------------------------------------------


def previous_name(previous: Mapping[str, Any] | None) -> str:
    if not previous:
        return "previous"
    version = previous.get("version")
    return f"v{version}" if version is not None else "previous"


def previous_metrics(previous: Mapping[str, Any] | None, kind: str) -> dict[str, Any] | None:
    """The comparable numbers of a previous model: a registry row as a dict, or an earlier evaluation."""
    if not previous:
        return None
    metrics = previous.get("metrics") or {}
    if kind == "classification":
        inner = metrics.get("test", metrics)  # registry rows keep {"test", "baseline", "at_threshold"}
        return inner if isinstance(inner, Mapping) and "accuracy" in inner else None
    if kind == "component":
        mean = (metrics.get("mean") or previous.get("mean") or {}).get("model")
        return mean
    if kind == "files":
        projects = previous.get("projects") or metrics.get("projects")
        if projects is None and metrics:
            projects = [v for v in metrics.values() if isinstance(v, Mapping) and "model" in v]
        return {p["project"]: p["model"] for p in projects or [] if isinstance(p, Mapping) and "project" in p}
    return None


# -- ranking tasks


def ranking_summary(
    kind: str,
    groups: Mapping[str, Mapping[str, Any]],
    baseline_name: str,
    floor: float = ACCURACY_FLOOR,
    what: str = "component",
) -> dict[str, Any]:
    """Summary of a top-k task. ``groups``: name -> {"n", "top1", "baseline_top1", "curve": (ks, shares),
    plus optional "mrr", "map", "act": {coverage, precision}}; the first group named "all" (if any) is the
    overall line."""
    good: list[str] = []
    weak: list[str] = []
    names = list(groups)
    overall = groups.get("all") or (groups[names[0]] if len(names) == 1 else None)
    top1_values = [g["top1"] for g in groups.values() if g.get("top1") is not None]
    top1 = overall["top1"] if overall else (float(np.mean(top1_values)) if top1_values else None)
    scope = "" if overall else f" (mean over {len(groups)} {'projects' if kind != 'component' else 'scopes'})"
    headline = f"The first {what} it suggests is right for {_pct(top1)} of held-out reports{scope}"
    base_values = [g["baseline_top1"] for g in groups.values() if g.get("baseline_top1") is not None]
    if base_values:
        headline += f"; {baseline_name} gets {_pct(float(np.mean(base_values)))}"
    headline += "."
    ks_needed: dict[str, int | None] = {}
    for name, g in groups.items():
        ks, shares = g["curve"]
        ks_needed[name] = _smallest_k(ks, shares, floor)
        label = "" if name == "all" else f"{name}: "
        if ks_needed[name] is not None:
            good.append(
                f"{label}showing the top {ks_needed[name]} {what} candidates puts the right one in front of "
                f"the "
                f"triager for at least {floor:.0%} of reports."
            )
        else:
            weak.append(
                f"{label}even the top {int(ks[-1])} candidates hold the right {what} for only "
                f"{_pct(float(shares[-1]))} of reports."
            )
        act = g.get("act")
        if act and act.get("precision") is not None:
            good.append(
                f"{label}when confident enough to act (p ≥ {act['threshold']:.2f}, {_pct(act['coverage'])} "
                f"of "
                f"reports) it is right {_pct(act['precision'])} of the time."
            )
    if len(groups) > 1:
        ordered = sorted(groups.items(), key=lambda kv: kv[1].get("top1") or 0.0)
        worst, best = ordered[0], ordered[-1]
        weak.append(f"Weakest on {worst[0]}: top-1 {_pct(worst[1]['top1'])} ({worst[1]['n']} test reports).")
        good.append(f"Strongest on {best[0]}: top-1 {_pct(best[1]['top1'])} ({best[1]['n']} test reports).")
    k_overall = [k for k in ks_needed.values() if k is not None]
    extra = ""
    if top1 is not None and top1 < floor and k_overall:
        extra = f"Show {max(k_overall)} candidates to reach {floor:.0%} everywhere it can be reached."
    return {
        "headline": headline,
        "good": good,
        "weak": weak,
        "floor": _floor("top-1 accuracy", top1, floor, extra),
        "confused": [],
    }
