"""The report's figures: matplotlib on the Agg backend, each function returning PNG bytes.

scikit-learn's display classes draw what they fit (ROC, precision-recall, reliability, confusion matrix,
residuals); the cost curve and the coverage/precision curve come from `bugsift.report.curves`.
Every figure is built on its own `Figure` (no pyplot state), so this is safe in web workers and threads.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # never a GUI backend: reports are written by the CLI, the web app and workers

import numpy as np
from matplotlib.figure import Figure
from sklearn.calibration import CalibrationDisplay
from sklearn.metrics import (
    ConfusionMatrixDisplay,
    PrecisionRecallDisplay,
    PredictionErrorDisplay,
    RocCurveDisplay,
)

from bugsift.report import curves
from bugsift.web.names import value_words

DPI = 100
WIDE = (9.0, 4.2)
SQUARE = (6.0, 5.0)
MAX_CURVES = 10
"""At most this many classes get their own one-vs-rest curve (the most frequent in the test part)."""
COLORS = [matplotlib.colormaps["tab10"](i) for i in range(10)]


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    return buffer.getvalue()


def _figure(size: tuple[float, float] = WIDE, ncols: int = 1, nrows: int = 1) -> tuple[Figure, Any]:
    fig = Figure(figsize=size, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def _short(label: Any, width: int = 28) -> str:
    text = str(label)
    return text if len(text) <= width else "…" + text[-(width - 1) :]


def _class(label: Any, width: int = 28) -> str:
    """A class as a person reads it in a figure ("Not a defect", not ``not_defect``), shortened."""
    return _short(value_words(label), width)


def _curve_classes(y_true: np.ndarray, classes: Sequence[str]) -> list[int]:
    """Class columns that get a one-vs-rest curve: present and absent in y_true, the most frequent first.

    A binary task draws one curve, for ``classes[1]`` (the class its ROC AUC is reported for).
    """
    usable = [j for j, c in enumerate(classes) if 0 < np.sum(y_true == c) < y_true.size]
    if len(classes) == 2:
        return [1] if 1 in usable else usable[:1]
    usable.sort(key=lambda j: -int(np.sum(y_true == classes[j])))
    return sorted(usable[:MAX_CURVES])


# -- data ------------------------------------------------------------------------------------------------


def data_figure(data: Mapping[str, Any]) -> bytes:
    """Reports per class (training and test part), and per class over time when the data has a timeline."""
    timeline = data.get("timeline") or {}
    fig, axes = _figure(WIDE, ncols=2 if timeline else 1)
    ax = axes[0][0]
    classes = list((data.get("classes") or {}).keys())
    total = np.array([data["classes"][c] for c in classes], dtype=float)
    test = np.array([(data.get("test_classes") or {}).get(c, 0) for c in classes], dtype=float)
    y = np.arange(len(classes))
    ax.barh(y, total - test, color=COLORS[0], label="training part")
    ax.barh(y, test, left=total - test, color=COLORS[1], label="test part")
    ax.set_yticks(y, [_class(c, 20) for c in classes])
    ax.invert_yaxis()
    ax.set_xlabel("labelled reports")
    ax.set_title("Reports per class")
    ax.legend(loc="lower right", fontsize="small")
    if timeline:
        ax = axes[0][1]
        periods = list(timeline["periods"])
        x = np.arange(len(periods))
        bottom = np.zeros(len(periods))
        for i, (name, counts) in enumerate(timeline["counts"].items()):
            values = np.asarray(counts, dtype=float)
            ax.bar(x, values, bottom=bottom, width=1.0, color=COLORS[i % 10], label=_class(name, 20))
            bottom += values
        start = (data.get("test_dates") or [None])[0]
        starts = timeline.get("starts") or []
        cut = (
            sum(s <= start[:10] for s in starts) - 1
            if start and data.get("timeline_of") != "test part"
            else 0
        )
        if cut > 0:
            ax.axvline(cut - 0.5, color="black", linestyle="--", linewidth=1)
            ax.annotate(
                "test part →",
                (cut - 0.5, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(4, -4),
                textcoords="offset points",
                fontsize="small",
                va="top",
            )
        step = max(1, len(periods) // 8)
        ax.set_xticks(x[::step], periods[::step], rotation=45, ha="right", fontsize="small")
        ax.set_ylabel(f"reports per {timeline.get('unit', 'period')}")
        ax.set_title("Reports per class over time" + (" (test part)" if data.get("timeline_of") else ""))
        ax.legend(fontsize="small", loc="upper left")
    return _png(fig)


# -- classification ----------------------------------------------------------------------------------------


def per_class_figure(per_class: Mapping[str, Mapping[str, Any]]) -> bytes:
    """Precision, recall and F1 of each class as grouped bars."""
    classes = list(per_class)
    fig, axes = _figure((max(6.0, 1.2 * len(classes) + 3), 4.0))
    ax = axes[0][0]
    x = np.arange(len(classes))
    for i, key in enumerate(("precision", "recall", "f1")):
        values = [per_class[c].get(key) for c in classes]
        heights = [np.nan if v is None else v for v in values]
        ax.bar(x + (i - 1) * 0.27, heights, width=0.27, color=COLORS[i], label=key)
    ax.set_xticks(x, [_class(c, 18) for c in classes], rotation=20 if len(classes) > 4 else 0)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("score")
    ax.set_title("Precision, recall and F1 per class (test part)")
    ax.legend(ncols=3, fontsize="small", loc="lower right")
    return _png(fig)


def confusion_figure(matrix: Sequence[Sequence[int]], classes: Sequence[str]) -> bytes:
    """Counts, rows = true class, columns = predicted class; colour = share of the row."""
    cm = np.asarray(matrix, dtype=float)
    n = len(classes)
    side = min(9.0, 3.5 + 0.6 * n)
    fig, axes = _figure((side, side * 0.85))
    ax = axes[0][0]
    rows = cm.sum(axis=1, keepdims=True)
    shares = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    display = ConfusionMatrixDisplay(confusion_matrix=shares, display_labels=[_class(c, 18) for c in classes])
    display.plot(ax=ax, cmap="Blues", colorbar=False, include_values=False, im_kw={"vmin": 0, "vmax": 1})
    for i in range(n):
        for j in range(n):
            ax.text(
                j,
                i,
                f"{int(cm[i, j])}\n{shares[i, j]:.0%}",
                ha="center",
                va="center",
                fontsize="small",
                color="white" if shares[i, j] > 0.5 else "black",
            )
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if n > 4:
        ax.tick_params(axis="x", labelrotation=45)
    ax.set_title("Confusion matrix (count and share of the true class)")
    return _png(fig)


def roc_figure(y_true: Sequence[str], proba: np.ndarray, classes: Sequence[str]) -> bytes:
    """One-vs-rest ROC curve of each class (one curve for a binary task)."""
    y = np.asarray(y_true)
    fig, axes = _figure(SQUARE)
    ax = axes[0][0]
    columns = _curve_classes(y, classes)
    for n, j in enumerate(columns):
        RocCurveDisplay.from_predictions(
            y == classes[j],
            proba[:, j],
            pos_label=True,
            name=_class(classes[j], 24),
            ax=ax,
            curve_kwargs={"color": COLORS[n % 10]},
            plot_chance_level=n == len(columns) - 1,
        )
    ax.set_xlabel("false positive rate (share of other reports flagged)")
    ax.set_ylabel("true positive rate (recall)")
    ax.set_title("ROC curves" + (" (one class against the rest)" if len(classes) > 2 else ""))
    ax.legend(fontsize="small", loc="lower right")
    return _png(fig)


def pr_figure(y_true: Sequence[str], proba: np.ndarray, classes: Sequence[str]) -> bytes:
    """One-vs-rest precision-recall curve of each class, with its chance level (its share of the test)."""
    y = np.asarray(y_true)
    fig, axes = _figure(SQUARE)
    ax = axes[0][0]
    for n, j in enumerate(_curve_classes(y, classes)):
        PrecisionRecallDisplay.from_predictions(
            y == classes[j],
            proba[:, j],
            pos_label=True,
            name=_class(classes[j], 24),
            ax=ax,
            curve_kwargs={"color": COLORS[n % 10]},
            plot_chance_level=True,
            chance_level_kw={"color": COLORS[n % 10], "linestyle": ":", "label": None},
        )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title("Precision-recall curves" + (" (one class against the rest)" if len(classes) > 2 else ""))
    ax.legend(fontsize="small", loc="lower left")
    return _png(fig)


def cost_figure(
    y_true: Sequence[str], proba: np.ndarray, classes: Sequence[str], threshold: float | None
) -> bytes:
    """Cost curves (Drummond & Holte) per class against the rest: every threshold's cost line, their lower
    envelope, and the lines of the model as used: its plain decision and its confident-only decision."""
    y = np.asarray(y_true)
    proba = np.asarray(proba, dtype=float)
    columns = _curve_classes(y, classes)[:6]
    ncols = min(3, len(columns))
    nrows = int(np.ceil(len(columns) / ncols))
    fig, axes = _figure((4.2 * ncols + 0.5, 3.9 * nrows), ncols=ncols, nrows=nrows)
    predicted = proba.argmax(axis=1)
    confidence = proba.max(axis=1)
    x = np.array([0.0, 1.0])
    for n, j in enumerate(columns):
        ax = axes[n // ncols][n % ncols]
        positive = y == classes[j]
        curve = curves.cost_curve(positive, proba[:, j])
        step = max(1, len(curve.fpr) // 80)
        for f, m in zip(curve.fpr[::step], curve.fnr[::step], strict=True):
            ax.plot(x, [f, m], color="0.85", linewidth=0.6, zorder=1)
        rest = f"'{_class(classes[1 - j], 16)}'" if len(classes) == 2 else "another class"
        ax.plot(x, x, color="0.5", linestyle="--", linewidth=1, label=f"always {rest}")
        ax.plot(x, 1 - x, color="0.5", linestyle="-.", linewidth=1, label="always this class")
        ax.plot(
            curve.envelope_x,
            curve.envelope_y,
            color="black",
            linewidth=2,
            label=f"best threshold (area {curve.area:.3f})",
        )
        decided = predicted == j
        f, t = decided[~positive].mean(), decided[positive].mean()
        ax.plot(x, [f, 1 - t], color=COLORS[3], linewidth=1.8, label="model's decision (top class)")
        if threshold is not None:
            sure = decided & (confidence >= threshold)
            f, t = sure[~positive].mean(), sure[positive].mean()
            ax.plot(
                x,
                [f, 1 - t],
                color=COLORS[1],
                linewidth=1.8,
                label=f"only when confident (p ≥ {threshold:.2f})",
            )
        prior = positive.mean()
        ax.axvline(prior, color=COLORS[2], linestyle=":", linewidth=1.2, label="equal costs (PC = share)")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("probability cost PC(this class)")
        ax.set_ylabel("normalised expected cost")
        ax.set_title(
            _class(classes[j], 30) if len(classes) > 2 else f"positive class: {_class(classes[j], 24)}",
            fontsize="medium",
        )
        if n == 0:
            ax.legend(fontsize="x-small", loc="upper right")
    for n in range(len(columns), nrows * ncols):
        axes[n // ncols][n % ncols].set_axis_off()
    return _png(fig)


def reliability_figure(
    y_true: Sequence[str], proba: np.ndarray, classes: Sequence[str], ece: float | None
) -> bytes:
    """Top-label reliability diagram (is the stated probability of the top class its real hit rate?),
    with the histogram of those probabilities below."""
    y = np.asarray(y_true)
    proba = np.asarray(proba, dtype=float)
    confidence = proba.max(axis=1)
    correct = np.asarray(classes)[proba.argmax(axis=1)] == y
    fig = Figure(figsize=(6.0, 6.0), layout="constrained")
    top, bottom = fig.subplots(2, 1, height_ratios=[3, 1], sharex=True)
    if 0 < correct.sum() < correct.size:
        CalibrationDisplay.from_predictions(
            correct, confidence, n_bins=10, pos_label=True, name="model", ax=top
        )
    else:  # every answer right (or wrong): sklearn needs both outcomes; one point says it all
        top.plot([0, 1], [0, 1], "k:", label="perfectly calibrated")
        top.plot([confidence.mean()], [correct.mean()], "s-", label="model")
        top.legend()
    title = "Reliability of the top class's probability"
    if ece is not None:
        title += f"\nexpected calibration error (ECE) {ece:.3f}"
    top.set_title(title)
    top.set_xlabel("")
    top.set_ylabel("share right")
    top.set_xlim(0, 1)
    top.set_ylim(0, 1)
    bottom.hist(confidence, bins=np.linspace(0, 1, 21), color=COLORS[0])
    bottom.set_xlabel("stated probability of the top class")
    bottom.set_ylabel("reports")
    return _png(fig)


def coverage_figure(
    series: Mapping[str, curves.CoverageCurve],
    marks: Sequence[Mapping[str, Any]] = (),
    targets: Sequence[tuple[str, float]] = (),
    title: str = "Coverage and precision of confident answers",
) -> bytes:
    """Precision of the answers kept against the share kept, as the confidence threshold falls.

    ``marks``: {"series", "threshold", "label"} points drawn on a series' curve;
    ``targets``: (label, precision) horizontal reference lines.
    """
    fig, axes = _figure((7.5, 4.8))
    ax = axes[0][0]
    for i, (name, curve) in enumerate(series.items()):
        ax.plot(curve.coverage, curve.precision, color=COLORS[i % 10], linewidth=1.6, label=_short(name, 30))
    for label, value in targets:
        ax.axhline(value, color="0.4", linestyle=":", linewidth=1)
        ax.annotate(label, (0.01, value), xytext=(0, 3), textcoords="offset points", fontsize="x-small")
    names = list(series)
    for k, mark in enumerate(marks):
        curve = series[mark["series"]]
        coverage, precision = curve.at(mark["threshold"])
        if precision is None:
            continue
        color = COLORS[names.index(mark["series"]) % 10]
        ax.plot(
            [coverage],
            [precision],
            marker="os^D"[k % 4],
            markersize=9,
            color=color,
            markeredgecolor="black",
            linestyle="none",
        )
        left = coverage > 0.6
        ax.annotate(
            f"{mark['label']} (p ≥ {mark['threshold']:.2f})\n{coverage:.0%} kept, {precision:.0%} right",
            (coverage, precision),
            xytext=(-10 if left else 10, -24 - 12 * (k % 3)),
            textcoords="offset points",
            ha="right" if left else "left",
            fontsize="x-small",
            arrowprops={"arrowstyle": "-", "color": "0.5"},
        )
    ax.set_xlim(0, 1.02)
    ax.set_ylim(max(0.0, min(0.5, *(c.precision.min() - 0.05 for c in series.values()))), 1.02)
    ax.set_xlabel("coverage (share of reports answered)")
    ax.set_ylabel("precision (share of those answers right)")
    ax.set_title(title)
    if len(series) > 1:
        ax.legend(fontsize="small", loc="lower left")
    return _png(fig)


def learning_figure(points: Sequence[Mapping[str, Any]], floor: float | None = None) -> bytes:
    """Test accuracy and macro-F1 of models fitted on growing parts of the training data."""
    fig, axes = _figure((7.0, 4.2))
    ax = axes[0][0]
    n = [p["n_train"] for p in points]
    for i, (key, label) in enumerate((("accuracy", "accuracy"), ("macro_f1", "macro F1"))):
        values = [np.nan if p.get(key) is None else p[key] for p in points]
        ax.plot(n, values, marker="o", color=COLORS[i], label=label)
    if floor is not None:
        ax.axhline(floor, color=COLORS[3], linestyle="--", linewidth=1, label=f"accuracy floor {floor:.0%}")
    ax.set_xlabel("training reports (the newest of the training part)")
    ax.set_ylabel("score on the test part")
    ax.set_ylim(0, 1.02)
    ax.set_title("Learning curve: would more labelled reports help?")
    ax.legend(fontsize="small", loc="lower right")
    return _png(fig)


# -- ranking -------------------------------------------------------------------------------------------------


def topk_figure(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    title: str,
    ylabel: str = "share with the right answer in the top k",
    floor: float | None = None,
    styles: Mapping[str, Mapping[str, Any]] | None = None,
) -> bytes:
    """Share of reports whose right answer is among the first k, against k; one line per series."""
    fig, axes = _figure((7.5, 4.6))
    ax = axes[0][0]
    styles = styles or {}
    for i, (name, (ks, shares)) in enumerate(series.items()):
        style = {"color": COLORS[i % 10], "marker": "o" if len(ks) <= 12 else None, "markersize": 4}
        style.update(styles.get(name, {}))
        ax.plot(ks, shares, label=_short(name, 34), **style)
    if floor is not None:
        ax.axhline(floor, color=COLORS[3], linestyle="--", linewidth=1, label=f"{floor:.0%}")
    ax.set_xlabel("k (candidates shown)")
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    ax.legend(fontsize="x-small", loc="lower right", ncols=2 if len(series) > 6 else 1)
    return _png(fig)


def grouped_bars_figure(
    groups: Sequence[str], values: Mapping[str, Sequence[float | None]], title: str, ylabel: str = "score"
) -> bytes:
    """Bars of several measures (``values``: measure -> one value per group) side by side per group."""
    fig, axes = _figure((max(6.0, 1.1 * len(groups) * max(1, len(values)) / 2 + 3), 4.0))
    ax = axes[0][0]
    x = np.arange(len(groups))
    width = 0.8 / max(1, len(values))
    for i, (name, numbers) in enumerate(values.items()):
        heights = [np.nan if v is None else v for v in numbers]
        ax.bar(
            x + (i - (len(values) - 1) / 2) * width, heights, width=width, color=COLORS[i % 10], label=name
        )
    ax.set_xticks(x, [_short(g, 18) for g in groups], rotation=20 if len(groups) > 4 else 0)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize="small", ncols=min(4, len(values)))
    return _png(fig)


# -- numeric targets -----------------------------------------------------------------------------------------


def residual_figure(y_true: Sequence[float], y_pred: Sequence[float]) -> bytes:
    """Residuals against predicted values, and predicted against actual values."""
    fig, axes = _figure(WIDE, ncols=2)
    for ax, kind in zip(axes[0], ("residual_vs_predicted", "actual_vs_predicted"), strict=True):
        PredictionErrorDisplay.from_predictions(
            np.asarray(y_true, dtype=float),
            np.asarray(y_pred, dtype=float),
            kind=kind,
            ax=ax,
            subsample=None,
            scatter_kwargs={"alpha": 0.4, "s": 10},
        )
    axes[0][0].set_title("Residuals")
    axes[0][1].set_title("Predicted against actual")
    return _png(fig)
