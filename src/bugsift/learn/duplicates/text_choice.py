"""How the text-similarity ranker mixes its signals, and how each store chooses the mix on its own links.

A candidate's score is ``(1 - embedding) * words + embedding * title sentence cosine - penalty *
resolved-as-duplicate``, where ``words`` mixes the full-text score (BM25 over the best candidate's) with
TF-IDF cosines (`TextSettings.word_scores`). With 5 or more replayable duplicate links in the store,
`choose` tries every mix of `search_space` on them (the same replay that calibrates the probability) and
keeps the best by recall-rate@10, but only when it beats the defaults by more than one query's worth;
with fewer links the defaults answer. The search space and the measurements are in docs/duplicates.md.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from bugsift.learn.duplicates.features import FEATURE_NAMES
from bugsift.learn.duplicates.replay import first_hit_rank

EMBED_TOP = 10
"""Best candidates by the word signals whose titles get a sentence cosine: 10 instead of 20 lost nothing
on the validation queries, and each uncached title costs ~20 ms to encode."""
EMBED_TOKENS = 32
"""Word pieces of a title handed to the encoder (titles are short; 32 keeps encoding ~4x faster)."""
MIN_GAIN = 0.01
"""Smallest RR@10 gain over the defaults that lets another mix answer (twice the split noise)."""
_LEXICAL = FEATURE_NAMES.index("lexical_score_ratio")
_COS_TITLE, _COS_ALL = FEATURE_NAMES.index("cos_title"), FEATURE_NAMES.index("cos_all")
_TITLE_ALL, _ALL_TITLE = FEATURE_NAMES.index("cos_title_all"), FEATURE_NAMES.index("cos_all_title")


@dataclass(frozen=True)
class TextSettings:
    """Weights of the text-similarity score (0..1 before the penalty)."""

    lexical: float = 0.5
    """Share of the full-text score in the word part (the rest: TF-IDF cosines)."""
    title: float = 0.5
    """Share of the title cosine among the cosines (the rest: title and description together)."""
    cross: float = 0.0
    """Share of the cross cosines (one report's title against the other's whole text)."""
    duplicate_penalty: float = 0.0
    """Subtracted when the candidate is itself resolved as a duplicate (an original is likelier open)."""
    embedding: float = 0.0
    """Share of the sentence-embedding cosine of the titles (0 when the encoder is not used)."""

    def word_scores(self, X: np.ndarray) -> np.ndarray:
        """The word part of each candidate's score, from its pair-feature row."""
        cosines = self.title * X[:, _COS_TITLE] + (1 - self.title) * X[:, _COS_ALL]
        if self.cross:
            cross = 0.5 * (X[:, _TITLE_ALL] + X[:, _ALL_TITLE])
            cosines = (1 - self.cross) * cosines + self.cross * cross
        return self.lexical * np.clip(X[:, _LEXICAL], 0.0, 1.0) + (1 - self.lexical) * cosines

    def scores(self, words: np.ndarray, duplicate: np.ndarray, title_cosine: np.ndarray) -> np.ndarray:
        """The whole score from the word part, the resolved-as-duplicate flags and the title cosines."""
        out = (1 - self.embedding) * words + self.embedding * title_cosine
        return np.clip(out - self.duplicate_penalty * duplicate, 0.0, 1.0)

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


DEFAULT = TextSettings()
"""With no links to choose on and no encoder: the mix chosen on apache-jira's validation queries."""
DEFAULT_EMBEDDING = TextSettings(embedding=0.3)
"""With no links to choose on and the encoder on (apache-jira validation: 0.3 of 0.1 .. 0.5 was best)."""


def defaults(embeddings: bool) -> TextSettings:
    return DEFAULT_EMBEDDING if embeddings else DEFAULT


def search_space(embeddings: bool) -> list[TextSettings]:
    """Every mix `choose` tries: 6 x 4 x 2 x 2 (x 3 with the encoder) = 96 (288) settings."""
    shares = (0.0, 0.15, 0.3) if embeddings else (0.0,)
    return [
        TextSettings(lexical, title, cross, penalty, embedding)
        for lexical, title, cross, penalty, embedding in itertools.product(
            (0.0, 0.25, 0.4, 0.5, 0.6, 0.75), (0.0, 0.25, 0.5, 0.75), (0.0, 0.5), (0.0, 0.1), shares
        )
    ]


@dataclass
class Replayed:
    """One replayed duplicate link: its candidates' features and facts, and the reports it duplicates."""

    X: np.ndarray
    ids: list[str]
    duplicate: np.ndarray
    """Candidates resolved as duplicates before the query was filed."""
    title_cosine: np.ndarray
    """Sentence cosine of the titles (0 where not computed)."""
    targets: frozenset[str]

    def top_score(self, settings: TextSettings) -> float:
        if not self.ids:
            return 0.0
        return float(self.scores(settings).max())

    def scores(self, settings: TextSettings) -> np.ndarray:
        return settings.scores(settings.word_scores(self.X), self.duplicate, self.title_cosine)

    def top_is_right(self, settings: TextSettings) -> bool:
        return bool(self.ids) and self.ids[int(np.argmax(self.scores(settings)))] in self.targets


def rr_at_10(settings: TextSettings, replayed: Sequence[Replayed]) -> float:
    """Mean reciprocal rank cut at 10 of ``settings`` over the replayed links."""
    total = 0.0
    for r in replayed:
        if not r.ids:
            continue
        order = np.argsort(-r.scores(settings), kind="stable")[:10]
        rank = first_hit_rank([r.ids[j] for j in order], set(r.targets))
        total += 1.0 / rank if rank else 0.0
    return total / max(len(replayed), 1)


def choose(replayed: Sequence[Replayed], embeddings: bool) -> tuple[TextSettings, dict[str, float]]:
    """The best mix of `search_space` on the replayed links, and the defaults' and the best's RR@10.

    Another mix replaces the defaults only when it gains more than one query's worth (1 / n) and more
    than `MIN_GAIN`: dozens of mixes on a few hundred links, so smaller gains are as likely luck as the
    store's character."""
    base = defaults(embeddings)
    base_rr = rr_at_10(base, replayed)
    best, best_rr = base, base_rr
    for settings in search_space(embeddings):
        rr = rr_at_10(settings, replayed)
        if rr > best_rr:
            best, best_rr = settings, rr
    if best_rr - base_rr <= max(1.0 / max(len(replayed), 1), MIN_GAIN):
        best, best_rr = base, base_rr
    return best, {"defaults": round(base_rr, 4), "chosen": round(best_rr, 4), "links": len(replayed)}
