"""From an evaluation dict to the report's content: summary, tables and (lazily drawn) figures per kind.

A report is a list of sections; a section holds notes (plain text), tables (pre-formatted cells) and
figures. Figures are callables returning PNG bytes, so the numbers (`report_data`) never draw anything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np

from bugsift.evaluate.metrics import aligned_proba
from bugsift.report import curves, summary
from bugsift.report.summary import ACCURACY_FLOOR, previous_metrics, previous_name
from bugsift.web.names import value_words

KINDS = ("classification", "component", "files", "duplicates", "regression")
TOPK_MAX = 10
FILES_TOPK_MAX = 20
DUPLICATES_TOPK_MAX = 10


@dataclass
class Figure:
    id: str
    title: str
    caption: str
    draw: Callable[[], bytes]


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    caption: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"caption": self.caption, "header": self.header, "rows": self.rows}


@dataclass
class Section:
    id: str
    title: str
    notes: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)


@dataclass
class ReportContent:
    kind: str
    task: str
    title: str
    subtitle: str
    summary: dict[str, Any]
    sections: list[Section]

    def figure_ids(self) -> list[str]:
        return [f.id for s in self.sections for f in s.figures]

    def as_dict(self) -> dict[str, Any]:
        """The report's numbers and words, JSON-ready (no figures)."""
        return {
            "kind": self.kind,
            "task": self.task,
            "title": self.title,
            "subtitle": self.subtitle,
            "summary": self.summary,
            "sections": [
                {
                    "id": s.id,
                    "title": s.title,
                    "notes": s.notes,
                    "tables": [t.as_dict() for t in s.tables],
                    "figures": [{"id": f.id, "title": f.title} for f in s.figures],
                }
                for s in self.sections
            ],
        }


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        return f"{float(value):.{digits}f}"
    return str(value)


def _day(value: str | None) -> str:
    return value[:10] if value else "?"


def _span(dates: Sequence[str | None] | None) -> str:
    if not dates or not dates[0]:
        return "–"
    return f"{_day(dates[0])} to {_day(dates[1])}"


def detect_kind(evaluation: Mapping[str, Any], task: str) -> str:
    """The report kind of an evaluation, from its shape (the task name breaks ties)."""
    if task == "duplicates" or "rows" in evaluation or "recall_rates" in evaluation:
        return "duplicates"
    if "scopes" in evaluation:
        return "component"
    if "projects" in evaluation and isinstance(evaluation["projects"], list):
        return "files"
    if "metrics" in evaluation and "confusion_matrix" in (evaluation.get("metrics") or {}):
        return "classification"
    if "regression" in evaluation:
        return "regression"
    raise ValueError(
        f"cannot tell what kind of evaluation this is (task {task!r}; keys {sorted(evaluation)})"
    )


def build(
    evaluation: Mapping[str, Any],
    task: str,
    previous: Mapping[str, Any] | None = None,
    floor: float = ACCURACY_FLOOR,
) -> ReportContent:
    kind = detect_kind(evaluation, task)
    builder = {
        "classification": _classification,
        "component": _component,
        "files": _files,
        "duplicates": _duplicates,
        "regression": _regression_only,
    }[kind]
    content = builder(evaluation, task, previous, floor)
    if kind != "regression" and evaluation.get("regression"):
        content.sections.append(_regression_section(evaluation["regression"]))
    return content


# -- data over time


def class_timeline(
    created_at: Sequence[datetime | str | None], labels: Sequence[str], unit: str | None = None
) -> dict[str, Any]:
    """Reports per class per period, for the data figure: {"unit", "periods", "starts", "counts"}.

    ``unit`` is year, quarter or month; by default the finest that gives at most about 60 periods.
    `bugsift.learn.training` can store this as ``data["timeline"]`` for the whole labelled data.
    """
    when = [
        (d if isinstance(d, datetime) else datetime.fromisoformat(d)).date() if d else None
        for d in created_at
    ]
    dated = [(d, label) for d, label in zip(when, labels, strict=True) if d is not None]
    if not dated:
        return {}
    first, last = min(d for d, _ in dated), max(d for d, _ in dated)
    months = (last.year - first.year) * 12 + last.month - first.month + 1
    if unit is None:
        unit = "month" if months <= 60 else "quarter" if months <= 180 else "year"

    def start(d: date) -> date:
        if unit == "year":
            return date(d.year, 1, 1)
        if unit == "quarter":
            return date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)
        return date(d.year, d.month, 1)

    def name(d: date) -> str:
        if unit == "year":
            return str(d.year)
        if unit == "quarter":
            return f"{d.year}-Q{(d.month - 1) // 3 + 1}"
        return f"{d.year}-{d.month:02d}"

    starts = []
    d = start(first)
    step = {"year": 12, "quarter": 3, "month": 1}[unit]
    while d <= last:
        starts.append(d)
        m = d.month - 1 + step
        d = date(d.year + m // 12, m % 12 + 1, 1)
    index = {s: i for i, s in enumerate(starts)}
    classes = sorted({label for _, label in dated})
    counts = {c: [0] * len(starts) for c in classes}
    for d, label in dated:
        counts[label][index[start(d)]] += 1
    return {
        "unit": unit,
        "periods": [name(s) for s in starts],
        "starts": [s.isoformat() for s in starts],
        "counts": counts,
    }


# -- classification ------------------------------------------------------------------------------------------


_OVERALL = (
    ("accuracy", "accuracy"),
    ("macro_f1", "macro F1"),
    ("weighted_f1", "weighted F1"),
    ("roc_auc", "ROC AUC"),
    ("log_loss", "log loss (lower is better)"),
    ("brier", "Brier score, multiclass (lower is better)"),
    ("ece", "calibration error, ECE (lower is better)"),
    ("mean_abs_rank_error", "mean absolute rank error, levels off (lower is better)"),  # severity, priority
)


def _classification(
    evaluation: Mapping[str, Any], task: str, previous: Mapping[str, Any] | None, floor: float
) -> ReportContent:
    m = evaluation["metrics"]
    base = evaluation.get("baseline") or {}
    data = dict(evaluation.get("data") or {})
    predictions = evaluation.get("predictions") or {}
    classes = list(m["classes"])
    has_proba = bool(predictions.get("proba"))
    y_true = list(predictions.get("y_true") or [])
    proba = np.asarray(predictions.get("proba") or [], dtype=float)
    if has_proba:
        proba = aligned_proba(np.asarray(proba), list(predictions["classes"]), classes)
    threshold = evaluation.get("threshold") or {}
    at = evaluation.get("at_threshold") or {}
    uncertain = threshold.get("threshold")
    sections: list[Section] = []

    # data
    if not data.get("timeline") and predictions.get("created_at"):
        data["timeline"] = class_timeline(predictions["created_at"], y_true)
        data["timeline_of"] = "test part"
    rows = [
        ["labelled reports", _num(data.get("n_labelled"))],
        ["training part", f"{_num(data.get('n_train'))} reports, filed {_span(data.get('train_dates'))}"],
        ["test part", f"{_num(data.get('n_test'))} reports, filed {_span(data.get('test_dates'))}"],
        ["split", f"{evaluation.get('split', '?')} (mode {evaluation.get('mode', '?')})"],
    ]
    if data.get("folds", 1) > 1:
        rows.append(["folds", _num(data["folds"])])
    for reason, n in (data.get("excluded") or {}).items():
        rows.append([f"left out: {reason}", _num(n)])
    if data.get("projects") and len(data["projects"]) > 1:
        rows.append(["projects", ", ".join(f"{p or '–'} {n:,}" for p, n in data["projects"].items())])
    per_class_rows = [
        [value_words(c), _num(n), _num((data.get("test_classes") or {}).get(c, 0))]
        for c, n in (data.get("classes") or {}).items()
    ]
    notes = [
        "The model is fitted on the training part and scored on the test part, which it never saw; with a "
        "time "
        "split the test part is the newest reports, as a new report would be."
    ]
    if data.get("timeline_of") == "test part":
        notes.append(
            "Counts over time are shown for the test part only (the evaluation holds no earlier dates)."
        )
    sections.append(
        Section(
            "data",
            "Data",
            notes,
            [Table(["", ""], rows), Table(["class", "labelled reports", "in the test part"], per_class_rows)],
            [
                Figure(
                    "data",
                    "Reports per class",
                    "Counts per class, and over time with the start of the test part.",
                    lambda: _plots().data_figure(data),
                )
            ]
            if data.get("classes")
            else [],
        )
    )

    # metrics beside baselines
    prev = previous_metrics(previous, "classification")
    hindsight = base.get("hindsight_majority") or {}
    majority = base.get("majority_class", "?")
    header = ["metric", "model", f"always '{value_words(majority)}' (training period's most common)"]
    if hindsight:
        header.append(
            f"always '{value_words(hindsight['class'])}' (test period's most common, known only afterwards)"
        )
    if prev:
        header.append(f"previous model ({previous_name(previous)})")
    rows = []
    for key, name in _OVERALL:
        if key not in m:
            continue
        row = [name, _num(m.get(key)), _num(base.get(key))]
        if hindsight:
            row.append(_num(hindsight.get(key)) if key in hindsight else "")
        if prev:
            row.append(_num(prev.get(key)))
        rows.append(row)
    rows.append(
        [
            "test reports",
            _num(m["n"]),
            _num(base.get("n")),
            *([_num(hindsight.get("n"))] if hindsight else []),
            *([_num(prev.get("n"))] if prev else []),
        ]
    )
    notes = [f"The accuracy floor is {floor:.0%}."]
    if prev:
        notes.append(
            "The previous model was scored on its own test part when it was trained; more data may "
            "have arrived since, so small differences are noise."
        )
    if uncertain is not None:
        notes.append(
            f"'Uncertain' below a top probability of {uncertain:.3f}, chosen on the newest part of the "
            f"training "
            f"data for a precision of {threshold.get('precision_target', 0.9):.0%} "
            f"({'reached' if threshold.get('met') else 'not reached'} there). On the test part it answers "
            f"{_pct(at.get('coverage'))} of reports, {_pct(at.get('precision'))} of them right."
        )
    sections.append(Section("metrics", "Metrics beside baselines", notes, [Table(header, rows)]))

    # per class
    per_class = m.get("per_class") or {}
    rows = [
        [
            value_words(c),
            _num(v.get("precision")),
            _num(v.get("recall")),
            _num(v.get("f1")),
            _num(v.get("support")),
            _num(v.get("auc")),
        ]
        for c, v in per_class.items()
    ]
    sections.append(
        Section(
            "per-class",
            "Per class",
            [
                "Precision: of the reports given this class, the share that have it. Recall: of the reports "
                "that "
                "have it, the share found."
            ],
            [Table(["class", "precision", "recall", "F1", "test reports", "ROC AUC"], rows)],
            [
                Figure(
                    "per-class",
                    "Precision, recall, F1 per class",
                    "",
                    lambda: _plots().per_class_figure(per_class),
                ),
                Figure(
                    "confusion",
                    "Confusion matrix",
                    "Rows: the true class; columns: the model's answer.",
                    lambda: _plots().confusion_figure(m["confusion_matrix"], classes),
                ),
            ],
        )
    )
    if has_proba:
        sections.append(
            Section(
                "curves",
                "Ranking quality: ROC and precision-recall",
                [
                    "Each curve sweeps the threshold on one class's probability. The area under the ROC "
                    "curve is "
                    "the chance that a report of the class gets a higher probability than one of another "
                    "class."
                ],
                [],
                [
                    Figure("roc", "ROC curves", "", lambda: _plots().roc_figure(y_true, proba, classes)),
                    Figure(
                        "pr",
                        "Precision-recall curves",
                        "Dotted: a classifier that guesses (the class's share).",
                        lambda: _plots().pr_figure(y_true, proba, classes),
                    ),
                ],
            )
        )
        sections.append(
            Section(
                "cost",
                "Cost curves",
                [
                    "After Drummond & Holte (2006). The x axis folds the share of a class and the costs of "
                    "the two "
                    "mistakes into one number, the probability cost: 0.5 means both mistakes cost the same "
                    "weighted "
                    "by frequency; towards 1 a missed report of the class is what costs. The y axis is the "
                    "expected "
                    "cost as a share of the worst possible. Grey: the line of every threshold; black: the "
                    "best "
                    "threshold for each cost; red: the model's plain decision (its top class); orange: "
                    "answering "
                    "the class only when the model is confident. Where a line is above the dashed diagonals, "
                    "a constant answer would cost less."
                ],
                [],
                [
                    Figure(
                        "cost",
                        "Cost curves",
                        "",
                        lambda: _plots().cost_figure(y_true, proba, classes, uncertain),
                    )
                ],
            )
        )
        conf = proba.max(axis=1)
        correct = np.asarray(classes)[proba.argmax(axis=1)] == np.asarray(y_true)
        coverage = curves.coverage_curve(conf, correct)
        marks = []
        if uncertain is not None:
            marks.append({"series": "model", "threshold": uncertain, "label": "suggest = act"})
        target = threshold.get("precision_target")
        sections.append(
            Section(
                "calibration",
                "Probabilities and confidence",
                [
                    f"Reliability: the top class's stated probability against how often it is right "
                    f"(ECE {_num(m.get('ece'))}). Coverage: lowering the confidence threshold answers more "
                    f"reports at lower precision. This task has one threshold ('uncertain' below it), used "
                    f"both "
                    f"to suggest and to act; it was chosen on training data, the curve is the test part."
                ],
                [
                    Table(
                        ["threshold", "coverage", "answered", "precision"],
                        [
                            [
                                _num(r["threshold"], 2),
                                _pct(r["coverage"]),
                                _num(r["n_covered"]),
                                _pct(r["accuracy"]),
                            ]
                            for r in evaluation.get("coverage") or []
                        ],
                        "Coverage at fixed thresholds",
                    )
                ],
                [
                    Figure(
                        "reliability",
                        "Reliability diagram",
                        "",
                        lambda: _plots().reliability_figure(y_true, proba, classes, m.get("ece")),
                    ),
                    Figure(
                        "coverage",
                        "Coverage and precision",
                        "",
                        lambda: _plots().coverage_figure(
                            {"model": coverage},
                            marks,
                            [(f"precision target {target:.0%}", target)] if target else [],
                        ),
                    ),
                ],
            )
        )
    curve = evaluation.get("learning_curve") or []
    if curve:
        sections.append(
            Section(
                "learning",
                "Learning curve",
                [
                    "Models fitted on the newest 10%, 25%, 50%, 75% and all of the training part, each "
                    "scored on "
                    "the same test part. A curve still rising says more labelled reports will help."
                ],
                [
                    Table(
                        ["training reports", "accuracy", "macro F1"],
                        [[_num(p["n_train"]), _num(p["accuracy"]), _num(p.get("macro_f1"))] for p in curve],
                    )
                ],
                [Figure("learning", "Learning curve", "", lambda: _plots().learning_figure(curve, floor))],
            )
        )
    chosen = _chosen_section(evaluation.get("selection") or {})
    if chosen:
        sections.append(chosen)
    label = evaluation.get("label") or task
    return ReportContent(
        kind="classification",
        task=task,
        title=f"Validation report: {task}",
        subtitle=f"label {label}, mode {evaluation.get('mode', '?')}, split {evaluation.get('split', '?')}",
        summary=summary.classification_summary(evaluation, previous, floor),
        sections=sections,
    )


def _chosen_section(selection: Mapping[str, Any]) -> Section | None:
    """How this model was chosen: every candidate's score on the training part's newest reports."""
    candidates = selection.get("candidates") or []
    if not candidates:
        return None
    validation = selection.get("validation") or {}
    rows = [
        [
            c["name"] + (" (chosen)" if c["name"] == selection.get("chosen") else ""),
            _num(c.get("score")) if c.get("score") is not None else f"not tried: {c.get('skipped')}",
            "-" if c.get("seconds") is None else f"{c['seconds']:.1f} s",
        ]
        for c in candidates
    ]
    note = (
        f"Each candidate was fitted on the older {validation.get('n_fit', '?')} training reports and scored "
        f"({selection.get('metric', '?')}) on the newest {validation.get('n_validation', '?')} "
        f"({_span(validation.get('validation_dates'))}), never on the test part. "
        + (
            selection.get("rule")  # a task that chooses by its own rule says it (severity, priority)
            or "The first row is the one the store's size suggests; another replaces it only with a lead "
            "of more than 0.005."
        )
    )
    return Section("chosen", "How this model was chosen", [note], [Table(["settings", "score", "fit"], rows)])


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _plots() -> Any:
    from bugsift.report import plots  # matplotlib only when a figure is drawn

    return plots


# -- component


def _component(
    evaluation: Mapping[str, Any], task: str, previous: Mapping[str, Any] | None, floor: float
) -> ReportContent:
    scopes = evaluation["scopes"]
    data = evaluation.get("data") or {}
    targets = evaluation.get("precision_targets") or {}
    rows = [
        ["reports", _num(data.get("n_reports"))],
        ["with a component", _num(data.get("n_labelled"))],
        ["without one (skipped)", _num(data.get("n_without_component"))],
        ["labels as filed (replayed history)", _num(data.get("n_labels_as_filed"))],
        ["labels as they are today (no history)", _num(data.get("n_labels_current"))],
    ]
    scope_rows = [
        [
            key,
            _num(s["n_train"]),
            _span(s.get("train_dates")),
            _num(s["n_test"]),
            _span(s.get("test_dates")),
            _num(s.get("n_classes")),
            _num(len((s.get("folding") or {}).get("folded", []))),
        ]
        for key, s in scopes.items()
    ]
    sections = [
        Section(
            "data",
            "Data",
            [
                "One model per scope (a project, or a whole tracker); the test part is each scope's newest "
                "20%."
            ],
            [
                Table(["", ""], rows),
                Table(
                    ["scope", "training", "filed", "test", "filed", "classes", "folded labels"], scope_rows
                ),
            ],
        )
    ]
    prev = previous_metrics(previous, "component")
    header = [
        "scope",
        "top-1",
        "top-3",
        "top-5",
        "strict top-1",
        "answer top-1",
        "answer top-3",
        "macro F1",
        "act: precision",
        "act: coverage",
        "suggest: precision",
        "suggest: coverage",
        "baseline top-1",
        "baseline top-3",
    ]
    rows = []
    for key, s in scopes.items():
        mm, b = s["model"], s["baseline"]
        act, sug = mm.get("at_act") or {}, mm.get("at_suggest") or {}
        rows.append(
            [
                key,
                _num(mm["top1"]),
                _num(mm["top3"]),
                _num(mm["top5"]),
                _num(mm.get("top1_strict")),
                _num(mm.get("answer_top1")),
                _num(mm.get("answer_top3")),
                _num(mm.get("macro_f1")),
                _num(act.get("precision")),
                _num(act.get("coverage")),
                _num(sug.get("precision")),
                _num(sug.get("coverage")),
                _num(b["top1"]),
                _num(b["top3"]),
            ]
        )
    mean_m, mean_b = evaluation["mean"]["model"], evaluation["mean"]["baseline"]
    rows.append(
        [
            "mean",
            _num(mean_m["top1"]),
            _num(mean_m["top3"]),
            _num(mean_m["top5"]),
            _num(mean_m.get("top1_strict")),
            _num(mean_m.get("answer_top1")),
            _num(mean_m.get("answer_top3")),
            _num(mean_m.get("macro_f1")),
            _num(mean_m.get("act_precision")),
            _num(mean_m.get("act_coverage")),
            _num(mean_m.get("suggest_precision")),
            _num(mean_m.get("suggest_coverage")),
            _num(mean_b["top1"]),
            _num(mean_b["top3"]),
        ]
    )
    if prev:
        rows.append(
            [
                f"previous model ({previous_name(previous)}), mean",
                _num(prev.get("top1")),
                _num(prev.get("top3")),
                _num(prev.get("top5")),
                _num(prev.get("top1_strict")),
                _num(prev.get("answer_top1")),
                _num(prev.get("answer_top3")),
                _num(prev.get("macro_f1")),
                _num(prev.get("act_precision")),
                _num(prev.get("act_coverage")),
                _num(prev.get("suggest_precision")),
                _num(prev.get("suggest_coverage")),
                "",
                "",
            ]
        )
    sections.append(
        Section(
            "metrics",
            "Metrics beside baselines",
            [
                f"A suggestion is right when it names any of the report's components. 'Answer' scores what "
                f"a person is shown: a bucket (Untriaged, General, a folded '(other)') is never the answer "
                f"and only the report's own component counts. Baseline: the most frequent "
                f"components of the training part. 'act' aims at precision {targets.get('act', 0.9):.0%} "
                f"(safe to apply), 'suggest' at {targets.get('suggest', 0.6):.0%} (worth showing); both were "
                f"chosen on training data."
            ],
            [Table(header, rows)],
        )
    )
    series: dict[str, tuple[Sequence[float], Sequence[float]]] = {}
    styles: dict[str, dict[str, Any]] = {}
    groups: dict[str, dict[str, Any]] = {}
    coverage_series: dict[str, curves.CoverageCurve] = {}
    marks: list[dict[str, Any]] = []
    for i, (key, s) in enumerate(scopes.items()):
        per = s.get("per_report") or {}
        if per.get("rank") is not None:
            ks, shares = curves.topk_curve(per["rank"], TOPK_MAX)
            bks, bshares = curves.topk_curve(per.get("baseline_rank") or [], TOPK_MAX)
        else:
            ks, shares = [1, 3, 5], [s["model"][f"top{k}"] for k in (1, 3, 5)]
            bks, bshares = [1, 3, 5], [s["baseline"][f"top{k}"] for k in (1, 3, 5)]
        series[key] = (list(ks), list(shares))
        styles[key] = {"color": _color(i)}
        if per.get("baseline_rank") is not None or per.get("rank") is None:
            series[f"{key} baseline"] = (list(bks), list(bshares))
            styles[f"{key} baseline"] = {"color": _color(i), "linestyle": "--", "alpha": 0.6}
        act = s["model"].get("at_act") or {}
        groups[key] = {
            "n": s["n_test"],
            "top1": s["model"]["top1"],
            "baseline_top1": s["baseline"]["top1"],
            "curve": (list(ks), list(shares)),
            "act": act,
        }
        if per.get("confidence") is not None and len(per["confidence"]):
            coverage_series[key] = curves.coverage_curve(per["confidence"], per["correct"])
            for name in ("suggest", "act"):
                if name in (s.get("thresholds") or {}):
                    marks.append(
                        {"series": key, "threshold": s["thresholds"][name], "label": f"{key}: {name}"}
                    )
    figures = [
        Figure(
            "topk",
            "Top-k accuracy",
            "Dashed: the most-frequent-components baseline.",
            lambda: _plots().topk_figure(
                series, "Right component among the first k suggestions", floor=floor, styles=styles
            ),
        )
    ]
    if coverage_series:
        lines = [(f"act target {targets['act']:.0%}", targets["act"])] if targets.get("act") else []
        if targets.get("suggest"):
            lines.append((f"suggest target {targets['suggest']:.0%}", targets["suggest"]))
        figures.append(
            Figure(
                "coverage",
                "Coverage and precision",
                "Marked: the suggest and act thresholds.",
                lambda: _plots().coverage_figure(coverage_series, marks, lines),
            )
        )
    sections.append(Section("topk", "Top-k and thresholds", [], [], figures))
    return ReportContent(
        kind="component",
        task=task,
        title=f"Validation report: {task}",
        subtitle="product/component as filed, time-ordered split per scope",
        summary=summary.ranking_summary(
            "component", groups, "the most frequent component", floor, "component"
        ),
        sections=sections,
    )


def _color(i: int) -> str:
    return f"C{i % 10}"


# -- files


def _files(
    evaluation: Mapping[str, Any], task: str, previous: Mapping[str, Any] | None, floor: float
) -> ReportContent:
    projects = evaluation["projects"]
    data_rows = []
    for p in projects:
        excluded = "; ".join(f"{n} {reason}" for reason, n in (p.get("excluded") or {}).items()) or "–"
        data_rows.append([p["project"] or "–", _num(p["n_reports"]), _num(p["n_evaluated"]), excluded])
    prev = previous_metrics(previous, "files") or {}
    rows = []
    for p in projects:
        for name, m in (("model", p["model"]), ("plain text similarity", p["plain"])):
            rows.append(
                [
                    p["project"] or "–",
                    name,
                    _num(m["n"]),
                    _num(m["top1"]),
                    _num(m["top5"]),
                    _num(m["top10"]),
                    _num(m["map"]),
                    _num(m["mrr"]),
                ]
            )
        if p["project"] in prev:
            m = prev[p["project"]]
            rows.append(
                [
                    p["project"] or "–",
                    f"previous model ({previous_name(previous)})",
                    _num(m.get("n")),
                    _num(m.get("top1")),
                    _num(m.get("top5")),
                    _num(m.get("top10")),
                    _num(m.get("map")),
                    _num(m.get("mrr")),
                ]
            )
    series: dict[str, tuple[Sequence[float], Sequence[float]]] = {}
    styles: dict[str, dict[str, Any]] = {}
    groups: dict[str, dict[str, Any]] = {}
    for i, p in enumerate(projects):
        name = p["project"] or "all"
        if p.get("first_ranks") is not None:
            ks, shares = curves.topk_curve(p["first_ranks"], FILES_TOPK_MAX)
            bks, bshares = curves.topk_curve(p.get("plain_first_ranks") or [], FILES_TOPK_MAX)
        else:
            ks, shares = [1, 5, 10], [p["model"][f"top{k}"] or 0.0 for k in (1, 5, 10)]
            bks, bshares = [1, 5, 10], [p["plain"][f"top{k}"] or 0.0 for k in (1, 5, 10)]
        series[name] = (list(ks), list(shares))
        series[f"{name} plain"] = (list(bks), list(bshares))
        styles[name] = {"color": _color(i)}
        styles[f"{name} plain"] = {"color": _color(i), "linestyle": "--", "alpha": 0.6}
        if p["model"]["n"]:
            groups[name] = {
                "n": p["model"]["n"],
                "top1": p["model"]["top1"],
                "baseline_top1": p["plain"]["top1"],
                "curve": (list(ks), list(shares)),
            }
    names = [p["project"] or "all" for p in projects]
    bars = {
        "MAP": [p["model"]["map"] for p in projects],
        "MAP plain": [p["plain"]["map"] for p in projects],
        "MRR": [p["model"]["mrr"] for p in projects],
        "MRR plain": [p["plain"]["mrr"] for p in projects],
    }
    sections = [
        Section(
            "data",
            "Data",
            [
                "Each project's history is replayed in filing order: a report is ranked with only what "
                "existed "
                "when it was filed. A report counts when one of its fixed files existed before the fix."
            ],
            [Table(["project", "reports", "evaluated", "left out"], data_rows)],
        ),
        Section(
            "metrics",
            "Metrics beside the baseline",
            [
                "Top-k: the share of reports with a fixed file among the first k. MAP: mean average "
                "precision "
                "over all fixed files. MRR: mean of 1 / rank of the first fixed file. Baseline: plain text "
                "similarity between the report and each file's past reports and path."
            ],
            [Table(["project", "ranker", "reports", "top-1", "top-5", "top-10", "MAP", "MRR"], rows)],
            [
                Figure(
                    "topk",
                    "Top-k accuracy per project",
                    "Dashed: the plain text-similarity baseline.",
                    lambda: _plots().topk_figure(
                        series, "A fixed file among the first k files", floor=floor, styles=styles
                    ),
                ),
                Figure(
                    "map-mrr",
                    "MAP and MRR per project",
                    "",
                    lambda: _plots().grouped_bars_figure(names, bars, "MAP and MRR per project"),
                ),
            ],
        ),
    ]
    chosen = _files_chosen_section(evaluation.get("selection") or {})
    if chosen:
        sections.append(chosen)
    return ReportContent(
        kind="files",
        task=task,
        title=f"Validation report: {task}",
        subtitle="source files most likely to hold the bug, replayed in filing order",
        summary=summary.ranking_summary("files", groups, "plain text similarity", floor, "file"),
        sections=sections,
    )


def _files_chosen_section(selection: Mapping[str, Any]) -> Section | None:
    """How each project's ranking was chosen: the learned ranker or plain similarity, by MAP on the replay."""
    rows = []
    for project, chosen in sorted(selection.items()):
        scores = chosen.get("candidates") or {}
        rows.append(
            [
                project or "–",
                _num(scores.get("ranker")),
                _num(scores.get("plain")),
                _num(chosen.get("n")),
                str(chosen.get("chosen")) + (f" ({chosen['why']})" if chosen.get("why") else ""),
            ]
        )
    if not rows:
        return None
    note = (
        "Each project ships the learned ranker unless the plain ranking (summed similarity of the past "
        "reports that touched a file) leads it by 0.005 MAP on the replayed reports the ranker scored, each "
        "ranked by a ranker trained only on reports fixed before it was filed."
    )
    table = Table(["project", "ranker MAP", "plain MAP", "reports", "chosen"], rows)
    return Section("chosen", "How this model was chosen", [note], [table])


# -- duplicates


def _duplicate_methods(evaluation: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Method -> recall rates, from `bugsift.learn.duplicates.evaluation.rates` dicts wherever they sit."""
    for key in ("rows", "methods", "recall_rates"):
        if isinstance(evaluation.get(key), Mapping):
            return {str(k): dict(v) for k, v in evaluation[key].items()}
    found = {
        k: dict(v)
        for k, v in evaluation.items()
        if isinstance(v, Mapping) and any(str(x).startswith("rr@") for x in v)
    }
    if found:
        return found
    raise ValueError("duplicates evaluation without recall rates (expected 'rows': {method: {'rr@k': ...}})")


def _duplicates(
    evaluation: Mapping[str, Any], task: str, previous: Mapping[str, Any] | None, floor: float
) -> ReportContent:
    methods = _duplicate_methods(evaluation)
    ranks = evaluation.get("ranks") or {}
    ks_all = sorted({int(k[3:]) for m in methods.values() for k in m if str(k).startswith("rr@")})
    rows = [
        [
            name,
            _num(m.get("n")),
            *(_num(m.get(f"rr@{k}")) for k in ks_all),
            _num(m.get("mrr")),
            _num(m.get("candidate_recall")),
        ]
        for name, m in methods.items()
    ]
    series = {}
    for name, m in methods.items():
        if name in ranks:
            ks, shares = curves.topk_curve(ranks[name], DUPLICATES_TOPK_MAX)
            series[name] = (list(ks), list(shares))
        else:
            series[name] = (ks_all, [m.get(f"rr@{k}") or 0.0 for k in ks_all])
    data_rows = []
    for key, label in (
        ("queries", "duplicate queries"),
        ("train", "training queries"),
        ("n_train", "training queries"),
        ("test", "test queries"),
        ("n_test", "test queries"),
        ("test_dates", "test queries filed"),
    ):
        if key in evaluation:
            value = evaluation[key]
            data_rows.append(
                [label, " ".join(str(v) for v in value) if isinstance(value, list) else _num(value)]
            )
    sections = []
    if data_rows:
        sections.append(
            Section(
                "data",
                "Data",
                ["Each query is searched only among reports filed before it."],
                [Table(["", ""], data_rows)],
            )
        )
    sections.append(
        Section(
            "metrics",
            "Recall rate",
            [
                "Recall-rate@k: the share of duplicate reports whose original is among the first k reports "
                "suggested. MRR: mean of 1 / rank of the first original (0 when missed)."
            ],
            [Table(["method", "queries", *(f"RR@{k}" for k in ks_all), "MRR", "candidate recall"], rows)],
            [
                Figure(
                    "recall-rate",
                    "Recall-rate@k",
                    "",
                    lambda: _plots().topk_figure(
                        series, "An original among the first k suggestions", ylabel="recall rate", floor=floor
                    ),
                )
            ],
        )
    )
    best = max(methods, key=lambda n: methods[n].get("mrr") or 0.0)
    groups = {
        best: {"n": methods[best].get("n", 0), "top1": methods[best].get("rr@1"), "curve": series[best]}
    }
    others = [m.get("rr@1") for n, m in methods.items() if n != best and m.get("rr@1") is not None]
    if others:
        groups[best]["baseline_top1"] = max(others)
    return ReportContent(
        kind="duplicates",
        task=task,
        title=f"Validation report: {task}",
        subtitle="earlier reports that a new report probably duplicates, replayed in filing order",
        summary=summary.ranking_summary(
            "duplicates", groups, "the best other method", floor, "original report"
        ),
        sections=sections,
    )


# -- numeric targets -----------------------------------------------------------------------------------------


def _regression_section(regression: Mapping[str, Any]) -> Section:
    y, p = np.asarray(regression["y_true"], dtype=float), np.asarray(regression["y_pred"], dtype=float)
    # the baseline answers what was known before the test part (the training median) where given
    b = np.asarray(regression.get("baseline_pred") or np.full(y.size, np.median(y) if y.size else 0.0))

    def rmse(pred: np.ndarray) -> float | None:
        return float(np.sqrt(np.mean((y - pred) ** 2))) if y.size else None

    def mae(pred: np.ndarray) -> float | None:
        return float(np.mean(np.abs(y - pred))) if y.size else None

    name = regression.get("name", "value")
    baseline_name = regression.get("baseline_name", "always the median")
    rows = [
        ["RMSE", _num(rmse(p)), _num(rmse(b))],
        ["MAE", _num(mae(p)), _num(mae(b))],
        ["test reports", _num(int(y.size)), ""],
    ]
    notes = ["Residual = actual − predicted."]
    if regression.get("unit"):
        notes.append(f"Values are {name} in {regression['unit']}.")
    if regression.get("lower") is not None and regression.get("upper") is not None:
        low, high = np.asarray(regression["lower"], float), np.asarray(regression["upper"], float)
        q = regression.get("interval") or [0.1, 0.9]
        inside = float(np.mean((y >= low) & (y <= high))) if y.size else None
        rows.append([f"inside the {q[0]:.0%}-{q[1]:.0%} interval (aim {q[1] - q[0]:.0%})", _pct(inside), ""])
    if regression.get("n_censored") is not None:
        rows.append(["not scored: still open (censored)", _num(int(regression["n_censored"])), ""])
        rows.append(
            [
                "of those, already open longer than the predicted median",
                _pct(regression.get("censored_median_exceeded")),
                _pct(regression.get("baseline_censored_median_exceeded")),
            ]
        )
        notes.append(
            "Still-open reports have no fix time yet: they are lower bounds, counted and checked (a "
            "predicted median shorter than the time already open is surely wrong), not scored as errors."
        )
    return Section(
        "regression",
        f"Numeric target: {name}",
        notes,
        [Table(["metric", "model", f"baseline: {baseline_name}"], rows)],
        [Figure("residuals", "Residuals", "", lambda: _plots().residual_figure(y, p))],
    )


def _regression_selection(selection: Mapping[str, Any]) -> Section | None:
    """Every candidate's validation score, when the evaluation chose among several."""
    candidates = selection.get("candidates") or []
    if not candidates:
        return None
    validation = selection.get("validation") or {}
    rows = [
        [
            c["name"] + (" (chosen)" if c["name"] == selection.get("chosen") else ""),
            _num(c.get("score")) if c.get("score") is not None else f"not scored: {c.get('skipped')}",
            _pct(c.get("coverage")),
        ]
        for c in candidates
    ]
    note = (
        f"Each candidate was fitted on the older {validation.get('n_fit', '?')} training reports and scored "
        f"({selection.get('metric', '?')}, lower is better) on the newest "
        f"{validation.get('n_validation', '?')} "
        f"({_span(validation.get('validation_dates'))}), never on the test part; the lowest wins."
    )
    return Section(
        "chosen", "How this model was chosen", [note], [Table(["settings", "score", "coverage"], rows)]
    )


def _regression_only(
    evaluation: Mapping[str, Any], task: str, previous: Mapping[str, Any] | None, floor: float
) -> ReportContent:
    section = _regression_section(evaluation["regression"])
    rows = section.tables[0].rows
    return ReportContent(
        kind="regression",
        task=task,
        title=f"Validation report: {task}",
        subtitle="numeric target",
        summary={
            "headline": f"RMSE {rows[0][1]}, MAE {rows[1][1]} on {rows[2][1]} held-out reports "
            f"(baseline: MAE {rows[1][2]}).",
            "good": [],
            "weak": [],
            "floor": None,
            "confused": [],
        },
        sections=[s for s in (section, _regression_selection(evaluation.get("selection") or {})) if s],
    )
