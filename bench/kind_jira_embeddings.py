"""Jira defect-vs-not: do sentence embeddings help the TF-IDF kind model? (validation carves only)

    HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/kind_jira_embeddings.py \\
        [--data ../shared/data] [--cache /tmp/jira-emb] encode title body_first [--max-length 128]
    ... kind_jira_embeddings.py tfidf     # the shipped TF-IDF model's validation scores, per carve
    ... kind_jira_embeddings.py eval      # embedding members on the cached vectors + the table

Carves and metric as in bench/kind_jira_knn.py (the test part, the newest 20% of each project, is never
read: only the training part is encoded). ``encode`` embeds each view's text (`view_texts`) of every
training report with `encode_texts` and caches the vectors on disk, per view and max length, keyed by
the text's hash, in chunks, so an interrupted run resumes. ``tfidf`` fits
``build_kind_model(embeddings=False)`` on each carve's fitting part and stores its "not_defect"
probabilities on the validation part. ``eval`` fits `EmbeddingClassifier` members on the cached vectors
(`fit_embedded` with the shipped model's age weights: half-life 4 years) either one on every report
("single") or one per project with the other projects' reports at weight `POOL_WEIGHT` ("pooled", as
the kind model pools when embeddings are on), and prints the mean-over-project AUC of the TF-IDF model,
the embedding model alone and the averages with embedding share 0.3 / 0.5 / 0.7.

``midsize`` asks whether project pooling (``pool_projects="auto"`` turns it on with the embeddings up to
`AUTO_SMALL_N` reports) helps on a mid-size multi-project store: for N = 1,000 / 2,500 / 5,000 it keeps
the newest N/5 fitting reports of each of the five projects (all of a project's if it has fewer; the
validation part is unchanged) and prints, per N, the validation AUC of the TF-IDF model
(``build_kind_model(embeddings=False)``, i.e. with the small-set "auto" settings) unpooled and pooled,
of the three-view embedding model (C = 1, no age decay, as the kind model below `AUTO_SMALL_N`) alone,
and of their averages at embedding share 0.25 / 0.5, unpooled with unpooled and pooled with pooled (the
latter at 0.5 is what ``embeddings=True`` ships there). TF-IDF scores are cached per N and carve.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kind_accuracy import jira_label
from kind_jira_knn import carves, load_issues, mean_auc

from bugsift.learn.embeddings import EmbeddingClassifier, encode_texts, view_texts
from bugsift.learn.kind.model import POOL_WEIGHT, YEAR, build_kind_model

ROOT = Path(__file__).resolve().parents[1]
CHUNK = 1024
HALF_LIFE = 4.0  # the shipped model's half-life above AUTO_SMALL_N training reports
SHARES = (0.2, 0.3, 0.5, 0.7)


def text_key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def view_dir(cache: Path, view: str, max_length: int) -> Path:
    return cache / f"emb-{view}-L{max_length}"


def load_vectors(cache: Path, view: str, max_length: int) -> dict[bytes, np.ndarray]:
    out: dict[bytes, np.ndarray] = {}
    folder = view_dir(cache, view, max_length)
    for path in sorted(folder.glob("part*.npz")) if folder.exists() else []:
        with np.load(path) as z:
            for key, vec in zip(z["keys"], z["vecs"], strict=True):
                out[key.tobytes()] = vec
    return out


def train_part(issues: list) -> list:
    """Every report of the three carves (= the training part; the test part is left out)."""
    fit, valid = carves(issues, 1)[0]
    return fit + valid


def cached_texts(reports: list, view: str, cache: Path) -> list[str]:
    """`view_texts` of the training part, kept on disk (the body windows need the tokenizer)."""
    import pickle

    path = cache / f"texts-{view}.pkl"
    if path.exists():
        with open(path, "rb") as f:
            return pickle.load(f)
    t0 = time.perf_counter()
    texts = view_texts(reports, view)
    with open(path, "wb") as f:
        pickle.dump(texts, f)
    print(f"{view}: {len(texts)} texts cut in {time.perf_counter() - t0:.0f}s", flush=True)
    return texts


def encode(data: Path, cache: Path, views: list[str], max_length: int) -> None:
    reports = train_part(load_issues(data, cache))
    for view in views:
        texts = cached_texts(reports, view, cache)
        have = load_vectors(cache, view, max_length)
        # a text already encoded for another view has the same vector (a short body is its own first
        # and last window): copy it into this view's cache instead of encoding it again
        others: dict[bytes, np.ndarray] = {}
        for other in ("title", "body_first", "body_last"):
            if other != view:
                others.update(load_vectors(cache, other, max_length))
        todo: dict[bytes, str] = {}
        copied: dict[bytes, np.ndarray] = {}
        for text in texts:
            key = text_key(text)
            if key in others and key not in have:
                copied[key] = others[key]
            elif key not in have:
                todo.setdefault(key, text)
        folder = view_dir(cache, view, max_length)
        folder.mkdir(parents=True, exist_ok=True)
        start = len(list(folder.glob("part*.npz")))
        if copied:
            keys = np.frombuffer(b"".join(copied), dtype=np.uint8).reshape(len(copied), 16)
            np.savez(folder / f"part{start:04d}.npz", keys=keys, vecs=np.stack(list(copied.values())))
            start += 1
        items = list(todo.items())
        print(
            f"{view} (max {max_length} tokens): {len(texts)} texts, {len(have)} cached, "
            f"{len(copied)} copied from other views, {len(items)} to encode",
            flush=True,
        )
        t_all, done = time.perf_counter(), 0
        for i in range(0, len(items), CHUNK):
            part = items[i : i + CHUNK]
            t0 = time.perf_counter()
            vecs = encode_texts([t for _, t in part], max_length)
            took = time.perf_counter() - t0
            keys = np.frombuffer(b"".join(k for k, _ in part), dtype=np.uint8).reshape(len(part), 16)
            np.savez(folder / f"part{start + i // CHUNK:04d}.npz", keys=keys, vecs=vecs)
            done += len(part)
            rate = done / (time.perf_counter() - t_all)
            print(
                f"  {done}/{len(items)}: {len(part) / took:.1f} texts/s (chunk), {rate:.1f} overall, "
                f"ETA {(len(items) - done) / rate / 60:.0f} min",
                flush=True,
            )
        if items:
            took = time.perf_counter() - t_all
            print(f"{view}: {len(items)} texts in {took:.0f}s = {len(items) / took:.1f} texts/s", flush=True)


def labels(reports: list) -> np.ndarray:
    return np.array([jira_label(r.resolution) for r in reports], dtype=object)


def age_weights(reports: list) -> np.ndarray:
    stamps = np.array([r.created_at.timestamp() for r in reports])
    return np.power(0.5, (stamps.max() - stamps) / YEAR / HALF_LIFE)


def tfidf(data: Path, cache: Path, pooled: bool) -> None:
    """The TF-IDF model's validation scores; ``pooled``: one TF-IDF member per project (the others'
    reports at weight `POOL_WEIGHT`), as the kind model does when its embeddings are on."""
    for k, (fit, valid) in enumerate(carves(load_issues(data, cache)), 1):
        path = cache / f"tfidf{'-pooled' if pooled else ''}-carve{k}.npz"
        if path.exists():
            continue
        t0 = time.perf_counter()
        model = build_kind_model(embeddings=False, pool_projects=pooled).fit(fit, list(labels(fit)))
        score = model.predict_proba(valid)[:, list(model.classes_).index("not_defect")]
        pos = labels(valid) == "not_defect"
        projects = np.array([r.project for r in valid])
        np.savez(path, score=score, pos=pos, projects=projects)
        took = time.perf_counter() - t0
        print(
            f"carve {k}: fit {len(fit)} valid {len(valid)} TF-IDF{' pooled' if pooled else ''} "
            f"AUC {mean_auc(pos, score, projects):.4f} "
            f"({took:.0f}s)",
            flush=True,
        )


def embedding_matrix(reports: list, views: tuple[str, ...], vectors: dict, texts: dict) -> np.ndarray:
    index = {id(r): i for i, r in enumerate(texts["_reports"])}
    parts = []
    for view in views:
        rows = [index[id(r)] for r in reports]
        parts.append(np.stack([vectors[view][texts[view][i]] for i in rows]))
    return np.hstack(parts).astype(np.float64)


def fit_members(
    emb: np.ndarray, y: np.ndarray, sw: np.ndarray, projects: np.ndarray, pooled: bool, views, C: float
) -> tuple[dict, list[float]]:
    members, times = {}, []
    groups = sorted(set(projects)) if pooled else [None]
    for p in groups:
        w = sw if p is None else sw * np.where(projects == p, 1.0, POOL_WEIGHT)
        t0 = time.perf_counter()
        members[p] = EmbeddingClassifier(C=C, views=views).fit_embedded(emb, y, sample_weight=w)
        times.append(time.perf_counter() - t0)
    return members, times


def predict(members: dict, emb: np.ndarray, projects: np.ndarray) -> np.ndarray:
    out = np.empty(len(emb))
    for p, model in members.items():
        rows = np.ones(len(emb), bool) if p is None else projects == p
        col = list(model.classes_).index("not_defect")
        out[rows] = model.predict_proba_embedded(emb[rows])[:, col]
    return out


def evaluate(data: Path, cache: Path, max_length: dict[str, int], variants: list[str]) -> None:
    issues = load_issues(data, cache)
    train = train_part(issues)
    vectors, texts = {}, {"_reports": train}
    for view in ("title", "body_first", "body_last"):
        got = load_vectors(cache, view, max_length[view])
        keys = [text_key(t) for t in cached_texts(train, view, cache)] if got else []
        if got and all(k in got for k in keys):
            vectors[view], texts[view] = got, keys
            print(f"view {view} (max {max_length[view]} tokens): {len(got)} vectors", flush=True)
    cv = carves(issues)
    tf = [dict(np.load(cache / f"tfidf-carve{k}.npz")) for k in (1, 2, 3)]
    base = "TF-IDF (shipped, embeddings=False)"
    table: dict[str, list[float]] = {base: []}
    for k, (_fit, valid) in enumerate(cv):
        assert len(tf[k]["score"]) == len(valid)
        assert np.array_equal(tf[k]["pos"], labels(valid) == "not_defect")
        table[base].append(mean_auc(tf[k]["pos"], tf[k]["score"], tf[k]["projects"]))
    print_row(base, table[base])
    tfp = None
    if all((cache / f"tfidf-pooled-carve{k}.npz").exists() for k in (1, 2, 3)):
        tfp = [dict(np.load(cache / f"tfidf-pooled-carve{k}.npz")) for k in (1, 2, 3)]
        table["TF-IDF pooled per project"] = [mean_auc(d["pos"], d["score"], d["projects"]) for d in tfp]
        print_row("TF-IDF pooled per project", table["TF-IDF pooled per project"])
    view_sets = {"t": ("title",), "tf": ("title", "body_first"), "tfl": ("title", "body_first", "body_last")}
    for variant in variants:  # e.g. "tf:1:pooled"
        vs, c, mode = variant.split(":")
        views = view_sets[vs]
        if not all(v in vectors for v in views):
            print(f"skip {variant}: views {views} not all encoded", flush=True)
            continue
        name = f"{'+'.join(views)} C={c} {mode}"
        rows: dict[str, list[float]] = {}
        for k, (fit, valid) in enumerate(cv):
            ef = embedding_matrix(fit, views, vectors, texts)
            ev = embedding_matrix(valid, views, vectors, texts)
            pf = np.array([r.project for r in fit])
            pv = tf[k]["projects"]
            pooled = mode == "pooled"
            members, times = fit_members(ef, labels(fit), age_weights(fit), pf, pooled, views, float(c))
            print(
                f"  {name} carve {k + 1}: {len(times)} member(s) on {len(fit)} reports, "
                f"{np.mean(times):.1f}s each",
                flush=True,
            )
            es = predict(members, ev, pv)
            pos = tf[k]["pos"]
            rows.setdefault(f"{name}: embeddings alone", []).append(mean_auc(pos, es, pv))
            for s in SHARES:
                blend = (1 - s) * tf[k]["score"] + s * es
                rows.setdefault(f"{name}: share {s:.1f}", []).append(mean_auc(pos, blend, pv))
            if tfp is not None and pooled:  # both members pooled: the kind model with embeddings on
                for s in SHARES:
                    blend = (1 - s) * tfp[k]["score"] + s * es
                    rows.setdefault(f"{name}: pooled TF-IDF, share {s:.1f}", []).append(
                        mean_auc(pos, blend, pv)
                    )
        for row_name, vals in rows.items():
            table[row_name] = vals
            print_row(row_name, vals)
    print("\nvariant" + " " * 47 + "carve1  carve2  carve3    mean")
    for row_name, vals in table.items():
        print_row(row_name, vals)


MIDSIZE_N = (2500, 1000, 5000)  # in this order: the middle size first
MIDSIZE_VIEWS = ("title", "body_first", "body_last")
MIDSIZE_SHARES = (0.25, 0.5)


def newest_per_project(reports: list, n: int) -> list:
    """The newest ``n`` reports of each project (all of a project's if it has fewer)."""
    out = []
    for project in sorted({r.project for r in reports}):
        ordered = sorted((r for r in reports if r.project == project), key=lambda r: r.created_at)
        out += ordered[-n:]
    return out


def tfidf_scores(fit: list, valid: list, pooled: bool, path: Path) -> np.ndarray:
    """The "not_defect" probabilities of ``build_kind_model(embeddings=False)`` on ``valid``, cached."""
    if path.exists():
        return np.load(path)["score"]
    model = build_kind_model(embeddings=False, pool_projects=pooled).fit(fit, list(labels(fit)))
    score = model.predict_proba(valid)[:, list(model.classes_).index("not_defect")]
    np.savez(path, score=score)
    return score


def midsize(data: Path, cache: Path, sizes: list[int]) -> None:
    """Pooling and the embedding share on the newest N/5 fitting reports of each project (see above)."""
    issues = load_issues(data, cache)
    train = train_part(issues)
    vectors, texts = {}, {"_reports": train}
    for view in MIDSIZE_VIEWS:
        vectors[view] = load_vectors(cache, view, 256)
        texts[view] = [text_key(t) for t in cached_texts(train, view, cache)]
        missing = sum(k not in vectors[view] for k in texts[view])
        print(
            f"view {view}: {len(vectors[view])} vectors, {missing} training reports without one", flush=True
        )
        if missing:
            raise SystemExit(f"{missing} {view} vectors missing from {cache}: not re-encoding here")
    cv = carves(issues)
    for n in sizes:
        table: dict[str, list[float]] = {}
        for k, (full_fit, valid) in enumerate(cv, 1):
            t0 = time.perf_counter()
            fit = newest_per_project(full_fit, n // 5)
            pos = labels(valid) == "not_defect"
            pv = np.array([r.project for r in valid])
            pf = np.array([r.project for r in fit])
            ef = embedding_matrix(fit, MIDSIZE_VIEWS, vectors, texts)
            ev = embedding_matrix(valid, MIDSIZE_VIEWS, vectors, texts)
            sw = np.ones(len(fit))  # no age decay up to AUTO_SMALL_N reports, as the kind model
            for pooled in (False, True):
                mode = "pooled" if pooled else "unpooled"
                tf = tfidf_scores(fit, valid, pooled, cache / f"midsize-N{n}-tfidf-{mode}-carve{k}.npz")
                members, _ = fit_members(ef, labels(fit), sw, pf, pooled, MIDSIZE_VIEWS, 1.0)
                es = predict(members, ev, pv)
                table.setdefault(f"TF-IDF {mode}", []).append(mean_auc(pos, tf, pv))
                table.setdefault(f"embeddings {mode}", []).append(mean_auc(pos, es, pv))
                for s in MIDSIZE_SHARES:
                    blend = (1 - s) * tf + s * es
                    table.setdefault(f"both {mode}, share {s:.2f}", []).append(mean_auc(pos, blend, pv))
            took = time.perf_counter() - t0
            print(f"N={n} carve {k}: fit {len(fit)}, valid {len(valid)} ({took:.0f}s)", flush=True)
        order = [f"{m} {p}" for m in ("TF-IDF", "embeddings") for p in ("unpooled", "pooled")]
        order += [f"both {p}, share {s:.2f}" for p in ("unpooled", "pooled") for s in MIDSIZE_SHARES]
        print(f"\nN = {n} (newest {n // 5} fitting reports per project)")
        print(f"{'variant':52s} carve1  carve2  carve3    mean")
        for row_name in order:
            print_row(row_name, table[row_name])
        print(flush=True)


def print_row(name: str, vals: list[float]) -> None:
    print(f"{name:52s}", "  ".join(f"{v:.4f}" for v in vals), f"  {np.mean(vals):.4f}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/jira-emb"))
    parser.add_argument("--max-length", type=int, default=256, help="encode: tokens per text")
    parser.add_argument("--body-max-length", type=int, default=256, help="eval: tokens of the body views")
    parser.add_argument("--pooled", action="store_true", help="tfidf: one TF-IDF member per project")
    parser.add_argument("step", choices=["encode", "tfidf", "eval", "midsize"])
    parser.add_argument(
        "names",
        nargs="*",
        help="encode: views (title body_first body_last); eval: variants VIEWS:C:single|pooled, "
        "VIEWS = t (title) / tf (+ body_first) / tfl (+ body_last); midsize: sizes N (default "
        f"{' '.join(map(str, MIDSIZE_N))})",
    )
    args = parser.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    warnings.simplefilter("ignore", category=UserWarning)
    if args.step == "encode":
        encode(args.data, args.cache, args.names or ["title", "body_first"], args.max_length)
        return 0
    with threadpool_limits(1):
        if args.step == "tfidf":
            tfidf(args.data, args.cache, args.pooled)
        elif args.step == "midsize":
            midsize(args.data, args.cache, [int(n) for n in args.names] or list(MIDSIZE_N))
        else:
            lengths = {"title": 256, "body_first": args.body_max_length, "body_last": args.body_max_length}
            default = [f"{v}:1:{m}" for v in ("t", "tf", "tfl") for m in ("single", "pooled")]
            evaluate(args.data, args.cache, lengths, args.names or default)
    return 0


if __name__ == "__main__":
    sys.exit(main())
