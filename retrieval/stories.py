"""Stories: group articles about one event by the similarity of their article embeddings."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.cluster import AgglomerativeClustering

from retrieval.embedding import Vectors


def article_vectors(passage_vectors: Sequence[Vectors]) -> Vectors:
    """One unit vector per article: the normalised mean of its passage vectors."""
    rows = [v.mean(axis=0) for v in passage_vectors]
    matrix = np.asarray(rows, dtype=np.float32).reshape(len(rows), -1)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    result: Vectors = (matrix / np.where(norms == 0, 1, norms)).astype(np.float32)
    return result


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
