"""Predictions in the shape of the predict contract (one JSON object per report)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from bugsift.learn.explain import explain_reasons, explain_reasons_batch
from bugsift.sources.base import Report


def predict_reports(
    model: Any, reports: Sequence[Report], threshold: float, top_k: int = 3, explain_n: int = 6
) -> list[dict[str, Any]]:
    """Top prediction, its probability, the top-k candidates, 'uncertain' and an explanation per report
    (up to ``explain_n``, at most 6, reasons in words: `bugsift.learn.reasons`)."""
    if not reports:
        return []
    if hasattr(model, "routed_predict_proba"):  # a kind model: features once, batch why
        # every member (TF-IDF + embedding pair) that scored some reports explains them
        proba, matrix, routes = model.routed_predict_proba(list(reports))
        predicted = proba.argmax(axis=1)
        explanations: list[Any] = [None] * len(reports)
        for member, rows in routes:
            whys = explain_reasons_batch(
                member, matrix[rows], predicted[rows], [reports[i] for i in rows], n=explain_n
            )
            for row, why in zip(rows, whys, strict=True):
                explanations[row] = why
    else:
        proba = model.predict_proba(list(reports))
        explanations = [explain_reasons(model, report, n=explain_n) for report in reports]
    classes = list(model.classes_)
    results = []
    for report, row, why in zip(reports, proba, explanations, strict=True):
        order = np.argsort(-row)
        best = int(order[0])
        results.append(
            {
                "id": report.external_id,
                "prediction": classes[best],
                "probability": round(float(row[best]), 4),
                "candidates": [
                    {"label": classes[int(j)], "probability": round(float(row[int(j)]), 4)}
                    for j in order[:top_k]
                ],
                "uncertain": bool(row[best] < threshold),
                "explanation": why,
            }
        )
    return results
