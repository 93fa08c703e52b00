"""Hybrid search: dense and lexical candidates, fused, filtered by date and one per article."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime

from corpus.model import Article
from corpus.store import ArticleStore, Passage
from retrieval.embedding import Embedder, Vectors
from retrieval.lexical import LexicalIndex
from retrieval.vector_index import VectorIndex
from retrieval.window import Window


@dataclass(frozen=True, kw_only=True)
class Hit:
    passage: Passage
    article: Article
    score: float
    recency: float = 1.0
    """The recency prior's factor in ``score`` (1 when none applied)."""


@dataclass(frozen=True, kw_only=True)
class Fusion:
    """How dense and lexical evidence are combined; the settings' defaults were chosen on the
    RealTime QA dev split.

    ``dense_weight`` weighs min-max normalised cosine similarity against min-max normalised BM25
    in a convex combination. Reciprocal-rank fusion throws the score gaps away and scored below
    dense search alone on that split (MRR@10 0.653 with equal weights against 0.652); min-max
    keeps them, and 0.85 was the best weight there (`benchmarks/retrieval_eval.py`).

    Before normalising, each passage's cosine loses ``hub_weight`` times its *density*, the
    mean similarity to its ``hub_k`` nearest passages. Passages in crowded regions of the
    embedding space ("hubs": generic sentences, yearly recurring stories) are otherwise close
    to many questions they do not answer; this is CSLS-style hubness reduction, and on the dev
    split it lifted MRR@10 from 0.686 to 0.705.

    ``half_life_days`` sets the recency prior: the fused score of an article that old is
    multiplied by ``1 - recency_weight / 2``, and a very old one by ``1 - recency_weight``. It
    multiplies normalised scores, so an old passage that answers the question still beats a new
    one that merely touches it. 0.25 and 14 days lifted as-of MRR@10 from 0.865 (0.1, 30 days)
    to 0.908 on the dev split.
    """

    dense_weight: float
    hub_weight: float
    recency_weight: float
    half_life_days: float
    hub_k: int = 10


def _normalise(scores: Mapping[int, float]) -> dict[int, float]:
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    span = high - low
    return {key: (value - low) / span if span > 0 else 1.0 for key, value in scores.items()}


def fuse(
    dense: Mapping[int, float], lexical: Mapping[int, float], *, dense_weight: float
) -> dict[int, float]:
    """Convex combination of normalised scores; a passage missing from one list scores 0 there."""
    dense_n, lexical_n = _normalise(dense), _normalise(lexical)
    return {
        key: dense_weight * dense_n.get(key, 0.0) + (1 - dense_weight) * lexical_n.get(key, 0.0)
        for key in dense.keys() | lexical.keys()
    }


def recency_factor(published: datetime | None, now: datetime, fusion: Fusion) -> float:
    """A mild multiplier in [1 - recency_weight, 1]: 1 for today, decaying with age."""
    if published is None:
        return 1.0 - fusion.recency_weight / 2
    age_days = max((now - published).total_seconds() / 86400.0, 0.0)
    return 1.0 - fusion.recency_weight * (1.0 - math.pow(0.5, age_days / fusion.half_life_days))


class Searcher:
    def __init__(
        self,
        store: ArticleStore,
        *,
        embedder: Embedder,
        vectors: VectorIndex,
        lexical: LexicalIndex,
        candidates: int,
        fusion: Fusion,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.vectors = vectors
        self.lexical = lexical
        self.candidates = candidates
        self.fusion = fusion

    def embed_query(self, query: str) -> Vectors:
        vector: Vectors = self.embedder.embed([query])[0]
        return vector

    def _allowed(
        self, window: Window | None, now: datetime | None, sources: Collection[str]
    ) -> list[int] | None:
        """Passage ids in the window, not after ``now`` and from ``sources`` (when given);
        ``None`` when nothing is excluded."""
        start = window.start if window else None
        end = window.end if window else None
        if now is not None and (end is None or end > now):
            end = now
        if start is None and end is not None:
            latest = self.store.latest_published()
            if latest is None or latest < end:
                end = None
        if start is None and end is None and not sources:
            return None
        return self.store.passage_ids_published(
            after=start, before=end, include_undated=window is None, sources=sources
        )

    def search(
        self,
        query: str,
        *,
        k: int,
        now: datetime | None = None,
        window: Window | None = None,
        per_article: int = 1,
        query_vector: Vectors | None = None,
        within: Collection[int] | None = None,
        sources: Collection[str] = (),
    ) -> list[Hit]:
        """The ``k`` best passages for ``query``, at most ``per_article`` from one article.

        With ``now`` set, articles published after it are never returned and a recency prior
        applies; ``window`` keeps only articles published inside it; ``within`` keeps only
        those passages (an alert's new articles); ``sources`` keeps only articles from those
        sources (a channel's choice), any case.
        """
        qv = self.embed_query(query) if query_vector is None else query_vector
        allowed = self._allowed(window, now, sources)
        if within is not None:
            allowed = list(within) if allowed is None else list(set(allowed) & set(within))
        dense = dict(self.vectors.search(qv, self.candidates, allowed=allowed))
        lexical = dict(self.lexical.search(query, self.candidates, allowed=allowed))
        passages = self.store.passages(dense.keys() | lexical.keys())
        missing = [pid for pid in lexical if pid not in dense and pid in passages]
        dense.update(self._similarities(qv, missing))
        adjusted = dense
        if self.fusion.hub_weight:
            density = self.vectors.density(list(dense), k=self.fusion.hub_k)
            adjusted = {p: s - self.fusion.hub_weight * density[p] for p, s in dense.items()}
        fused = fuse(adjusted, lexical, dense_weight=self.fusion.dense_weight)
        articles = self.store.articles(p.article_id for p in passages.values())
        recency: dict[int, float] = {}
        if now is not None and window is None:
            for pid, passage in passages.items():
                published = articles[passage.article_id].published_at
                recency[pid] = recency_factor(published, now, self.fusion)
                fused[pid] *= recency[pid]
        ranked = sorted((pid for pid in fused if pid in passages), key=lambda p: -fused[p])
        hits: list[Hit] = []
        taken: dict[int, int] = {}
        for pid in ranked:
            passage = passages[pid]
            if taken.get(passage.article_id, 0) >= per_article:
                continue
            taken[passage.article_id] = taken.get(passage.article_id, 0) + 1
            hits.append(
                Hit(
                    passage=passage,
                    article=articles[passage.article_id],
                    score=fused[pid],
                    recency=recency.get(pid, 1.0),
                )
            )
            if len(hits) == k:
                break
        return hits

    def _similarities(self, query: Vectors, ids: list[int]) -> dict[int, float]:
        """Exact cosine for lexical-only candidates, so every candidate has both scores."""
        if not ids:
            return {}
        vectors = self.vectors.vectors(ids)
        return {i: float(s) for i, s in zip(ids, vectors @ query, strict=True)}
