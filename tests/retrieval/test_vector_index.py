"""The FAISS index past its size threshold: an inverted file of 8-bit vectors that still finds,
filters, removes, reconstructs and snapshots as the exact index does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from corpus.model import Article
from corpus.store import SQLStore
from retrieval.vector_index import FaissIndex

DIM = 32
MODEL = "clustered test vectors"
Matrix = npt.NDArray[np.float32]


def _clustered(rng: np.random.Generator, clusters: int, each: int) -> Matrix:
    """Unit vectors in tight groups, as passages of one story are."""
    centres = rng.standard_normal((clusters, DIM))
    points = np.repeat(centres, each, axis=0) + 0.5 * rng.standard_normal((clusters * each, DIM))
    unit: Matrix = (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)
    return unit


def _store(path: Path, vectors: Matrix) -> tuple[SQLStore, list[int]]:
    """A store of one-passage articles holding ``vectors``; the passage ids."""
    store = SQLStore(path)
    model = store.model_id(MODEL, DIM)
    ids = []
    for row in range(len(vectors)):
        text = f"Passage number {row}."
        _, passages = store.add(
            Article(title=f"Article {row}", text=text, url=f"https://example.org/{row}"),
            [(0, len(text))],
        )
        ids.append(passages[0].id)
    store.put_vectors(model, ids, vectors)
    return store, ids


def _open(store: SQLStore, snapshot: Path) -> FaissIndex:
    return FaissIndex(store, snapshot=snapshot, dim=DIM, model=MODEL, approximate_from=300)


def test_past_the_threshold_the_index_is_approximate_and_still_right(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    vectors = _clustered(rng, clusters=12, each=50)
    store, ids = _store(tmp_path / "briefbot.sqlite3", vectors)
    index = _open(store, tmp_path / "index.faiss")
    assert len(index) == 600 and index.approximate

    # Recall@10 against exact search, on queries near stored passages.
    queries = vectors[::15] + 0.2 * rng.standard_normal((40, DIM)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    found = [[pid for pid, _ in index.search(q, 10)] for q in queries]
    recall = np.mean(
        [
            len(set(got) & {ids[i] for i in want}) / 10
            for got, want in zip(found, exact, strict=True)
        ]
    )
    assert recall >= 0.95
    (best, score), *_ = index.search(vectors[7], 3)
    assert best == ids[7] and abs(score - 1.0) < 0.01

    # A filter keeps only its ids, and finds the best of them (scanning more lists for it).
    allowed = set(ids[400:450])
    hits = index.search(vectors[0], 5, allowed=allowed)
    assert len(hits) == 5 and {pid for pid, _ in hits} <= allowed
    assert hits[0][0] == ids[400 + int(np.argmax(vectors[400:450] @ vectors[0]))]

    # Vectors come back from their 8-bit codes closely enough to compare by.
    assert np.min(np.sum(index.vectors(ids[:20]) * vectors[:20], axis=1)) > 0.999
    # Densities: the mean similarity to the 5 nearest others, as brute force has it.
    sims = vectors[:30] @ vectors.T
    sims[np.arange(30), np.arange(30)] = -1
    want = np.sort(sims, axis=1)[:, -5:].mean(axis=1)
    got = index.density(ids[:30], k=5)
    assert max(abs(got[ids[i]] - want[i]) for i in range(30)) < 0.01

    # Removed passages leave the index; a snapshot reopens approximate, without retraining.
    store.remove(store.passages([ids[7]])[ids[7]].article_id)
    index.refresh(force=True)  # as the indexer does after a removal
    assert ids[7] not in {pid for pid, _ in index.search(vectors[7], 3)}
    assert index.checkpoint(force=True)
    reopened = _open(store, tmp_path / "index.faiss")
    assert reopened.approximate and len(reopened) == 599
    assert reopened.search(vectors[8], 3) == index.search(vectors[8], 3)


def test_below_the_threshold_the_index_stays_exact(tmp_path: Path) -> None:
    vectors = _clustered(np.random.default_rng(5), clusters=4, each=50)
    store, ids = _store(tmp_path / "briefbot.sqlite3", vectors)
    index = _open(store, tmp_path / "index.faiss")
    assert len(index) == 200 and not index.approximate
    (best, score), *_ = index.search(vectors[3], 1)
    assert best == ids[3] and abs(score - 1.0) < 1e-5
