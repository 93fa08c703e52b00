"""Hub densities stay exact through adds and removals without being recomputed."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from bot.wiring import Briefbot
from retrieval.density import DensityCache
from retrieval.vector_index import FaissIndex
from tests.articles import OTHERS, VOLCANO, VOLCANO_NEXT_DAY
from tests.conftest import MakeBot

K = 5
Matrix = npt.NDArray[np.float32]


def _unit(rng: np.random.Generator, rows: int, centre: Matrix) -> Matrix:
    points = centre + 0.6 * rng.standard_normal((rows, centre.shape[0]))
    unit: Matrix = (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)
    return unit


def _exact(ids: list[int], vectors: Matrix, of: list[int]) -> dict[int, float]:
    """Brute force: each passage's mean similarity to its K nearest others."""
    where = {key: row for row, key in enumerate(ids)}
    out = {}
    for key in of:
        sims = np.delete(vectors @ vectors[where[key]], where[key])
        out[key] = float(np.sort(sims)[::-1][:K].mean())
    return out


def _search(
    ids: list[int], vectors: Matrix, queries: Matrix
) -> tuple[Matrix, npt.NDArray[np.int64]]:
    sims = queries @ vectors.T
    order = np.argsort(-sims, axis=1)[:, : K + 1]
    found = np.asarray(ids, dtype=np.int64)[order]
    return np.take_along_axis(sims, order, axis=1).astype(np.float32), found


def test_the_cache_follows_adds_and_removals_exactly() -> None:
    rng = np.random.default_rng(7)
    centres = _unit(rng, 4, np.zeros(32, dtype=np.float32))
    vectors = np.vstack([_unit(rng, 50, c) for c in centres])
    ids = list(range(1, len(vectors) + 1))
    cache = DensityCache(32, capacity=1000)
    asked = ids[::3]
    assert cache.missing(asked, k=K) == asked
    cache.remember(asked, vectors[[i - 1 for i in asked]], *_search(ids, vectors, vectors[::3]))
    assert cache.missing(asked, k=K) == []

    # New passages, some right beside remembered ones: those rows take them in.
    near = vectors[[i - 1 for i in asked[:10]]] + 0.05 * rng.standard_normal((10, 32)).astype(
        np.float32
    )
    near /= np.linalg.norm(near, axis=1, keepdims=True)
    new_ids = list(range(1000, 1010))
    cache.added(new_ids, near)
    ids, vectors = ids + new_ids, np.vstack([vectors, near])
    got, want = cache.density(asked), _exact(ids, vectors, asked)
    assert max(abs(got[i] - want[i]) for i in asked) < 1e-5

    # Removing passages forgets exactly the rows they were neighbours of (and their own).
    gone = [new_ids[0], asked[-1]]
    cache.removed(gone)
    kept = [i for i in ids if i not in gone]
    vectors = vectors[[ids.index(i) for i in kept]]
    forgotten = cache.missing(asked, k=K)
    assert asked[0] in forgotten and asked[-1] in forgotten
    assert len(forgotten) < len(asked) / 2
    still = [i for i in asked if i not in forgotten]
    got, want = cache.density(still), _exact(kept, vectors, still)
    assert max(abs(got[i] - want[i]) for i in still) < 1e-5


def test_a_full_cache_forgets_its_oldest_rows_and_a_new_k_starts_afresh() -> None:
    rng = np.random.default_rng(3)
    vectors = _unit(rng, 20, np.ones(8, dtype=np.float32))
    ids = list(range(20))
    cache = DensityCache(8, capacity=5)
    cache.missing(ids, k=K)
    cache.remember(ids[:8], vectors[:8], *_search(ids, vectors, vectors[:8]))
    assert len(cache) == 5 and cache.missing(ids[:8], k=K) == [0, 1, 2]
    assert cache.missing(ids[:8], k=K + 1) == ids[:8]


def _densities(bot: Briefbot) -> tuple[dict[int, float], dict[int, float]]:
    """The running index's densities of every passage, and a freshly built index's."""
    ids = [p.id for batch in bot.store.iter_passages() for p in batch]
    fresh = FaissIndex(
        bot.store,
        snapshot=bot.settings.data_dir / "fresh.faiss",
        dim=bot.embedder.dim,
        model=bot.embedder.name,
    )
    return bot.vectors.density(ids, k=K), fresh.density(ids, k=K)


def test_the_index_keeps_densities_exact_across_ingest_and_removal(make_bot: MakeBot) -> None:
    bot = make_bot()
    bot.ingest_service.ingest_articles([(a.title, a) for a in [VOLCANO[0], *OTHERS]])
    before, _ = _densities(bot)
    bot.ingest_service.ingest_articles([(a.title, a) for a in [*VOLCANO[1:], VOLCANO_NEXT_DAY]])
    during, exact = _densities(bot)
    assert max(abs(during[i] - exact[i]) for i in exact) < 1e-5
    # The first eruption report gained close neighbours: its passages' densities rose.
    assert any(during[i] > before[i] + 0.05 for i in before)
    removed = bot.store.find(VOLCANO[1].url or "")
    assert removed is not None
    bot.ingest_service.remove(str(removed.id))
    after, exact = _densities(bot)
    assert max(abs(after[i] - exact[i]) for i in exact) < 1e-5
