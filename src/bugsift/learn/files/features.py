"""The feature rows of (report, candidate file) pairs that the ranker combines.

Columns (`FEATURES`):

* similar past reports (`history`, BM25 scores scaled so the best past report scores 1): ``cf_top`` sum
  of the scores of the 50 most similar past reports whose fix touched the file (the plain baseline's
  score), relative to the best candidate (``cf_top_rel``), divided by the number of files each fix touched
  (``cf_top_norm``); ``cf_max`` / ``cf_mean`` the best / mean score over all past reports that touched it;
  ``dir_top`` the same evidence for the other files of its folder;
* the file's profile (``profile_sim``, ``profile_sim_rel``): cosine of the report with the sum of the
  TF-IDF vectors of all past reports whose fix touched the file, which catches vocabulary spread over many
  small reports; ``path_history``: the same kind of evidence through the file's path words, for files
  never fixed themselves (`path_history`);
* fix history: ``log_count`` how often it was fixed, ``recency`` 1 / (1 + months since its last fix),
  ``recent_count`` fixes in the last year;
* names (`mentions`): the file's path words and class-name words vs. the report (``path_sim``,
  ``name_sim_title``), mentioned class names in the summary / description, stack frames (1 / (1 + frame
  rank)) and qualified names;
* ``is_test``: test code is fixed less often than it is mentioned;
* with ``--repo`` (`source_text`): cosine of the report with the file's contents at that version and the
  file's length (long files hold more bugs, as BugLocator's rVSM); 0 otherwise;
* optionally (`EMBEDDING_FEATURES`, when the query carries a sentence embedding, see `embedding`): the
  embedding cosine of the 50 nearest past reports that touched the file summed (``emb_top``, and relative),
  the best one (``emb_max``), and the cosine with the embedding of the file's path words (``emb_path``,
  and relative).

The columns of `PER_REPORT_MAX` are divided by their largest value among the report's candidates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from bugsift.learn.files.history import History
from bugsift.learn.files.mentions import MENTION_FEATURES, Mentions, NameIndex, mention_features
from bugsift.learn.files.textspace import TextSpace
from bugsift.learn.files.tokens import class_name, is_test_path, path_tokens, split_identifier

FEATURES: tuple[str, ...] = (
    "cf_top",
    "cf_top_rel",
    "cf_top_norm",
    "cf_max",
    "cf_mean",
    "dir_top",
    "profile_sim",
    "profile_sim_rel",
    "path_history",
    "log_count",
    "recency",
    "recent_count",
    "path_sim",
    "path_sim_rel",
    "name_sim_title",
    *MENTION_FEATURES,
    "is_test",
    "source_sim",
    "source_sim_rel",
    "source_len",
)
# with sentence embeddings (optional, `History.embedding_evidence`): similar-report evidence by the
# embedding cosine instead of shared words, and the report vs. the file's path words; after `FEATURES`
EMBEDDING_FEATURES: tuple[str, ...] = (
    "emb_top",
    "emb_top_rel",
    "emb_max",
    "emb_path",
    "emb_path_rel",
)
COLUMN = {name: k for k, name in enumerate(FEATURES + EMBEDDING_FEATURES)}
# divided by their largest value among the report's candidates: a linear ranker compares files within one
# report, and raw levels vary a lot between reports (long reports, busy periods)
PER_REPORT_MAX = (
    "cf_top_norm",
    "cf_max",
    "cf_mean",
    "dir_top",
    "log_count",
    "recent_count",
    "name_sim_title",
)


class FileTable:
    """Every file the model knows (candidates and fixed files), with its path words and folder."""

    def __init__(self, space: TextSpace) -> None:
        self.space = space
        self.paths: list[str] = []
        self.ids: dict[str, int] = {}
        self.dirs: dict[str, int] = {}
        self.dir_ids = np.zeros(0, dtype=np.int64)
        self.is_test = np.zeros(0)
        self.path_embeddings = np.zeros((0, 0), dtype=np.float32)  # filled by `embed_paths` only
        self.names = NameIndex([])
        self.path_counts = sp.csr_matrix((0, len(space.vocabulary)))
        self.name_counts = sp.csr_matrix((0, len(space.vocabulary)))
        self.path_vectors = self.path_counts
        self.name_vectors = self.name_counts

    def __len__(self) -> int:
        return len(self.paths)

    def ensure(self, paths: Sequence[str], grow_vocabulary: bool = False) -> np.ndarray:
        """Ids of ``paths``, adding the unknown ones (their words join the vocabulary if asked)."""
        new = [p for p in dict.fromkeys(paths) if p not in self.ids]
        if new:
            path_words = [path_tokens(p) for p in new]
            name_words = [[*split_identifier(class_name(p)), class_name(p).lower()] for p in new]
            if grow_vocabulary:
                self.space.add(path_words)
                self.space.add(name_words)
            for p in new:
                self.ids[p] = len(self.paths)
                self.paths.append(p)
            folders = [
                self.dirs.setdefault(p.rsplit("/", 1)[0] if "/" in p else "", len(self.dirs)) for p in new
            ]
            self.dir_ids = np.concatenate([self.dir_ids, np.asarray(folders, dtype=np.int64)])
            self.is_test = np.concatenate([self.is_test, [float(is_test_path(p)) for p in new]])
            self.names.extend(new)
            width = len(self.space.vocabulary)
            self.path_counts = _stack(self.path_counts, self.space.counts(path_words), width)
            self.name_counts = _stack(self.name_counts, self.space.counts(name_words), width)
            self.path_vectors = _stack(
                self.path_vectors, self.space.weigh(self.space.counts(path_words)), width
            )
            self.name_vectors = _stack(
                self.name_vectors, self.space.weigh(self.space.counts(name_words)), width
            )
        return np.fromiter((self.ids[p] for p in paths), dtype=np.int64, count=len(paths))

    def embed_paths(self, encode: Callable[[Sequence[str]], np.ndarray]) -> None:
        """Sentence embeddings of the paths that have none yet (``path_embeddings``, one row per id)."""
        done = len(self.path_embeddings)
        if done < len(self.paths):
            new = np.asarray(encode(self.paths[done:]), dtype=np.float32)
            self.path_embeddings = np.vstack([self.path_embeddings, new]) if done else new

    def reweigh(self) -> None:
        self.path_vectors = self.space.weigh(self.path_counts)
        self.name_vectors = self.space.weigh(self.name_counts)


def _stack(top: sp.csr_matrix, bottom: sp.csr_matrix, width: int) -> sp.csr_matrix:
    top = sp.csr_matrix(top)
    bottom = sp.csr_matrix(bottom)
    top.resize((top.shape[0], width))
    bottom.resize((bottom.shape[0], width))
    return sp.csr_matrix(sp.vstack([top, bottom], format="csr"))


@dataclass
class Query:
    """One report, ready to score: its weighted text vectors, its mentions and its filing time."""

    vector: sp.csr_matrix
    title_vector: sp.csr_matrix
    mentions: Mentions
    time: float
    embedding: np.ndarray | None = None
    """The report's sentence embedding: when given, the rows also hold the `EMBEDDING_FEATURES` columns."""


def _relative(values: np.ndarray) -> np.ndarray:
    top = values.max() if len(values) else 0.0
    return values / top if top > 0 else values


def build_features(
    query: Query,
    candidates: np.ndarray,
    table: FileTable,
    history: History,
    n_past: int,
    source: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Feature rows of the candidates (ids into ``table``) and the similarities to the past reports."""
    history.grow_files(len(table))
    width = len(FEATURES) + (len(EMBEDDING_FEATURES) if query.embedding is not None else 0)
    out = np.zeros((len(candidates), width))
    sims = history.similarities(query.vector, n_past)
    scores = history.retrieval_scores(query.vector, n_past)
    evidence = history.file_evidence(scores, n_past, query.time, cosine=sims)
    c = candidates
    cf_top = evidence["cf_top"][c]
    out[:, COLUMN["cf_top"]] = cf_top
    out[:, COLUMN["cf_top_rel"]] = _relative(cf_top)
    out[:, COLUMN["cf_top_norm"]] = evidence["cf_top_norm"][c]
    out[:, COLUMN["cf_max"]] = evidence["cf_max"][c]
    out[:, COLUMN["cf_mean"]] = evidence["cf_mean"][c]
    by_dir = np.bincount(
        table.dir_ids[: len(evidence["cf_top"])], weights=evidence["cf_top"], minlength=len(table.dirs)
    )
    out[:, COLUMN["dir_top"]] = np.log1p(np.maximum(by_dir[table.dir_ids[c]] - cf_top, 0))
    out[:, COLUMN["path_history"]] = path_history(table, evidence, c)
    profile = evidence["profile"][c]
    out[:, COLUMN["profile_sim"]] = profile
    out[:, COLUMN["profile_sim_rel"]] = _relative(profile)
    out[:, COLUMN["log_count"]] = np.log1p(evidence["count"][c])
    out[:, COLUMN["recency"]] = 1.0 / (1.0 + evidence["days_since"][c] / 30.0)
    out[:, COLUMN["recent_count"]] = np.log1p(evidence["recent_count"][c])
    path_sim = np.asarray((table.path_vectors[c] @ query.vector.T).todense()).ravel()
    out[:, COLUMN["path_sim"]] = path_sim
    out[:, COLUMN["path_sim_rel"]] = _relative(path_sim)
    out[:, COLUMN["name_sim_title"]] = np.asarray(
        (table.name_vectors[c] @ query.title_vector.T).todense()
    ).ravel()
    first = COLUMN[MENTION_FEATURES[0]]
    out[:, first : first + len(MENTION_FEATURES)] = mention_features(query.mentions, table.names, c)
    out[:, COLUMN["is_test"]] = table.is_test[c]
    if source is not None:
        source_sim, source_len = source
        out[:, COLUMN["source_sim"]] = source_sim
        out[:, COLUMN["source_sim_rel"]] = _relative(source_sim)
        out[:, COLUMN["source_len"]] = source_len
    for name in PER_REPORT_MAX:
        out[:, COLUMN[name]] = _relative(out[:, COLUMN[name]])
    if query.embedding is not None:
        embedding_features(out, query.embedding, c, table, history, n_past)
    return out, sims


def embedding_features(
    out: np.ndarray,
    embedding: np.ndarray,
    candidates: np.ndarray,
    table: FileTable,
    history: History,
    n_past: int,
) -> None:
    """Fill the `EMBEDDING_FEATURES` columns of ``out`` (rows = ``candidates``)."""
    evidence = history.embedding_evidence(embedding, n_past)
    top = evidence["emb_top"][candidates]
    out[:, COLUMN["emb_top"]] = top
    out[:, COLUMN["emb_top_rel"]] = _relative(top)
    out[:, COLUMN["emb_max"]] = evidence["emb_max"][candidates]
    if len(table.path_embeddings) >= len(table.paths):
        path = table.path_embeddings[candidates] @ np.asarray(embedding, dtype=np.float32)
        out[:, COLUMN["emb_path"]] = path
        out[:, COLUMN["emb_path_rel"]] = _relative(np.maximum(path, 0))


def path_history(table: FileTable, evidence: dict[str, np.ndarray], candidates: np.ndarray) -> np.ndarray:
    """Per candidate: for each of its path words, the mean similarity of the past reports whose fixed files
    carry that word, combined by the file's weighted path-word vector. Evidence for files never fixed
    themselves, from the history of their package and name words."""
    words = table.path_counts[: len(evidence["cf_sum"])].T
    summed = words @ evidence["cf_sum"]
    seen = words @ evidence["count"]
    mean = np.divide(summed, seen, out=np.zeros(len(summed)), where=seen > 0)
    return np.asarray(table.path_vectors[candidates] @ mean).ravel()


def baseline_scores(features: np.ndarray, similar: np.ndarray) -> np.ndarray:
    """The plain ranking: ``similar``, the candidates' summed cosine similarities of the 50 most similar
    past reports whose fix touched them (`History.top_sum`), plus 1 per mentioned class name."""
    mentioned = features[:, [COLUMN["mention_summary"], COLUMN["mention_description"]]].max(axis=1) > 0
    return similar + mentioned
