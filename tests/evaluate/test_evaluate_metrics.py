"""Metrics against hand-computed small cases."""

import json
import math

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss, roc_auc_score

from bugsift.evaluate.metrics import (
    classification_metrics,
    expected_calibration_error,
    majority_baseline,
    precision_at_recall,
    topk_accuracy,
)

# Six-item binary case, positive class "yes" = classes[1].
CLASSES = ["no", "yes"]
Y = ["yes", "yes", "yes", "no", "no", "no"]
P_YES = np.array([0.9, 0.8, 0.4, 0.6, 0.3, 0.1])
PROBA = np.column_stack([1 - P_YES, P_YES])


def assert_plain_json(value):
    """Only built-in JSON types, recursively (np.float64 would pass json.dumps, so check types)."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert type(key) is str
            assert_plain_json(item)
    elif isinstance(value, list):
        for item in value:
            assert_plain_json(item)
    else:
        assert value is None or type(value) in (str, int, float, bool), (value, type(value))


def test_binary_hand_computed():
    m = classification_metrics(Y, PROBA, CLASSES)
    # Predictions: yes, yes, no, yes, no, no -> TP=2, FN=1, FP=1, TN=2.
    assert m["n"] == 6
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["per_class"]["yes"] == pytest.approx(
        {"precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3, "support": 3, "auc": 8 / 9}
    )
    assert m["per_class"]["no"]["precision"] == pytest.approx(2 / 3)
    assert m["per_class"]["no"]["recall"] == pytest.approx(2 / 3)
    assert m["macro_f1"] == pytest.approx(2 / 3)
    assert m["weighted_f1"] == pytest.approx(2 / 3)
    # 9 positive/negative pairs; only (0.4 vs 0.6) is misordered.
    assert m["roc_auc"] == pytest.approx(8 / 9)
    assert m["confusion_matrix"] == [[2, 1], [1, 2]]
    p_true = np.array([0.9, 0.8, 0.4, 0.4, 0.7, 0.9])
    assert m["log_loss"] == pytest.approx(-np.log(p_true).mean())
    # Multiclass Brier: 2 * (1 - p_true)^2 per item for two classes.
    assert m["brier"] == pytest.approx(2 * ((1 - p_true) ** 2).mean())
    assert m["brier"] == pytest.approx(0.29)
    # ... which is twice sklearn's binary Brier score.
    y01 = np.array([1, 1, 1, 0, 0, 0])
    assert m["brier"] == pytest.approx(2 * brier_score_loss(y01, P_YES))
    assert m["classes"] == CLASSES
    assert_plain_json(m)
    json.dumps(m)


def test_class_order_does_not_matter():
    """Columns follow `classes`, whatever their order (sklearn wants sorted labels internally)."""
    a = classification_metrics(Y, PROBA, CLASSES)
    b = classification_metrics(Y, PROBA[:, ::-1], CLASSES[::-1])
    for key in ("accuracy", "macro_f1", "log_loss", "brier", "ece"):
        assert a[key] == pytest.approx(b[key])
    for label in CLASSES:
        assert a["per_class"][label] == pytest.approx(b["per_class"][label])
    # Binary ROC AUC is that of classes[1]: "no" now, i.e. scored by P(no); same ranking quality.
    assert b["roc_auc"] == pytest.approx(8 / 9)
    assert b["confusion_matrix"] == [[2, 1], [1, 2]]


def test_brier_perfect_and_uniform():
    classes = ["a", "b", "c"]
    y = ["a", "b", "c", "a"]
    perfect = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0]], dtype=float)
    assert classification_metrics(y, perfect, classes)["brier"] == pytest.approx(0.0)
    uniform = np.full((4, 3), 1 / 3)
    # (1 - 1/K)^2 + (K - 1) / K^2 = 1 - 1/K.
    assert classification_metrics(y, uniform, classes)["brier"] == pytest.approx(2 / 3)


def test_absent_class_log_loss_and_auc():
    classes = ["a", "b", "c"]
    y = np.array(["a", "b", "a", "b", "a"])
    proba = np.array([[0.7, 0.2, 0.1], [0.3, 0.6, 0.1], [0.5, 0.3, 0.2], [0.6, 0.3, 0.1], [0.2, 0.2, 0.6]])
    m = classification_metrics(y, proba, classes)
    p_true = proba[np.arange(5), [0, 1, 0, 1, 0]]
    assert m["log_loss"] == pytest.approx(-np.log(p_true).mean())
    assert m["per_class"]["c"]["auc"] is None
    assert m["per_class"]["c"]["support"] == 0
    auc_a = roc_auc_score(y == "a", proba[:, 0])
    auc_b = roc_auc_score(y == "b", proba[:, 1])
    assert m["per_class"]["a"]["auc"] == pytest.approx(auc_a)
    assert m["per_class"]["b"]["auc"] == pytest.approx(auc_b) == pytest.approx(5.5 / 6)  # one tie
    assert m["roc_auc"] == pytest.approx((auc_a + auc_b) / 2)
    # "c" is predicted once (wrongly): precision 0, recall undefined.
    assert m["per_class"]["c"]["precision"] == 0.0
    assert m["per_class"]["c"]["recall"] is None
    assert_plain_json(m)


def test_multiclass_auc_matches_sklearn_when_all_present():
    rng = np.random.default_rng(1)
    classes = ["x", "y", "z"]
    y = rng.choice(classes, size=60)
    proba = rng.dirichlet([1, 1, 1], size=60)
    m = classification_metrics(y, proba, classes)
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, proba, multi_class="ovr", labels=classes))


def test_binary_single_class_auc_is_none():
    m = classification_metrics(["no", "no", "no"], PROBA[3:], CLASSES)
    assert m["roc_auc"] is None
    assert m["per_class"]["yes"]["auc"] is None
    assert m["log_loss"] == pytest.approx(-np.log([0.4, 0.7, 0.9]).mean())


def test_input_validation():
    with pytest.raises(ValueError, match="sum to 1"):
        classification_metrics(Y, PROBA * 0.5, CLASSES)
    with pytest.raises(ValueError, match="not in classes"):
        classification_metrics(["maybe"] * 6, PROBA, CLASSES)
    with pytest.raises(ValueError, match="shape"):
        classification_metrics(Y, PROBA[:, :1], CLASSES)


def test_majority_baseline():
    y_train = ["a", "a", "a", "b", "c"]
    y_test = ["a", "b", "c", "a"]
    b = majority_baseline(y_train, y_test, ["a", "b", "c"])
    assert b["majority_class"] == "a"
    assert b["accuracy"] == pytest.approx(0.5)
    assert b["log_loss"] == pytest.approx(-np.log([0.6, 0.2, 0.2, 0.6]).mean())
    assert b["roc_auc"] == pytest.approx(0.5)  # constant scores
    assert b["per_class"]["b"]["precision"] is None  # never predicted
    assert b["confusion_matrix"] == [[2, 0, 0], [1, 0, 0], [1, 0, 0]]
    assert_plain_json(b)


def test_topk_accuracy():
    classes = ["c", "a", "b"]  # deliberately unsorted
    proba = np.array([[0.5, 0.3, 0.2], [0.1, 0.3, 0.6], [0.2, 0.5, 0.3], [0.6, 0.3, 0.1]])
    y = ["c", "a", "b", "b"]
    # ranks of the true class: 1, 2, 2, 3
    assert topk_accuracy(y, proba, classes, 1) == pytest.approx(0.25)
    assert topk_accuracy(y, proba, classes, 2) == pytest.approx(0.75)
    assert topk_accuracy(y, proba, classes, 3) == 1.0
    assert topk_accuracy(Y, PROBA, CLASSES, 1) == pytest.approx(4 / 6)
    assert topk_accuracy(Y, PROBA, CLASSES, 2) == 1.0


def test_precision_at_recall():
    y = np.array([1, 1, 1, 0, 0, 0])
    assert precision_at_recall(y, P_YES, 1.0) == pytest.approx(3 / 4)  # threshold 0.4 lets in 0.6
    assert precision_at_recall(y, P_YES, 2 / 3) == pytest.approx(1.0)
    assert precision_at_recall(y, P_YES, 0.5) == pytest.approx(1.0)
    assert precision_at_recall(np.zeros(3), [0.1, 0.2, 0.3], 0.5) is None


def test_expected_calibration_error():
    classes = ["a", "b"]
    proba = np.tile([0.75, 0.25], (8, 1))
    assert expected_calibration_error(["a"] * 6 + ["b"] * 2, proba, classes) == pytest.approx(0.0)
    proba = np.tile([0.9, 0.1], (4, 1))
    assert expected_calibration_error(["a", "a", "b", "b"], proba, classes) == pytest.approx(0.4)
    # Two bins: 2 items at 0.95 all right (gap 0.05), 2 at 0.55 all wrong (gap 0.55) -> 0.3.
    proba = np.array([[0.95, 0.05], [0.95, 0.05], [0.55, 0.45], [0.55, 0.45]])
    assert expected_calibration_error(["a", "a", "b", "b"], proba, classes) == pytest.approx(0.3)
    assert classification_metrics(["a", "a", "b", "b"], proba, classes)["ece"] == pytest.approx(0.3)
    assert math.isfinite(expected_calibration_error(Y, PROBA, CLASSES, n_bins=1))
