"""Stories: group articles about one event, rank the groups, and match them to topics and to
stories told before."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.cluster import AgglomerativeClustering

from corpus.model import Article
from retrieval.embedding import Vectors
from retrieval.window import Window


def cluster(vectors: Vectors, *, threshold: float) -> list[list[int]]:
    """Indices of ``vectors`` grouped into stories, largest first.

    Average linkage: an article joins a story when its mean similarity to the story's articles
    reaches ``threshold``. Unlike single linkage it does not chain loosely related articles
    into one sprawling story.
    """
    if len(vectors) == 0:
        return []
    if len(vectors) == 1:
        return [[0]]
    labels = AgglomerativeClustering(
        n_clusters=None,
        metric="cosine",
        linkage="average",
        distance_threshold=1.0 - threshold,
    ).fit_predict(vectors)
    groups: dict[int, list[int]] = {}
    for index, label in enumerate(labels):
        groups.setdefault(int(label), []).append(index)
    return sorted(groups.values(), key=lambda g: (-len(g), g[0]))


def centrality(vectors: Vectors) -> Vectors:
    """Each member's mean similarity to the others: the most central article leads a story."""
    if len(vectors) < 2:
        return np.ones(len(vectors), dtype=np.float32)
    sims = vectors @ vectors.T
    result: Vectors = (sims.sum(axis=1) - 1.0) / (len(vectors) - 1)
    return result


def importance(members: Sequence[Article], vectors: Vectors, window: Window) -> float:
    """Independent sources count most, then more articles (one outlet's follow-ups), then how
    recent and how tightly knit the story is."""
    outlets = len({(a.source or a.url or a.title).casefold() for a in members})
    sources = outlets + 0.25 * (len(members) - 1)
    span = max((window.end - window.start).total_seconds(), 1.0)
    newest = max((a.published_at or window.start) for a in members)
    recency = min(max((newest - window.start).total_seconds() / span, 0.0), 1.0)
    return sources + 0.5 * recency + 0.25 * float(centrality(vectors).mean())


def matching_topic(
    vectors: Vectors,
    topics: Sequence[str],
    topic_vectors: Vectors | None,
    *,
    threshold: float,
) -> str | None:
    """The topic a story is most about, if any member is at least ``threshold`` similar to it."""
    if topic_vectors is None:
        return None
    scores = (vectors @ topic_vectors.T).max(axis=0)
    best = int(scores.argmax())
    return topics[best] if scores[best] >= threshold else None


def continues(vectors: Vectors, earlier: Vectors | None, *, threshold: float) -> bool:
    """Whether a story continues one told before: a member close enough to an earlier article."""
    return earlier is not None and float((vectors @ earlier.T).max()) >= threshold
