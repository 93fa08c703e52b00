"""Hub density kept exact as the index changes, so an ingest never makes the next question pay
for it again.

A passage's density is the mean similarity to its ``k`` nearest other passages (see
``retrieval.search.Fusion``). It needs a nearest-neighbour search per passage, so it is computed
once, when a question first needs it, and remembered with the neighbours it came from. A new
vector changes a remembered density only when it is closer than that passage's ``k``-th
neighbour, which one matrix product against the remembered passages finds; those few rows take
it in, the others keep theirs. A removed vector invalidates only the rows it was a neighbour of.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from retrieval.embedding import Vectors

# Passages remembered (the oldest make way): ~1.5 KB each at 384 dimensions. A question
# looks up about a hundred candidates, so this holds the candidates of hundreds of questions.
CAPACITY = 20_000
# Above this many multiply-adds (remembered passages x new vectors x dimensions, ~0.1 s on one
# core), a batch of new vectors (a bulk load) clears the cache instead: recomputing the
# densities a question needs is cheaper than updating all of them.
_UPDATE_BUDGET = 1e9


class DensityCache:
    """Remembered neighbourhoods of passages: each one's ``k`` nearest similarities and ids."""

    def __init__(self, dim: int, *, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self.k = 0
        self._slot: dict[int, int] = {}
        self._ids = np.full(capacity, -1, dtype=np.int64)
        self._vectors = np.zeros((capacity, dim), dtype=np.float32)
        self._sims = np.zeros((capacity, 0), dtype=np.float32)
        self._neighbours = np.zeros((capacity, 0), dtype=np.int64)
        self._used = 0  # slots ever filled; new rows go to the next one, round the ring
        self._next = 0

    def __len__(self) -> int:
        return len(self._slot)

    def missing(self, ids: Sequence[int], *, k: int) -> list[int]:
        """Which of ``ids`` (each once) have no remembered neighbourhood of size ``k``."""
        if k != self.k:
            self.clear()
            self.k = k
            self._sims = np.full((self.capacity, k), -np.inf, dtype=np.float32)
            self._neighbours = np.full((self.capacity, k), -1, dtype=np.int64)
        return [key for key in dict.fromkeys(int(i) for i in ids) if key not in self._slot]

    def remember(
        self,
        ids: Sequence[int],
        vectors: Vectors,
        scores: npt.NDArray[np.float32],
        found: npt.NDArray[np.int64],
    ) -> None:
        """Keep the neighbourhoods of ``ids`` (with their ``vectors``) from a search for them of
        ``k + 1`` results (``scores``, ``found``): the passage itself and padding are dropped."""
        for row, key in enumerate(ids):
            keep = (found[row] != key) & (found[row] != -1)
            sims, neighbours = scores[row][keep][: self.k], found[row][keep][: self.k]
            slot = self._claim(int(key))
            self._vectors[slot] = vectors[row]
            self._sims[slot] = -np.inf
            self._neighbours[slot] = -1
            self._sims[slot, : len(sims)] = sims
            self._neighbours[slot, : len(neighbours)] = neighbours

    def density(self, ids: Sequence[int]) -> dict[int, float]:
        """The mean similarity to the remembered neighbours (0.0 for a passage with none)."""
        out = {}
        for key in ids:
            slot = self._slot.get(int(key))
            if slot is None:
                out[key] = 0.0
                continue
            sims = self._sims[slot]
            finite = sims[np.isfinite(sims)]
            out[key] = float(finite.mean()) if len(finite) else 0.0
        return out

    def added(self, ids: Sequence[int], vectors: Vectors) -> None:
        """New vectors: rows they come closer to than their ``k``-th neighbour take them in."""
        if not self._slot or not len(ids):
            return
        rows = self._used
        if rows * len(ids) * vectors.shape[1] > _UPDATE_BUDGET:
            self.clear()
            return
        similar = self._vectors[:rows] @ np.asarray(vectors, dtype=np.float32).T
        new_ids = np.asarray(ids, dtype=np.int64)
        # Unfilled slots have a +inf threshold, so nothing enters them.
        threshold = np.where(self._ids[:rows] >= 0, self._sims[:rows, -1], np.inf)
        for slot in np.flatnonzero(similar.max(axis=1) > threshold):
            own = new_ids != self._ids[slot]
            sims = np.concatenate([self._sims[slot], similar[slot][own]])
            neighbours = np.concatenate([self._neighbours[slot], new_ids[own]])
            best = np.argsort(-sims, kind="stable")[: self.k]
            self._sims[slot], self._neighbours[slot] = sims[best], neighbours[best]

    def removed(self, ids: Sequence[int]) -> None:
        """Removed vectors: forget their own rows and the rows they were neighbours of."""
        if not self._slot:
            return
        gone = np.asarray(ids, dtype=np.int64)
        rows = self._used
        stale = np.isin(self._ids[:rows], gone) | np.isin(self._neighbours[:rows], gone).any(axis=1)
        for slot in np.flatnonzero(stale & (self._ids[:rows] >= 0)):
            del self._slot[int(self._ids[slot])]
            self._ids[slot] = -1

    def clear(self) -> None:
        self._slot.clear()
        self._ids[:] = -1
        self._used = self._next = 0

    def _claim(self, key: int) -> int:
        """A slot for ``key``: its own, or the next round the ring (forgetting its holder)."""
        if key in self._slot:
            return self._slot[key]
        slot = self._next
        previous = int(self._ids[slot])
        if previous >= 0:
            del self._slot[previous]
        self._ids[slot] = key
        self._slot[key] = slot
        self._next = (slot + 1) % self.capacity
        self._used = max(self._used, slot + 1)
        return slot
