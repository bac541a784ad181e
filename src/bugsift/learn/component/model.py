"""Which section of the code a report belongs to: product/component, as a calibrated linear model.

Labels
    A report's label is its component as filed (``Report.filed["component"]``, replayed from the field
    history) where the history is known, else today's components (Jira's flat export has no history).
    A report filed in a bucket (Untriaged, General) that triage has since placed takes today's component.
    Where the tracker has products (Bugzilla) the label is ``"Product::Component"``. A report may carry
    several components (Jira): it is trained once per component (weight 1/n), and a prediction is right
    when it names any of them.

Folding the long tail (``min_support``, default 10)
    A label seen in fewer than ``min_support`` training reports is folded into ``"Product::(other)"``
    when its product has enough history, else into ``"(other)"``. Labels first seen after training
    (new components) are folded the same way at evaluation time. `ComponentModel.folding_` says what was
    folded.

Features (filing-time only)
    The title (camelCase-split words and word pairs) and the title + description (camelCase-split words)
    as TF-IDF, plus reporter-set fields (priority, severity, Bugzilla's version, platform / OS; never the
    product or component themselves, nor Jira's affects-versions, which triagers fill in later).
    Identifiers are split, not dropped: ``FairScheduler.java`` and
    ``org.apache.hadoop.yarn.server.resourcemanager`` say where a bug lives, so class names, packages
    and file paths are kept as words (``fairscheduler``, ``fair``, ``scheduler``, ``resourcemanager``).

Model
    One linear SVM (one-vs-rest, ``C=0.5``), with sample weights halving every ``half_life_years`` of
    age (components come and go; recent history says more), and a softmax over its scores whose
    temperature is fitted on held-out reports (`ComponentModel.calibrate`) so that the probabilities
    are calibrated.

Confidence (second stage)
    The chance that the top answer is right (names any of the report's components) is not the top
    probability: a common component's top probability is right less often than a rare one's, and the
    gap to the runner-up matters. `ComponentModel.fit_confidence` fits a small logistic regression on
    held-out reports (`CONFIDENCE_FEATURES`: top probability, margin, entropy, the predicted label's
    training support, whether its name is written in the title / text, whether it is a folded bucket);
    the ``suggest`` / ``act`` thresholds apply to that confidence. It is kept only when, out of fold on
    those held-out reports, it ranks them better than the top probability does (mean precision of the
    most confident 5% .. 25%); else the confidence is the top probability.

Exclusions
    Exclusions (``exclude``: labels or glob patterns never to predict) are learnt like any other
    label, then dropped from ``classes_``: the remaining probabilities are renormalised, and
    the thresholds chosen on held-out data with the same exclusions account for the reports that
    really belong to an excluded component.

`ScopedComponentModel` holds one `ComponentModel` per tracker or project (Jira: per project) in one file.
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize_scalar
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from bugsift.learn import reasons
from bugsift.learn.features import TRIAGED_AFTER_FILING
from bugsift.learn.vectorizers import CompactTfidfVectorizer as TfidfVectorizer
from bugsift.sources.base import Report

SEP = "::"
OTHER = "(other)"
DEFAULT_MIN_SUPPORT = 10
CONFIDENCE_FEATURES = (
    "top_probability",
    "margin",
    "entropy",
    "log_support",
    "label_in_title",
    "label_in_text",
    "is_bucket",
)

# -------------------------------------------------------------------------------------------------
# Labels


def _names(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple)):
        out = []
        for v in value:
            if isinstance(v, dict):
                v = v.get("name") or v.get("value")
            if v not in (None, ""):
                out.append(str(v))
        return out
    return [str(value)]


def report_labels(report: Report) -> tuple[list[str], bool]:
    """The component labels of a report, and whether they are the filing-time values.

    Filing-time values (``report.filed``) win where the history gave them, unless they are a bucket
    that triage has since replaced with a real component; else today's components.
    With a product the label is ``"Product::Component"``; an empty list means "no component".
    """
    filed = report.filed or {}
    components = _names(filed.get("component"))
    from_filing = bool(components)
    product = (filed.get("product") if from_filing else None) or report.product
    labels = [f"{product}{SEP}{c}" if product else c for c in components]
    today = [
        f"{report.product}{SEP}{c}" if report.product else c
        for c in _names(report.components) or _names(report.component)
    ]
    # Filed in a bucket (Untriaged, General) and placed by triage since: where it was placed is what
    # the report was about; the bucket only says nobody had looked yet.
    if not labels or (all(map(is_catch_all, labels)) and not all(map(is_catch_all, today or labels))):
        return list(dict.fromkeys(today)), False
    return list(dict.fromkeys(labels)), from_filing


# The score of a component outside the product a report names: far below any SVM score, so the softmax
# gives it no weight, yet finite (no NaN when every class is outside).
_OUTSIDE_PRODUCT = -1e4


def product_of(label: str) -> str | None:
    return label.split(SEP, 1)[0] if SEP in label else None


def fold_map(label_lists: Iterable[Sequence[str]], min_support: int) -> dict[str, str]:
    """Label -> label kept or bucket it is folded into, from the training reports' labels."""
    counts: Counter[str] = Counter()
    products: Counter[str] = Counter()
    for labels in label_lists:
        counts.update(set(labels))
        products.update({p for p in map(product_of, labels) if p})
    mapping = {}
    for label, n in counts.items():
        if n >= min_support:
            mapping[label] = label
        else:
            mapping[label] = fold_label(label, products, min_support)
    return mapping


def fold_label(label: str, products: Any, min_support: int) -> str:
    """The bucket of a label with too little history: its product's "(other)", else "(other)"."""
    product = product_of(label)
    if product and products.get(product, 0) >= min_support:
        return f"{product}{SEP}{OTHER}"
    return OTHER


# Where trackers park reports nobody has placed yet (Bugzilla's Untriaged, General): a bucket, not a
# section of the code, like the folded "(other)".
CATCH_ALL_COMPONENTS = frozenset({"untriaged", "general", OTHER})


def is_catch_all(label: str) -> bool:
    """Whether a label is a bucket rather than a component: folded, Untriaged or General."""
    short = label.split(SEP, 1)[1] if SEP in label else label
    return short.strip().lower() in CATCH_ALL_COMPONENTS


def is_excluded(label: str, patterns: Sequence[str]) -> bool:
    """A label matches an exclusion given as a full label, a bare component name or a glob pattern."""
    short = label.split(SEP, 1)[1] if SEP in label else label
    return any(label == p or short == p or fnmatch.fnmatchcase(label, p) for p in patterns)


# -------------------------------------------------------------------------------------------------
# Features

_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+")


def tokens(text: str, max_chars: int) -> list[str]:
    """Lower-cased words with identifiers split: ``RMAppAttemptMetrics`` -> rmappattemptmetrics rm app ...

    Dots, slashes, dashes and underscores split words already, so packages and paths become their parts.
    """
    out: list[str] = []
    for word in _TOKEN.findall(text[:max_chars]):
        lower = word.lower()
        if len(lower) > 1:
            out.append(lower)
        if not word.islower() and not word.isupper():
            parts = _CAMEL.findall(word)
            if len(parts) > 1:
                out.extend(p.lower() for p in parts if len(p) > 1)
        if "_" in word:
            out.extend(p.lower() for p in word.split("_") if len(p) > 1)
    return out


def _vectorizer(ngrams: tuple[int, int], min_df: int) -> TfidfVectorizer:
    # Texts are pre-tokenised (space-separated), so no callable analyzer lives in the saved model.
    return TfidfVectorizer(
        token_pattern=r"\S+",
        lowercase=False,
        ngram_range=ngrams,
        sublinear_tf=True,
        min_df=min_df,
        max_df=0.9,
        dtype=np.float32,
    )


class ComponentFeatures(TransformerMixin, BaseEstimator):
    """Filing-time features for component prediction: ``list[Report]`` in, sparse rows out.

    Blocks (column names prefixed for explanations): ``title:`` words and word pairs of the title,
    ``text:`` words of title + description, ``field:`` reporter-set fields.
    """

    def __init__(
        self, title_weight: float = 1.0, field_weight: float = 0.3, min_df: int = 2, max_chars: int = 10_000
    ) -> None:
        self.title_weight = title_weight
        self.field_weight = field_weight
        self.min_df = min_df
        self.max_chars = max_chars

    def _parts(self, reports: Sequence[Report]) -> tuple[list[str], list[str], list[dict[str, float]]]:
        titles, texts, fields = [], [], []
        # today's Jira affects-versions are not known at filing (features.TRIAGED_AFTER_FILING); a model
        # saved before 0.15 still reads them, as it was fitted
        read = [
            k
            for k in ("versions", "version", "platform", "op_sys")
            if not (getattr(self, "triaged_fields_excluded_", False) and k in TRIAGED_AFTER_FILING)
        ]
        for r in reports:
            filed = r.filed or {}
            title = filed.get("title") or filed.get("summary") or r.title or ""
            title_tokens = tokens(title, 1000)
            titles.append(" ".join(title_tokens))
            texts.append(" ".join(title_tokens + tokens(r.description or "", self.max_chars)))
            f: dict[str, float] = {}
            extra = r.extra or {}
            for key, value in (
                ("priority", filed.get("priority") if r.filed else r.priority),
                ("severity", filed.get("severity") if r.filed else r.severity),
            ):
                if value:
                    f[f"{key}={value}"] = 1.0
            for key in read:
                for value in _names(extra.get(key)):
                    f[f"{key}={value}"] = 1.0
            f["has_description"] = 1.0 if (r.description or "").strip() else 0.0
            fields.append(f)
        return titles, texts, fields

    def fit(self, X: Sequence[Report], y: Any = None) -> ComponentFeatures:
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X: Sequence[Report], y: Any = None, **fit_params: Any) -> sp.csr_matrix:
        self.triaged_fields_excluded_ = True
        titles, texts, fields = self._parts(X)
        self.title_vectorizer_ = _vectorizer((1, 2), self.min_df)
        self.text_vectorizer_ = _vectorizer((1, 1), self.min_df)
        self.field_vectorizer_ = DictVectorizer(dtype=np.float32)
        blocks = [
            _fit_text(self.title_vectorizer_, titles) * self.title_weight,
            _fit_text(self.text_vectorizer_, texts),
            self.field_vectorizer_.fit_transform(fields) * self.field_weight,
        ]
        return sp.hstack(blocks, format="csr", dtype=np.float32)

    def transform(self, X: Sequence[Report]) -> sp.csr_matrix:
        titles, texts, fields = self._parts(X)
        blocks = [
            self.title_vectorizer_.transform(titles) * self.title_weight,
            self.text_vectorizer_.transform(texts),
            self.field_vectorizer_.transform(fields) * self.field_weight,
        ]
        return sp.hstack(blocks, format="csr", dtype=np.float32)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        names = [f"title:{w}" for w in self.title_vectorizer_.get_feature_names_out()]
        names += [f"text:{w}" for w in self.text_vectorizer_.get_feature_names_out()]
        names += [f"field:{w}" for w in self.field_vectorizer_.get_feature_names_out()]
        return np.asarray(names, dtype=object)


def _fit_text(vectorizer: TfidfVectorizer, texts: list[str]) -> sp.csr_matrix:
    try:
        return vectorizer.fit_transform(texts)
    except ValueError:  # tiny data: every word too rare or too common
        vectorizer.set_params(min_df=1, max_df=1.0)
        return vectorizer.fit_transform([t + " xxempty" for t in texts])


# -------------------------------------------------------------------------------------------------
# The model


def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


class ComponentModel(ClassifierMixin, BaseEstimator):
    """Calibrated component classifier of one tracker or project.

    ``fit(reports, labels)`` takes one list of labels per report (as `report_labels` gives them);
    ``classes_`` are the (folded) labels it may predict, exclusions removed; ``predict_proba`` rows
    sum to 1 over ``classes_``.

    Parameters
    ----------
    min_support : labels with fewer training reports are folded (see the module docstring)
    exclude : labels, bare component names or glob patterns never to predict
    C : regularisation of the linear SVM
    half_life_years : sample weights halve per this many years before the newest report (None: off)
    title_weight, field_weight, min_df, max_chars : see `ComponentFeatures`
    second_stage : whether `fit_confidence` learns a confidence model (else confidence = top probability)
    """

    def __init__(
        self,
        min_support: int = DEFAULT_MIN_SUPPORT,
        exclude: Sequence[str] = (),
        C: float = 0.5,
        half_life_years: float | None = 2.0,
        title_weight: float = 1.0,
        field_weight: float = 0.3,
        min_df: int = 2,
        max_chars: int = 10_000,
        second_stage: bool = True,
    ) -> None:
        self.min_support = min_support
        self.exclude = exclude
        self.C = C
        self.half_life_years = half_life_years
        self.title_weight = title_weight
        self.field_weight = field_weight
        self.min_df = min_df
        self.max_chars = max_chars
        self.second_stage = second_stage

    # -- labels --------------------------------------------------------------------------------------
    def fold(self, labels: Sequence[str]) -> list[str]:
        """Map raw labels to the labels this model knows (new or rare ones to their bucket)."""
        out = []
        for label in labels:
            folded = self.fold_map_.get(label)
            if folded is None:
                folded = fold_label(label, self.product_support_, self.min_support)
            out.append(folded)
        return list(dict.fromkeys(out))

    def _weights(self, reports: Sequence[Report]) -> np.ndarray:
        if not self.half_life_years:
            return np.ones(len(reports))
        stamps = [r.created_at.timestamp() if r.created_at else math.nan for r in reports]
        when = np.asarray(stamps, dtype=np.float64)
        if np.isnan(when).all():
            return np.ones(len(reports))
        newest = np.nanmax(when)
        when = np.where(np.isnan(when), np.nanmedian(when), when)
        age_years = (newest - when) / (365.25 * 86400)
        return np.power(0.5, age_years / self.half_life_years)

    # -- sklearn API ---------------------------------------------------------------------------------
    def fit(self, X: Sequence[Report], y: Sequence[Sequence[str]]) -> ComponentModel:
        reports = list(X)
        label_lists = [list(labels) for labels in y]
        if len(reports) != len(label_lists):
            raise ValueError(f"{len(reports)} reports but {len(label_lists)} label lists")
        keep = [i for i, labels in enumerate(label_lists) if labels]
        reports = [reports[i] for i in keep]
        label_lists = [label_lists[i] for i in keep]
        self.fold_map_ = fold_map(label_lists, self.min_support)
        products: Counter[str] = Counter()
        for labels in label_lists:
            products.update({p for p in map(product_of, labels) if p})
        self.product_support_ = dict(products)
        folded = [self.fold(labels) for labels in label_lists]
        counts = Counter(label for labels in folded for label in labels)
        if len(counts) < 2:
            raise ValueError(f"need at least two components to learn, found {dict(counts)}")
        self.folding_ = {
            "min_support": self.min_support,
            "n_labels": len(self.fold_map_),
            "n_kept": sum(1 for k, v in self.fold_map_.items() if k == v),
            "folded": {k: v for k, v in sorted(self.fold_map_.items()) if k != v},
            "n_reports_folded": sum(
                1 for labels in label_lists if any(self.fold_map_[x] != x for x in labels)
            ),
        }
        self.features_ = ComponentFeatures(self.title_weight, self.field_weight, self.min_df, self.max_chars)
        matrix = self.features_.fit_transform(reports)
        weights = self._weights(reports)
        rows, targets, sample_weight = [], [], []
        for i, labels in enumerate(folded):
            for label in labels:
                rows.append(i)
                targets.append(label)
                sample_weight.append(weights[i] / len(labels))
        self.svm_ = LinearSVC(C=self.C, max_iter=5000).fit(
            matrix[rows], targets, sample_weight=np.asarray(sample_weight)
        )
        all_classes = [str(c) for c in self.svm_.classes_]
        allowed = [j for j, c in enumerate(all_classes) if not is_excluded(c, self.exclude)]
        if not allowed:
            raise ValueError("every component is excluded: nothing left to predict")
        self.allowed_ = np.asarray(allowed, dtype=np.intp)
        self.classes_ = np.asarray([all_classes[j] for j in allowed], dtype=object)
        self.excluded_ = [c for c in all_classes if is_excluded(c, self.exclude)]
        self.class_support_ = {c: int(counts[c]) for c in all_classes}
        self.temperature_ = 0.1
        self.confidence_ = None
        self.confidence_gain_ = None
        return self

    def transform(self, X: Sequence[Report]) -> sp.csr_matrix:
        """The feature rows of reports (to share one transform between probabilities and explanations)."""
        return self.features_.transform(list(X))

    def decision_from_features(
        self, matrix: sp.csr_matrix, reports: Sequence[Report] | None = None
    ) -> np.ndarray:
        """SVM scores of the allowed classes; with ``reports``, a report that names a product this model
        knows only gets components of that product (the others score `_OUTSIDE_PRODUCT`)."""
        scores = self.svm_.decision_function(matrix)
        if scores.ndim == 1:  # two classes: LinearSVC gives one column for classes_[1]
            scores = np.column_stack([-scores / 2, scores / 2])
        scores = scores[:, self.allowed_]
        if reports is not None:
            scores = np.where(self.product_mask(reports), scores, _OUTSIDE_PRODUCT)
        return scores

    def product_mask(self, reports: Sequence[Report]) -> np.ndarray:
        """(reports x classes) True where the class may answer: its product is the one the report names
        (as filed, else as typed), or the report names none this model knows."""
        products = np.asarray([product_of(str(c)) for c in self.classes_], dtype=object)
        mask = np.ones((len(reports), len(products)), dtype=bool)
        for i, report in enumerate(reports):
            named = (report.filed or {}).get("product") or report.product
            if named and (products == named).any():
                mask[i] = products == named
        return mask

    def proba_from_features(
        self, matrix: sp.csr_matrix, reports: Sequence[Report] | None = None
    ) -> np.ndarray:
        return _softmax(self.decision_from_features(matrix, reports) / self.temperature_)

    def decision_function(self, X: Sequence[Report]) -> np.ndarray:
        return self.decision_from_features(self.transform(X), X)

    def predict_proba(self, X: Sequence[Report]) -> np.ndarray:
        return self.proba_from_features(self.transform(X), X)

    def predict(self, X: Sequence[Report]) -> np.ndarray:
        return self.classes_[self.decision_function(X).argmax(axis=1)]

    def calibrate(self, X: Sequence[Report], y: Sequence[Sequence[str]]) -> ComponentModel:
        """Fit the softmax temperature on held-out reports (never the ones it was fitted on)."""
        scores = self.decision_function(X)
        self.temperature_ = fit_temperature(scores, self.truth_mask(y))
        return self

    # -- confidence of the top answer ------------------------------------------------------------------
    def confidence_features(self, proba: np.ndarray, reports: Sequence[Report]) -> np.ndarray:
        """Rows of `CONFIDENCE_FEATURES` for the top answer of each report."""
        order = np.argsort(-proba, axis=1, kind="stable")
        rows = np.arange(len(proba))
        p1 = proba[rows, order[:, 0]]
        p2 = proba[rows, order[:, 1]] if proba.shape[1] > 1 else np.zeros(len(proba))
        entropy = -(proba * np.log(np.clip(proba, 1e-12, None))).sum(axis=1)
        out = np.zeros((len(proba), len(CONFIDENCE_FEATURES)))
        out[:, 0], out[:, 1], out[:, 2] = p1, p1 - p2, entropy
        words = self.__dict__.get("_label_words_cache")
        if words is None:
            words = self.__dict__["_label_words_cache"] = [_label_words(str(c)) for c in self.classes_]
        for i, report in enumerate(reports):
            label = str(self.classes_[order[i, 0]])
            out[i, 3] = math.log1p(self.class_support_.get(label, 0))
            mine = words[order[i, 0]]
            if mine:
                title = set(tokens(report.title or "", 1000))
                out[i, 4] = float(mine <= title)
                out[i, 5] = float(
                    mine <= title or mine <= set(tokens(report.description or "", self.max_chars))
                )
            out[i, 6] = float(label == OTHER or label.endswith(SEP + OTHER))
        return out

    def fit_confidence(
        self, proba: np.ndarray, reports: Sequence[Report], y: Sequence[Sequence[str]]
    ) -> np.ndarray | None:
        """Learn P(top answer right) on held-out reports; returns out-of-fold confidences for choosing
        thresholds on the same reports (None when there is too little to learn from: top probability)."""
        self.confidence_ = None
        self.confidence_gain_ = None
        truth = self.truth_mask(y)
        right = truth[np.arange(len(proba)), proba.argmax(axis=1)]
        n_minority = min(int(right.sum()), int((~right).sum()))
        if not self.second_stage or n_minority < 10:
            return None
        X = self.confidence_features(proba, reports)
        pipeline = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
        folds = StratifiedKFold(n_splits=min(5, n_minority), shuffle=True, random_state=0)
        out_of_fold = cross_val_predict(pipeline, X, right, cv=folds, method="predict_proba")[:, 1]
        # Keep it only where it ranks the held-out reports better than the top probability does (it
        # did on the newest Jira reports, not on an older carve: the evidence is mixed, so ask the data).
        self.confidence_gain_ = float(
            _top_precision(out_of_fold, right) - _top_precision(proba.max(axis=1), right)
        )
        if self.confidence_gain_ <= 0:
            return None
        pipeline.fit(X, right)
        scaler, lr = pipeline[0], pipeline[-1]
        # stored as plain arrays: x -> sigmoid(((x - mean) / scale) . coef + intercept)
        self.confidence_ = {
            "mean": scaler.mean_.astype(np.float64),
            "scale": scaler.scale_.astype(np.float64),
            "coef": lr.coef_[0].astype(np.float64),
            "intercept": float(lr.intercept_[0]),
        }
        return out_of_fold

    def confidence(self, proba: np.ndarray, reports: Sequence[Report]) -> np.ndarray:
        """P(the top answer names one of the report's components); the top probability without a model."""
        params = getattr(self, "confidence_", None)
        if not params:
            return proba.max(axis=1)
        X = (self.confidence_features(proba, reports) - params["mean"]) / params["scale"]
        return 1.0 / (1.0 + np.exp(-(X @ params["coef"] + params["intercept"])))

    def truth_mask(self, y: Sequence[Sequence[str]]) -> np.ndarray:
        """Boolean (reports x classes_): which predictable labels would count as right."""
        index = {c: j for j, c in enumerate(self.classes_)}
        mask = np.zeros((len(y), len(self.classes_)), dtype=bool)
        for i, labels in enumerate(y):
            for label in self.fold(labels):
                if label in index:
                    mask[i, index[label]] = True
        return mask

    # -- explanations --------------------------------------------------------------------------------
    def explain(self, report: Report, label: str, n: int = 8) -> list[str]:
        """The words and fields that pushed ``report`` towards ``label`` the most."""
        return self.explain_features(self.transform([report]), 0, label, n)

    def explain_features(self, matrix: sp.csr_matrix, i: int, label: str, n: int = 8) -> list[str]:
        """`explain` for row ``i`` of an already transformed matrix."""
        indices, contributions = self._contributions(matrix, i, label)
        order = np.argsort(-contributions)[:n]
        names = self._feature_names()
        return [str(names[indices[k]]) for k in order if contributions[k] > 0]

    def _contributions(self, matrix: sp.csr_matrix, i: int, label: str) -> tuple[np.ndarray, np.ndarray]:
        """The feature indices of row ``i`` and how much each pushed it towards ``label``."""
        j = list(self.svm_.classes_).index(label)
        coef = self.svm_.coef_
        weights = coef[j] if coef.shape[0] > 1 else (coef[0] if j == 1 else -coef[0])
        start, end = matrix.indptr[i], matrix.indptr[i + 1]
        indices = matrix.indices[start:end]
        return indices, matrix.data[start:end] * weights[indices]

    def explain_reasons(
        self, matrix: sp.csr_matrix, i: int, label: str, report: Report, n: int = 6
    ) -> list[dict[str, Any]]:
        """`explain_features` in words (`bugsift.learn.reasons`): 3-6 reasons for row ``i``."""
        indices, contributions = self._contributions(matrix, i, label)
        n = min(max(n, 1), reasons.MAX_REASONS)
        order = np.argsort(-contributions)[: n * 3]
        names = self._feature_names()
        items = [
            {"feature": str(names[indices[k]]), "weight": float(contributions[k])}
            for k in order
            if contributions[k] > 0
        ]
        return reasons.from_features(items, report, n)

    def _feature_names(self) -> np.ndarray:
        names = self.__dict__.get("_feature_names_cache")
        if names is None:
            names = self.__dict__["_feature_names_cache"] = self.features_.get_feature_names_out()
        return names

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        state.pop("_feature_names_cache", None)  # rebuilt on demand; not worth saving
        state.pop("_label_words_cache", None)
        return state


def _top_precision(confidence: np.ndarray, correct: np.ndarray) -> float:
    """Mean precision of the most confident 5%, 10% .. 25% of reports: how well a confidence ranks."""
    order = np.argsort(-confidence, kind="stable")
    hits = correct[order]
    sizes = [max(1, round(share * len(order))) for share in (0.05, 0.1, 0.15, 0.2, 0.25)]
    return float(np.mean([hits[:k].mean() for k in sizes]))


def _label_words(label: str) -> set[str]:
    """The words of a component's own name (``Query Processor`` -> query, processor); none for buckets."""
    short = label.split(SEP, 1)[1] if SEP in label else label
    return set() if short == OTHER else set(tokens(short, 200))


def fit_temperature(scores: np.ndarray, truth: np.ndarray) -> float:
    """Temperature minimising the negative log-likelihood of "right" (any true label) on held-out rows."""
    known = truth.any(axis=1)
    if known.sum() < 5:
        return 0.1
    s, t = scores[known], truth[known]

    def nll(log_t: float) -> float:
        p = _softmax(s / math.exp(log_t))
        return float(-np.log(np.clip((p * t).sum(axis=1), 1e-12, None)).mean())

    result = minimize_scalar(nll, bounds=(math.log(0.005), math.log(5.0)), method="bounded")
    return float(math.exp(result.x))


class ScopedComponentModel(BaseEstimator):
    """One `ComponentModel` per scope (tracker, or tracker + project) in one saved object.

    ``scopes_`` maps a scope key (`scope_key`) to its model; ``thresholds_`` to its ``suggest`` / ``act``
    thresholds. Reports of an unknown scope fall back to the tracker's only model when there is one.
    """

    def __init__(self, per_project: bool = True) -> None:
        self.per_project = per_project

    def scope_of(self, report: Report) -> str | None:
        key = scope_key(report, self.per_project)
        if key in self.scopes_:
            return key
        same_tracker = [k for k in self.scopes_ if k.split("/", 1)[0] == report.tracker]
        if len(same_tracker) == 1:
            return same_tracker[0]
        return next(iter(self.scopes_)) if len(self.scopes_) == 1 else None


def scope_key(report: Report, per_project: bool) -> str:
    """``tracker/project`` when models are per project and the report has one, else ``tracker``."""
    if per_project and report.project:
        return f"{report.tracker}/{report.project}"
    return report.tracker


# Types of a saved component model beyond skops' defaults and `bugsift.learn.persist.TRUSTED_TYPES`
# (read by persist through ``TRUSTED_TYPE_MODULES``).
TRUSTED_TYPES: list[str] = [
    "bugsift.learn.component.model.ComponentFeatures",
    "bugsift.learn.component.model.ComponentModel",
    "bugsift.learn.component.model.ScopedComponentModel",
]
