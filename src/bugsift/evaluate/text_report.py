"""Plain-text rendering of evaluation results for the terminal."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["format_metrics"]

_OVERALL = (
    ("accuracy", "accuracy"),
    ("macro_f1", "macro F1"),
    ("weighted_f1", "weighted F1"),
    ("roc_auc", "ROC AUC"),
    ("log_loss", "log loss"),
    ("brier", "Brier (multiclass)"),
    ("ece", "ECE (top label)"),
)
_MAX_NAME_HEADER = 12


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> list[str]:
    """Align columns: the first ``left`` columns left-aligned, the rest right-aligned."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            str(cell).ljust(width) if i < left else str(cell).rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return [line(header), rule, *(line(row) for row in rows)]


def _overall(metrics: dict[str, Any], baseline: dict[str, Any] | None) -> list[str]:
    header = ["metric", "model"] + (["baseline"] if baseline is not None else [])
    rows = []
    for key, name in _OVERALL:
        if key not in metrics and (baseline is None or key not in baseline):
            continue
        row = [name, _num(metrics.get(key))]
        if baseline is not None:
            row.append(_num(baseline.get(key)))
        rows.append(row)
    return _table(header, rows)


def _per_class(metrics: dict[str, Any]) -> list[str]:
    per_class = metrics.get("per_class") or {}
    rows = [
        [
            str(label),
            _num(m.get("precision")),
            _num(m.get("recall")),
            _num(m.get("f1")),
            _num(m.get("support")),
            _num(m.get("auc")),
        ]
        for label, m in per_class.items()
    ]
    return _table(["class", "precision", "recall", "F1", "support", "AUC"], rows)


def _confusion(metrics: dict[str, Any]) -> list[str]:
    classes = [str(c) for c in metrics.get("classes") or metrics.get("per_class", {}).keys()]
    matrix = metrics["confusion_matrix"]
    by_index = any(len(c) > _MAX_NAME_HEADER for c in classes)
    if by_index:
        row_names = [f"{i} {c}" for i, c in enumerate(classes)]
        col_names = [str(i) for i in range(len(classes))]
    else:
        row_names, col_names = classes, classes
    rows = [[name, *(str(v) for v in counts)] for name, counts in zip(row_names, matrix, strict=True)]
    return _table(["true \\ predicted", *col_names], rows)


def _coverage(coverage: list[dict[str, Any]]) -> list[str]:
    rows = [
        [_num(r["threshold"], 2), _num(r["coverage"]), _num(r["n_covered"]), _num(r.get("accuracy"))]
        for r in coverage
    ]
    return _table(["threshold", "coverage", "n covered", "accuracy"], rows)


def format_metrics(
    metrics: dict[str, Any],
    baseline: dict[str, Any] | None = None,
    coverage: list[dict[str, Any]] | None = None,
) -> str:
    """Render ``classification_metrics`` output (beside an optional baseline and coverage table) as text."""
    lines = [f"n = {_num(metrics.get('n'))}", ""]
    if baseline is not None and "majority_class" in baseline:
        lines[0] += f"   (baseline: always {baseline['majority_class']!s}, the training period's most common)"
        hindsight = baseline.get("hindsight_majority")
        if hindsight:
            lines.insert(
                1,
                f"always {hindsight['class']!s}, the test period's most common (known only afterwards), "
                f"would score accuracy {_num(hindsight['accuracy'])}, macro-F1 {_num(hindsight['macro_f1'])}",
            )
    lines += ["Overall", *_overall(metrics, baseline)]
    if metrics.get("per_class"):
        lines += ["", "Per class", *_per_class(metrics)]
    if metrics.get("confusion_matrix"):
        lines += ["", "Confusion matrix (rows = true class, columns = predicted class)", *_confusion(metrics)]
    if coverage:
        lines += ["", "Coverage (confident = top probability >= threshold)", *_coverage(coverage)]
    return "\n".join(lines) + "\n"
