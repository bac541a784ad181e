"""Jira defect-vs-not: experiments on the three validation carves of the training part (never the test).

    python bench/kind_jira_knn.py [--data ../shared/data] [--cache /tmp/jira-knn] prep|knn|...

Carves as in docs/kind-models.md: test = newest 20% of each project (left alone here); carve 1 =
newest 20% of each project's training part, carve k+1 = newest 20% of carve k's fitting part. The
metric is the mean over projects of the ROC AUC of the "not_defect" score.

``prep`` fits the default kind model (of the current code) on each carve's fitting part and caches,
per carve, its feature matrices (fit and validation rows), the calibrated validation scores, and the
labels / projects / filing times. ``knn`` then measures neighbour labels on that cache in a minute
(not adopted: docs/kind-models.md; its rows "without the style fields" there come from a cache made
before they existed, i.e. as with ``style_fields=False``); ``variants`` fits the full kind model
with and without the style fields on each carve.
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import scipy.sparse as sp
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kind_accuracy import jira_label, reports, time_split
from scipy.special import logit
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize

from bugsift.learn.kind.model import build_kind_model

ROOT = Path(__file__).resolve().parents[1]


def load_issues(data: Path, cache: Path) -> list:
    path = cache / "issues.pkl"
    if path.exists():
        with open(path, "rb") as f:
            return pickle.load(f)
    issues = [
        r for r in reports("jira", data / "apache-jira" / "jira_issues.jsonl.xz") if jira_label(r.resolution)
    ]
    with open(path, "wb") as f:
        pickle.dump(issues, f)
    return issues


def carves(issues: list, n: int = 3) -> list[tuple[list, list]]:
    train, _test = time_split(issues, 0.2)
    out = []
    fit = train
    for _ in range(n):
        fit, valid = time_split(fit, 0.2)
        out.append((fit, valid))
    return out


def mean_auc(pos: np.ndarray, score: np.ndarray, projects: np.ndarray) -> float:
    return float(
        np.mean([roc_auc_score(pos[projects == p], score[projects == p]) for p in np.unique(projects)])
    )


def block_slices(features) -> dict[str, slice]:
    """Column ranges of the blocks of a fitted ReportFeatures."""
    sizes = [
        ("title", len(features.title_vectorizer_.vocabulary_)),
        ("word", len(features.body_vectorizer_.vocabulary_)),
    ]
    if features.char_vectorizer_ is not None:
        sizes.append(("chars", len(features.char_vectorizer_.vocabulary_)))
    sizes.append(("field", len(features.field_vectorizer_.vocabulary_)))
    out, start = {}, 0
    for name, size in sizes:
        out[name] = slice(start, start + size)
        start += size
    return out


def prep(data: Path, cache: Path) -> None:
    issues = load_issues(data, cache)
    for k, (fit, valid) in enumerate(carves(issues), 1):
        path = cache / f"carve{k}.pkl"
        if path.exists():
            continue
        t0 = time.perf_counter()
        y_fit = np.array([jira_label(r.resolution) for r in fit], dtype=object)
        model = build_kind_model().fit(fit, list(y_fit))
        Xf = model.transform(fit)
        Xv = model.transform(valid)
        col = list(model.classes_).index("not_defect")
        d = {
            "Xf": Xf,
            "Xv": Xv,
            "yf": y_fit == "not_defect",
            "yv": np.array([jira_label(r.resolution) == "not_defect" for r in valid]),
            "pf": np.array([r.project for r in fit]),
            "pv": np.array([r.project for r in valid]),
            "tf": np.array([r.created_at.timestamp() for r in fit]),
            "tv": np.array([r.created_at.timestamp() for r in valid]),
            "score": model.predict_proba(valid)[:, col],
            "blocks": block_slices(model.features_),
            "C": model.C_,
        }
        with open(path, "wb") as f:
            pickle.dump(d, f)
        auc = mean_auc(d["yv"], d["score"], d["pv"])
        took = time.perf_counter() - t0
        print(f"carve {k}: fit {len(fit)} valid {len(valid)} default AUC {auc:.4f} ({took:.0f}s)")


def load_carve(cache: Path, k: int) -> dict:
    with open(cache / f"carve{k}.pkl", "rb") as f:
        return pickle.load(f)


# ------------------------------------------------------------------ neighbour labels (not adopted)
def _knn_space(d: dict, part: str) -> sp.csr_matrix:
    """The title and description word blocks of the model's own features, rows L2-normalised."""
    X = d["Xf" if part == "f" else "Xv"]
    return normalize(sp.hstack([X[:, d["blocks"][b]] for b in ("title", "word")], format="csr"))


def _share(S: np.ndarray, labels: np.ndarray, k: int, prior: float) -> np.ndarray:
    """Similarity-weighted share of not_defect among each row's k most similar columns (+1 prior)."""
    k = min(k, S.shape[1] - 1)
    idx = np.argpartition(-S, k, axis=1)[:, :k]
    w = np.maximum(np.take_along_axis(S, idx, 1), 0)
    return (np.sum(w * labels[idx], 1) + prior) / (np.sum(w, 1) + 1.0)


def knn_valid(d: dict, k: int, recent: int) -> np.ndarray:
    """Validation rows: neighbours among the ``recent`` newest fitting reports of the same project."""
    F, V, yf = _knn_space(d, "f"), _knn_space(d, "v"), d["yf"].astype(float)
    out = np.empty(V.shape[0])
    for p in np.unique(d["pv"]):
        fi = np.flatnonzero(d["pf"] == p)
        fi = fi[np.argsort(d["tf"][fi])][-recent:]
        vi = np.flatnonzero(d["pv"] == p)
        out[vi] = _share((V[vi] @ F[fi].T).toarray(), yf[fi], k, yf.mean())
    return out


def knn_temporal(d: dict, k: int, recent: int) -> np.ndarray:
    """Fitting rows: neighbours among the ``recent`` reports of the project filed just before."""
    F, yf = _knn_space(d, "f"), d["yf"].astype(float)
    out = np.empty(F.shape[0])
    for p in np.unique(d["pf"]):
        fi = np.flatnonzero(d["pf"] == p)
        fi = fi[np.argsort(d["tf"][fi], kind="stable")]
        S = (F[fi] @ F[fi].T).toarray()
        i = np.arange(len(fi))
        S[~((i[None, :] < i[:, None]) & (i[None, :] >= i[:, None] - recent))] = -1
        out[fi] = _share(S, yf[fi], k, yf.mean())
    return out


def knn(cache: Path) -> None:
    """Neighbour labels on the cached carves: the calibrated model's logit + 0.5 x the neighbours'
    logit, and the neighbours' logit as one more column of the logistic regression (training rows:
    strictly earlier reports, as a prediction at filing time would see)."""
    rows: dict[str, list[float]] = {}
    for c in (1, 2, 3):
        d = load_carve(cache, c)
        age = 0.5 ** ((d["tf"].max() - d["tf"]) / (365.25 * 86400) / 4)
        lr = LogisticRegression(C=1.0, max_iter=2000).fit(d["Xf"], d["yf"], sample_weight=age)
        rows.setdefault("calibrated default model", []).append(mean_auc(d["yv"], d["score"], d["pv"]))
        rows.setdefault("uncalibrated LR (reference of the stacks)", []).append(
            mean_auc(d["yv"], lr.decision_function(d["Xv"]), d["pv"])
        )
        for k, recent in ((300, 1500), (100, 1500), (300, 3000), (300, 10**6)):
            kv = logit(np.clip(knn_valid(d, k, recent), 1e-4, 1 - 1e-4))
            blend = logit(np.clip(d["score"], 1e-6, 1 - 1e-6)) + 0.5 * kv
            rows.setdefault(f"k={k}, newest {recent}: blend", []).append(mean_auc(d["yv"], blend, d["pv"]))
            kt = logit(np.clip(knn_temporal(d, k, recent), 1e-4, 1 - 1e-4))
            mu, sd = kt.mean(), kt.std()
            Xa = sp.hstack([d["Xf"], sp.csr_matrix(((kt - mu) / sd * 0.3)[:, None])], format="csr")
            Va = sp.hstack([d["Xv"], sp.csr_matrix(((kv - mu) / sd * 0.3)[:, None])], format="csr")
            m = LogisticRegression(C=1.0, max_iter=2000).fit(Xa, d["yf"], sample_weight=age)
            rows.setdefault(f"k={k}, newest {recent}: stacked", []).append(
                mean_auc(d["yv"], m.decision_function(Va), d["pv"])
            )
        print(f"carve {c} done", flush=True)
    for name, v in rows.items():
        print(f"{name:44s}", " / ".join(f"{x:.4f}" for x in v), f"(mean {np.mean(v):.4f})")


# ------------------------------------------------------------------ full-model variants
VARIANTS: dict[str, dict] = {
    "without style fields": {"style_fields": False},
    "default (style fields auto)": {},
}


def variants(data: Path, cache: Path, names: list[str]) -> None:
    """Validation AUC of each variant of the full (calibrated) kind model on the three carves."""
    cv = carves(load_issues(data, cache))
    for name in names or list(VARIANTS):
        aucs = []
        for fit, valid in cv:
            model = build_kind_model(**VARIANTS[name]).fit(fit, [jira_label(r.resolution) for r in fit])
            score = model.predict_proba(valid)[:, list(model.classes_).index("not_defect")]
            pos = np.array([jira_label(r.resolution) == "not_defect" for r in valid])
            aucs.append(mean_auc(pos, score, np.array([r.project for r in valid])))
        print(f"{name:40s}", " / ".join(f"{a:.4f}" for a in aucs), f"(mean {np.mean(aucs):.4f})", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/jira-knn"))
    parser.add_argument("step", choices=["prep", "variants", "knn"])
    parser.add_argument("names", nargs="*", help="variants: which (default all)")
    args = parser.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    warnings.simplefilter("ignore", category=UserWarning)
    with threadpool_limits(1):
        if args.step == "prep":
            prep(args.data, args.cache)
        elif args.step == "knn":
            knn(args.cache)
        elif args.step == "variants":
            variants(args.data, args.cache, args.names)
    return 0


if __name__ == "__main__":
    sys.exit(main())
