"""Per-label thresholds for a rule's precision, from the model's own held-out predictions.

A model's evaluation (kept beside its file, `learn.tasks.evaluation_path`) holds, for each report of the
time-ordered test part, the label the model answered, its confidence and whether it was right. For each
label, the threshold is the lowest confidence at which the answers of that label, from the most
confident down, are still right at the rule's precision, over at least ``min_support`` answers. A label
that never gets there has no threshold: the bot never acts on it, it only suggests it in the digest.

"Still right at the rule's precision" is judged on the lower end of a one-sided 95% Wilson interval of
that precision, not on the held-out share itself: the share of the lowest passing cut is the luckiest
of many cuts tried on a few dozen answers, and newer reports drift (bench/bot_replay.py measured both).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.isotonic import IsotonicRegression

from bugsift.learn.tasks import evaluation_path

WILSON_Z = 1.645  # one-sided 95%: the precision a label's threshold keeps is at least this sure
DRIFT_MIN_ACTIONS = 30  # newer-half actions below this measure noise more than drift
MAX_TARGET = 0.99  # a target raised by the drift margin stays reachable
LOCAL = True  # each admitted answer must reach the target too (bench/bot_replay.py: fewer misses)


@dataclass(frozen=True)
class LabelThreshold:
    label: str
    threshold: float | None
    """Act at or above this confidence; None: never act on this label."""
    precision: float | None
    """Held-out precision of the answers at or above the threshold (of all answers when None)."""
    support: int
    """Held-out answers at or above the threshold (all answers of the label when None)."""
    lower: float | None = None
    """The lower end of the precision's one-sided 95% interval at the threshold (the best one when None)."""
    base_rate: float | None = None
    """Share of all held-out reports this label is right for (None where the evaluation did not keep
    it). Writing it on every report would be right this often."""

    def says_little(self, target: float) -> bool:
        """Whether writing this label on every report would meet ``target`` too: a rule acting on it
        meets its precision without telling people anything they could not assume."""
        return self.base_rate is not None and self.base_rate >= target

    def why_not(self, target: float, min_support: int) -> str:
        if self.support < min_support:
            return f"{self.support} held-out answers of {self.label!r}, fewer than the {min_support} needed"
        shown = "n/a" if self.lower is None else f"{self.lower:.2f}"
        return (
            f"held-out precision of {self.label!r} is surely above {shown} at best, "
            f"not the rule's {target:.2f}"
        )


@dataclass(frozen=True)
class HeldOut:
    """The test part's answers: per report the label answered, its confidence, whether it was right."""

    predicted: list[str]
    confidence: list[float]
    correct: list[bool]
    created_at: list[str | None] | None = None
    """Filing times (ISO 8601), where the evaluation kept them: the drift check splits by time."""
    base_rates: dict[str, float] | None = None
    """Per label, the share of the held-out reports it is right for, where the evaluation kept the right
    answers (a model trained before 0.16 kept none for component)."""
    untouched_counted: bool = True
    """Severity and priority: whether the answers include the reports a bot acts on, those filed with
    the field untouched, scored against what people finally set (`scale.task.bot_population`). A model
    trained before 0.11 kept only the reporters' own levels, where its precision does not hold."""


def label_thresholds(
    held_out: HeldOut, target: float, min_support: int, z: float = WILSON_Z, local: bool = LOCAL
) -> dict[str, LabelThreshold]:
    by_label: dict[str, list[tuple[float, bool]]] = defaultdict(list)
    for label, confidence, right in zip(
        held_out.predicted, held_out.confidence, held_out.correct, strict=True
    ):
        by_label[label].append((float(confidence), bool(right)))
    base = held_out.base_rates
    return {
        label: replace(
            _threshold(label, answers, target, min_support, z, local),
            base_rate=None if base is None else base.get(label, 0.0),
        )
        for label, answers in by_label.items()
    }


def wilson_lower(right: np.ndarray, count: np.ndarray, z: float) -> np.ndarray:
    """Lower end of the Wilson score interval of right / count (0 where count is 0)."""
    share = right / np.maximum(count, 1)
    centre = share + z * z / (2 * count)
    spread = z * np.sqrt(share * (1 - share) / count + z * z / (4 * count * count))
    return np.where(count > 0, (centre - spread) / (1 + z * z / count), 0.0)


def _threshold(
    label: str, answers: list[tuple[float, bool]], target: float, min_support: int, z: float, local: bool
) -> LabelThreshold:
    answers.sort(key=lambda a: -a[0])
    confidence = np.array([a[0] for a in answers])
    right = np.cumsum([a[1] for a in answers])
    count = np.arange(1, len(answers) + 1)
    precision = right / count
    lower = wilson_lower(right.astype(float), count.astype(float), z)
    # Only cut between distinct confidences: a threshold keeps every answer at its value.
    cuts = [i for i in range(len(answers)) if i + 1 == len(answers) or confidence[i + 1] < confidence[i]]
    good = [i for i in cuts if count[i] >= min_support and lower[i] >= target]
    if local and good:
        # Also each admitted answer on its own: its chance of being right (isotonic in the confidence)
        # reaches the target, not just the average with the surer ones.
        chance = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(
            confidence, [float(a[1]) for a in answers]
        )
        own = chance.predict(confidence)
        good = [i for i in good if own[i] >= target]
    if good:
        i = max(good)
        kept = float(precision[i])
        return LabelThreshold(label, float(confidence[i]), kept, int(count[i]), float(lower[i]))
    best = max((float(lower[i]) for i in cuts if count[i] >= min_support), default=None)
    return LabelThreshold(label, None, None, len(answers), best)


def drift_margin(held_out: HeldOut, target: float, min_support: int, z: float = WILSON_Z) -> float:
    """How much precision the thresholds lose from one period to the next, on the user's own data:
    thresholds chosen on the older half of the held-out answers, scored on the newer half. The rule's
    target is raised by this much (0 when the newer half keeps it, or has too few actions to tell)."""
    if not held_out.created_at or len(held_out.predicted) < 4 * min_support:
        return 0.0
    order = sorted(range(len(held_out.predicted)), key=lambda i: held_out.created_at[i] or "")  # type: ignore[index]
    half = len(order) // 2

    def part(indices: list[int]) -> HeldOut:
        return HeldOut(
            [held_out.predicted[i] for i in indices],
            [held_out.confidence[i] for i in indices],
            [held_out.correct[i] for i in indices],
        )

    older, newer = part(order[:half]), part(order[half:])
    chosen = label_thresholds(older, target, min_support, z)
    acted = [
        right
        for label, confidence, right in zip(newer.predicted, newer.confidence, newer.correct, strict=True)
        if (t := chosen.get(label)) is not None and t.threshold is not None and confidence >= t.threshold
    ]
    if len(acted) < max(DRIFT_MIN_ACTIONS, min_support):
        return 0.0  # too few to tell drift from noise: a small store would lose every label
    return max(0.0, target - sum(acted) / len(acted))


def held_out_of(task: str, model_path: str | Path, untouched: bool = True) -> HeldOut | None:
    """The held-out answers kept beside a model file; None when the evaluation holds none (a model trained
    before the evaluation kept them: retrain it). Severity and priority: ``untouched`` the answers on the
    reports a bot acts on (where the model kept them), else those on reports people gave a level."""
    path = evaluation_path(model_path)
    if not path.is_file():
        return None
    evaluation = json.loads(path.read_text(encoding="utf-8"))
    if task == "component":
        return _component_answers(evaluation)
    # the scale and the label:/field: tasks evaluate as the kind ones; a scale rule acts only on
    # untouched reports, so its answers are those (`scale.task.bot_population`)
    if task in ("severity", "priority"):
        population = (evaluation.get("predictions") or {}).get("bot")
        if population is None or not untouched:
            answers = _kind_answers(evaluation)
            return None if answers is None else replace(answers, untouched_counted=False)
        classes = (evaluation.get("predictions") or {}).get("classes") or []
        return _kind_answers({"predictions": {**population, "classes": classes}}) or HeldOut([], [], [])
    if task in ("type", "defect") or task.startswith(("label:", "field:")):
        return _kind_answers(evaluation)
    return None


def _component_answers(evaluation: dict[str, Any]) -> HeldOut | None:
    scopes = [scope.get("per_report") or {} for scope in (evaluation.get("scopes") or {}).values()]
    if not scopes or any("predicted" not in rows for rows in scopes):
        return None
    predicted = [label for rows in scopes for label in rows["predicted"]]
    if not predicted:
        return None
    rates = None  # an evaluation written before 0.16 kept no label shares
    if all("label_share" in rows for rows in scopes):
        right_for: Counter[str] = Counter()  # per label, the held-out reports it is right for
        for rows in scopes:
            right_for.update({k: share * len(rows["predicted"]) for k, share in rows["label_share"].items()})
        rates = {label: n / len(predicted) for label, n in right_for.items()}
    return HeldOut(
        predicted,
        [c for rows in scopes for c in rows["confidence"]],
        [c for rows in scopes for c in rows["correct"]],
        [c for rows in scopes for c in rows.get("created_at") or [None] * len(rows["predicted"])],
        rates,
    )


def _kind_answers(evaluation: dict[str, Any]) -> HeldOut | None:
    predictions = evaluation.get("predictions") or {}
    classes: Sequence[str] = predictions.get("classes") or []
    proba = np.asarray(predictions.get("proba") or [], dtype=float)
    if not len(classes) or proba.size == 0:
        return None
    best = proba.argmax(axis=1)
    predicted = [str(classes[j]) for j in best]
    truth = predictions.get("y_true") or []
    created = predictions.get("created_at")
    right = [p == t for p, t in zip(predicted, truth, strict=True)]
    rates = {str(label): n / len(truth) for label, n in Counter(truth).items()} if truth else None
    return HeldOut(predicted, proba.max(axis=1).tolist(), right, created, rates)
