"""The "kind" model family: what kind of report is this (type: bug/feature/question, defect: real or not).

`KindClassifier` = `ReportFeatures` + an L2 logistic regression whose probabilities are calibrated
by `CalibratedClassifierCV` (sigmoid, 3 folds by default; isotonic or none on request). The features are
computed once on the whole training set and the calibration folds refit only the linear model: the
vocabulary / IDF seen by a fold's calibration part is then not quite held out, which costs nothing
measurable and saves two thirds of the training time.

On small training sets (`AUTO_SMALL_N`) the model also averages in an `EmbeddingClassifier` and, when the
reports come from several projects, pools them: each project with at least `POOL_MIN_REPORTS` reports
gets its own pair of members (TF-IDF model + embedding model) trained on every report, the other
projects' at weight `POOL_WEIGHT`; reports of other or no projects go to the pair trained with every
weight 1. The TF-IDF features and the embeddings are computed once and shared by the pairs.

Use `build_kind_model(**params)` for the defaults chosen on the benchmarks (see ``bench/kind_accuracy.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from bugsift.learn.features import AUTO_SMALL_N, ReportFeatures, large_store
from bugsift.sources.base import Report

CALIBRATIONS = ("sigmoid", "isotonic", "none")
# Where each constant below was measured: docs/kind-models.md, "Where the kind model's constants come from".
EMBEDDING_SHARE = 0.5  # the embedding model's share of the average on small-store settings
LARGE_SET_EMBEDDING_SHARE = 0.25  # ... on large-store settings: more words to learn from, less to add
POOL_WEIGHT = 0.1  # the other projects' weight in a project's own pair (pooling)
# A project needs this many training reports for a pair of its own (not tuned): below it its own reports
# are too few to steer a pair's fit, and every pair costs one more fit of both members.
POOL_MIN_REPORTS = 30
YEAR = 365.25 * 24 * 3600.0


class KindClassifier(ClassifierMixin, BaseEstimator):
    """Calibrated linear classifier of `Report` records.

    Parameters
    ----------
    mode, exclude_fields, title_weight, description_weight, char_ngrams, char_weight, field_weight,
    min_df, max_features, clean, use_current_components, max_chars :
        passed to `ReportFeatures` (see there).
    char_body_chars, comments_weight, comments_max_features : passed to `ReportFeatures`.
    style_fields : passed to `ReportFeatures`: read how the title and description are written (how
        much they name the code; first-person words). ``"auto"`` = on the large-store settings.
    C : inverse L2 regularisation of the logistic regression; ``"auto"`` = 10 on the small-store
        settings, 1 on the large-store ones.
    class_weight : None or "balanced".
    half_life_years : weight each training report by 0.5 ** (age / half-life), the age counted back
        from the newest training report (``created_at``; undated reports weigh 1). None = no decay;
        ``"auto"`` = 4 years on the large-store settings, none on the small-store ones.
    calibration : "sigmoid" (default), "isotonic" or "none" (the logistic regression's own probabilities).
    cv : calibration folds.
    random_state : seed of the calibration fold shuffling.
    embeddings : also fit an `EmbeddingClassifier` (all-MiniLM-L6-v2 sentence embeddings of the title
        and of the description's first and last 254-token windows + logistic regression,
        `bugsift.learn.embeddings`) and average its probabilities with this model's (weight
        `EMBEDDING_SHARE`, `LARGE_SET_EMBEDDING_SHARE` on the large-store settings: ``embedding_share_``).
        ``"auto"`` = when torch and the model package are installed and there are at most `AUTO_SMALL_N`
        training reports (encoding, ~7-10 reports/s on 2 cores, stays affordable). Explanations come
        from the TF-IDF member only, toward the class the average predicts.
    pool_projects : fit one pair of members (TF-IDF + embedding model) per project with at least
        `POOL_MIN_REPORTS` training reports, on every training report with the other projects' at
        weight `POOL_WEIGHT` (multiplied into the sample and age weights), and route each report to its
        project's pair (reports of other projects, or none, to the pair fitted with every weight 1).
        Needs two such projects. ``"auto"`` = when the model uses embeddings, on the small-store
        settings.
    size_profile : "small" or "large" store settings for every ``"auto"`` above (and in
        `ReportFeatures`); ``"auto"`` = by size (`AUTO_SMALL_N`). `train` chooses it on validation
        (`bugsift.learn.kind.selection`). Each setting's evidence: docs/kind-models.md.
    """

    def __init__(
        self,
        mode: str = "filing",
        exclude_fields: Sequence[str] = (),
        title_weight: float = 1.0,
        description_weight: float = 1.0,
        char_ngrams: tuple[int, int] | str | None = (2, 5),
        char_weight: float = 1.0,
        field_weight: float = 1.0,
        min_df: int = 2,
        max_features: int | None = 200_000,
        clean: bool = True,
        use_current_components: bool = False,
        max_chars: int = 6000,
        char_body_chars: int | str = "auto",
        comments_weight: float | None = 0.5,
        comments_max_features: int | None = 20_000,
        style_fields: bool | str = "auto",
        C: float | str = 10.0,
        class_weight: str | None = None,
        half_life_years: float | str | None = None,
        calibration: str = "sigmoid",
        cv: int = 3,
        random_state: int = 0,
        embeddings: bool | str = False,
        pool_projects: bool | str = "auto",
        size_profile: str = "auto",
    ) -> None:
        self.mode = mode
        self.exclude_fields = exclude_fields
        self.title_weight = title_weight
        self.description_weight = description_weight
        self.char_ngrams = char_ngrams
        self.char_weight = char_weight
        self.field_weight = field_weight
        self.min_df = min_df
        self.max_features = max_features
        self.clean = clean
        self.use_current_components = use_current_components
        self.max_chars = max_chars
        self.char_body_chars = char_body_chars
        self.comments_weight = comments_weight
        self.comments_max_features = comments_max_features
        self.style_fields = style_fields
        self.C = C
        self.class_weight = class_weight
        self.half_life_years = half_life_years
        self.calibration = calibration
        self.cv = cv
        self.random_state = random_state
        self.embeddings = embeddings
        self.pool_projects = pool_projects
        self.size_profile = size_profile

    def __setstate__(self, state: dict[str, Any]) -> None:
        # model files saved before pooling existed: one pair for every report
        state.setdefault("pool_projects", False)
        state.setdefault("size_profile", "auto")
        if "model_" in state:
            state.setdefault("project_members_", {})
            state.setdefault("embedding_share_", EMBEDDING_SHARE)
        super().__setstate__(state)

    def _make_features(self) -> ReportFeatures:
        return ReportFeatures(
            mode=self.mode,
            exclude_fields=tuple(self.exclude_fields or ()),
            title_weight=self.title_weight,
            description_weight=self.description_weight,
            char_ngrams=self.char_ngrams,
            char_weight=self.char_weight,
            field_weight=self.field_weight,
            min_df=self.min_df,
            max_features=self.max_features,
            clean=self.clean,
            use_current_components=self.use_current_components,
            max_chars=self.max_chars,
            char_body_chars=self.char_body_chars,
            comments_weight=self.comments_weight,
            comments_max_features=self.comments_max_features,
            style_fields=self.style_fields,
            size_profile=self.size_profile,
        )

    def _make_linear(self) -> LogisticRegression:
        return LogisticRegression(C=self.C_, class_weight=self.class_weight, max_iter=2000, tol=1e-4)

    def _age_weights(self, X: Sequence[Report]) -> np.ndarray | None:
        """0.5 ** (age / half-life), age in years before the newest training report (undated: 1)."""
        half_life = self.half_life_years
        if half_life == "auto":
            half_life = 4.0 if large_store(len(X), self.size_profile) else None
        if not half_life:
            return None
        stamps = [r.created_at.timestamp() if r.created_at is not None else None for r in X]
        known = [t for t in stamps if t is not None]
        if not known:
            return None
        newest = max(known)
        years = np.array([0.0 if t is None else (newest - t) / YEAR for t in stamps])
        return np.power(0.5, years / float(half_life))

    def fit(self, X: Sequence[Report], y: Sequence[str], sample_weight: Any = None) -> KindClassifier:
        if self.calibration not in CALIBRATIONS:
            raise ValueError(f"calibration must be one of {CALIBRATIONS}, not {self.calibration!r}")
        y_arr = np.asarray([str(v) for v in y], dtype=object)
        if len(y_arr) != len(X):
            raise ValueError(f"X has {len(X)} reports but y has {len(y_arr)} labels")
        large = large_store(len(X), self.size_profile)
        self.C_ = float(self.C if self.C != "auto" else (1.0 if large else 10.0))
        self.features_ = self._make_features()
        Xt = self.features_.fit_transform(X)
        sw = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
        age = self._age_weights(X)
        if age is not None:
            sw = age if sw is None else sw * age
        self._fit_tfidf_member(Xt, y_arr, sw)
        self.n_features_ = Xt.shape[1]
        emb, self.embedding_model_ = None, None
        self.embedding_share_ = LARGE_SET_EMBEDDING_SHARE if large else EMBEDDING_SHARE
        if self._uses_embeddings(len(X)):
            emb = self._new_embedding_model().embed(X)  # once: every pair's embedding model reads it
            self.embedding_model_ = self._fit_embedding_member(emb, y_arr, sw)
        self.project_members_ = self._fit_project_members(X, Xt, y_arr, emb, sw)
        return self

    def _fit_tfidf_member(self, Xt: Any, y: np.ndarray, sw: np.ndarray | None) -> None:
        """The calibrated logistic regression on the TF-IDF features: model_, classes_, coef_."""
        _, counts = np.unique(y, return_counts=True)
        n_folds = int(min(self.cv, counts.min())) if len(counts) > 1 else 0
        if self.calibration == "none" or n_folds < 2:
            self.model_ = self._make_linear().fit(Xt, y, sample_weight=sw)
        else:
            from sklearn.model_selection import StratifiedKFold

            folds = StratifiedKFold(n_folds, shuffle=True, random_state=self.random_state)
            self.model_ = CalibratedClassifierCV(self._make_linear(), method=self.calibration, cv=folds)
            self.model_.fit(Xt, y, sample_weight=sw)
        self.classes_ = np.asarray(self.model_.classes_, dtype=object)
        # for explain(): the fold-averaged coefficients, computed once here
        self.coef_ = np.mean([np.asarray(m.coef_, dtype=np.float32) for m in self.linear_models()], axis=0)

    def _uses_embeddings(self, n_reports: int) -> bool:
        if self.embeddings == "auto":
            from bugsift.learn.embeddings import embeddings_available

            return n_reports <= AUTO_SMALL_N and embeddings_available()
        return bool(self.embeddings)

    @staticmethod
    def _new_embedding_model() -> Any:
        from bugsift.learn.embeddings import EMBEDDING_C, EmbeddingClassifier

        return EmbeddingClassifier(C=EMBEDDING_C)

    def _fit_embedding_member(self, emb: np.ndarray, y: np.ndarray, sw: np.ndarray | None) -> Any:
        model = self._new_embedding_model().fit_embedded(emb, y, sample_weight=sw)
        if list(model.classes_) != list(self.classes_):  # a calibration quirk would misalign columns
            raise ValueError(f"class order differs: {list(model.classes_)} vs {list(self.classes_)}")
        return model

    def pooled_projects(self, X: Sequence[Report]) -> list[str]:
        """The projects that get a pair of their own when fitting on ``X`` (empty: no pooling)."""
        pool = self.pool_projects
        if pool == "auto":
            pool = not large_store(len(X), self.size_profile) and self._uses_embeddings(len(X))
        if not pool:
            return []
        names, counts = np.unique([r.project or "" for r in X], return_counts=True)
        projects = [str(p) for p, n in zip(names, counts, strict=True) if p and n >= POOL_MIN_REPORTS]
        return projects if len(projects) >= 2 else []

    def _fit_project_members(
        self, X: Sequence[Report], Xt: Any, y: np.ndarray, emb: np.ndarray | None, sw: np.ndarray | None
    ) -> dict[str, KindClassifier]:
        """One pair per pooled project, sharing this model's fitted features (and the embeddings)."""
        members: dict[str, KindClassifier] = {}
        projects = np.asarray([r.project or "" for r in X], dtype=object)
        base = np.ones(len(X)) if sw is None else sw
        for project in self.pooled_projects(X):
            weights = base * np.where(projects == project, 1.0, POOL_WEIGHT)
            member = KindClassifier(**{**self.get_params(), "pool_projects": False})
            member.C_, member.features_, member.n_features_ = self.C_, self.features_, self.n_features_
            member.embedding_share_ = self.embedding_share_
            member._fit_tfidf_member(Xt, y, weights)
            if list(member.classes_) != list(self.classes_):
                raise ValueError(f"class order differs: {list(member.classes_)} vs {list(self.classes_)}")
            member.embedding_model_ = None if emb is None else self._fit_embedding_member(emb, y, weights)
            member.project_members_ = {}
            members[project] = member
        return members

    def member_for(self, report: Report) -> KindClassifier:
        """The pair that predicts ``report``: its project's, or this model's own (every weight 1)."""
        members = getattr(self, "project_members_", None) or {}
        return members.get(report.project or "", self)

    def route(self, X: Sequence[Report]) -> list[tuple[KindClassifier, np.ndarray]]:
        """``X``'s row indices grouped by the pair (see `member_for`) that predicts them."""
        groups: dict[int, tuple[KindClassifier, list[int]]] = {}
        for i, report in enumerate(X):
            member = self.member_for(report)
            groups.setdefault(id(member), (member, []))[1].append(i)
        return [(member, np.asarray(rows, dtype=int)) for member, rows in groups.values()]

    def transform(self, X: Sequence[Report]) -> Any:
        check_is_fitted(self, "model_")
        return self.features_.transform(X)

    def predict_proba(self, X: Sequence[Report]) -> np.ndarray:
        return self.routed_predict_proba(X)[0]

    def routed_predict_proba(
        self, X: Sequence[Report]
    ) -> tuple[np.ndarray, Any, list[tuple[KindClassifier, np.ndarray]]]:
        """Probabilities, the TF-IDF feature matrix of ``X`` (shared by every pair) and `route`'s groups:
        what batch prediction needs to explain each report with the TF-IDF member that scored it."""
        check_is_fitted(self, "model_")
        matrix = self.features_.transform(X)
        embedding_model = getattr(self, "embedding_model_", None)  # absent from older model files
        emb = None if embedding_model is None or len(X) == 0 else embedding_model.embed(X)
        routes = self.route(X)
        proba = np.zeros((len(X), len(self.classes_)))
        for member, rows in routes:
            part = member.model_.predict_proba(matrix[rows])
            if emb is not None:
                embedded = member.embedding_model_.predict_proba_embedded(emb[rows])
                share = self.embedding_share_
                part = (1.0 - share) * part + share * embedded
            proba[rows] = part
        return proba, matrix, routes

    def predict(self, X: Sequence[Report]) -> np.ndarray:
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def linear_models(self) -> list[LogisticRegression]:
        """The fitted linear models (one per calibration fold, or the single one)."""
        check_is_fitted(self, "model_")
        if isinstance(self.model_, CalibratedClassifierCV):
            return [c.estimator for c in self.model_.calibrated_classifiers_]
        return [self.model_]

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags


# Defaults chosen on the benchmarks (bench/kind_accuracy.py); each can be overridden.
DEFAULTS: dict[str, Any] = {
    "mode": "filing",
    "char_ngrams": "auto",
    "char_weight": 1.0,
    "char_body_chars": "auto",
    "comments_weight": 0.5,
    "C": "auto",
    "half_life_years": "auto",
    "calibration": "sigmoid",
    "cv": 3,
}


def build_kind_model(**params: Any) -> KindClassifier:
    """A `KindClassifier` with the benchmark-chosen defaults, overridden by ``params``."""
    return KindClassifier(**{**DEFAULTS, **params})
