"""Evaluation primitives: splits, metrics, confidence thresholds and text reports (pure functions)."""

from bugsift.evaluate.metrics import (
    classification_metrics,
    expected_calibration_error,
    majority_baseline,
    precision_at_recall,
    topk_accuracy,
)
from bugsift.evaluate.splits import calibration_split, random_split, stratified_kfold, time_split
from bugsift.evaluate.text_report import format_metrics
from bugsift.evaluate.thresholds import DEFAULT_THRESHOLDS, choose_threshold, coverage_table

__all__ = [
    "DEFAULT_THRESHOLDS",
    "calibration_split",
    "choose_threshold",
    "classification_metrics",
    "coverage_table",
    "expected_calibration_error",
    "format_metrics",
    "majority_baseline",
    "precision_at_recall",
    "random_split",
    "stratified_kfold",
    "time_split",
    "topk_accuracy",
]
