"""The vector index: passage embeddings in FAISS, keyed by passage id, saved atomically."""

from __future__ import annotations

import json
import threading
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Protocol

import faiss
import numpy as np

from retrieval.embedding import Vectors


class VectorIndex(Protocol):
    """Nearest-neighbour search over passage vectors; rebuildable from the store at any time."""

    model: str

    def __len__(self) -> int: ...
    def add(self, ids: Sequence[int], vectors: Vectors) -> None: ...
    def remove(self, ids: Sequence[int]) -> None: ...
    def search(
        self, vector: Vectors, k: int, *, allowed: Collection[int] | None = None
    ) -> list[tuple[int, float]]: ...
    def vectors(self, ids: Sequence[int]) -> Vectors: ...
    def indexed(self, ids: Collection[int]) -> set[int]: ...
    def density(self, ids: Sequence[int], *, k: int) -> dict[int, float]: ...
    def reset(self) -> None: ...
    def save(self) -> None: ...


class FaissIndex:
    """Exact inner-product search over L2-normalised vectors, i.e. cosine similarity.

    ``IndexIDMap2`` keeps our passage ids inside FAISS, so a hit maps straight back to the store
    and single passages can be removed. A flat index is exact and fast enough for the corpora a
    team feeds a bot (a few hundred thousand passages); the ``VectorIndex`` seam is where an
    approximate or pgvector index would go.
    """

    def __init__(self, path: Path, *, dim: int, model: str) -> None:
        self.path = path
        self.dim = dim
        self.model = model
        self._meta_path = path.with_suffix(path.suffix + ".json")
        # Chat adapters answer and ingest on worker threads; FAISS must not search mid-add.
        self._lock = threading.RLock()
        self._index = self._load() or self._empty()
        # Density depends on every other vector, so any change to the index clears it.
        self._density: dict[int, float] = {}

    def _empty(self) -> faiss.IndexIDMap2:
        return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))

    def _load(self) -> faiss.IndexIDMap2 | None:
        """Read the saved index, or nothing when it is missing or built for another model."""
        if not (self.path.exists() and self._meta_path.exists()):
            return None
        try:
            meta = json.loads(self._meta_path.read_text(encoding="utf-8"))
            index = faiss.read_index(str(self.path))
        except (OSError, ValueError, RuntimeError):
            return None
        if meta.get("model") != self.model or index.d != self.dim:
            return None
        if meta.get("count") != index.ntotal:
            return None
        return index

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, ids: Sequence[int], vectors: Vectors) -> None:
        if len(ids):
            with self._lock:
                self._index.add_with_ids(vectors, np.asarray(ids, dtype=np.int64))
                self._density.clear()

    def remove(self, ids: Sequence[int]) -> None:
        if len(ids):
            with self._lock:
                self._index.remove_ids(np.asarray(ids, dtype=np.int64))
                self._density.clear()

    def reset(self) -> None:
        with self._lock:
            self._index = self._empty()
            self._density.clear()

    def density(self, ids: Sequence[int], *, k: int) -> dict[int, float]:
        """Mean cosine similarity of each passage to its ``k`` nearest other passages.

        Computed on demand and cached until the index changes, so it is always exact and does
        not depend on the order in which passages were added.
        """
        with self._lock:
            missing = [i for i in dict.fromkeys(ids) if i not in self._density]
            if missing and self._index.ntotal > 1:
                scores, found = self._index.search(
                    self.vectors(missing), min(k + 1, self._index.ntotal)
                )
                for key, row_scores, row_ids in zip(missing, scores, found, strict=True):
                    pairs = zip(row_scores, row_ids, strict=True)
                    others = [s for s, j in pairs if j not in (key, -1)]
                    self._density[key] = float(np.mean(others[:k])) if others else 0.0
            return {i: self._density.get(i, 0.0) for i in ids}

    def indexed(self, ids: Collection[int]) -> set[int]:
        """Which of ``ids`` the index holds (a passage is stored a moment before it is indexed)."""
        with self._lock:
            present = faiss.vector_to_array(self._index.id_map)
        wanted = np.fromiter(ids, dtype=np.int64, count=len(ids))
        return set(wanted[np.isin(wanted, present)].tolist())

    def vectors(self, ids: Sequence[int]) -> Vectors:
        """The stored vectors of ``ids`` (FAISS keeps them, so nothing is re-embedded)."""
        with self._lock:
            out = np.zeros((len(ids), self.dim), dtype=np.float32)
            for row, key in enumerate(ids):
                out[row] = self._index.reconstruct(int(key))
            return out

    def search(
        self, vector: Vectors, k: int, *, allowed: Collection[int] | None = None
    ) -> list[tuple[int, float]]:
        if self._index.ntotal == 0 or k <= 0:
            return []
        params = None
        if allowed is not None:
            if not allowed:
                return []
            selector = faiss.IDSelectorBatch(np.fromiter(allowed, dtype=np.int64))
            params = faiss.SearchParameters(sel=selector)
        query = np.ascontiguousarray(vector.reshape(1, -1), dtype=np.float32)
        with self._lock:
            scores, ids = self._index.search(query, min(k, self._index.ntotal), params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i != -1]

    def save(self) -> None:
        """Write to a temporary file and rename, so a crash never leaves half an index."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        with self._lock:
            faiss.write_index(self._index, str(tmp))
        tmp.replace(self.path)
        meta = {"model": self.model, "dim": self.dim, "count": len(self)}
        tmp_meta = self._meta_path.with_suffix(".tmp")
        tmp_meta.write_text(json.dumps(meta), encoding="utf-8")
        tmp_meta.replace(self._meta_path)
