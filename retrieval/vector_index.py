"""The vector index: an in-memory FAISS cache of the store's passage vectors, kept current."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from corpus.store import ArticleStore
from retrieval.density import DensityCache
from retrieval.embedding import Vectors

if TYPE_CHECKING:
    import faiss

log = logging.getLogger(__name__)


class VectorIndex(Protocol):
    """Nearest-neighbour search over the store's passage vectors of one model."""

    model: str
    model_id: int

    def __len__(self) -> int: ...
    def add(self, ids: Sequence[int], vectors: Vectors) -> None: ...
    def refresh(self, *, force: bool = False) -> int: ...
    def search(
        self, vector: Vectors, k: int, *, allowed: Collection[int] | None = None
    ) -> list[tuple[int, float]]: ...
    def vectors(self, ids: Sequence[int]) -> Vectors: ...
    def indexed(self, ids: Collection[int]) -> set[int]: ...
    def density(self, ids: Sequence[int], *, k: int) -> dict[int, float]: ...
    def checkpoint(self, *, force: bool = False) -> bool: ...


def snapshot_path(directory: Path, model: str) -> Path:
    """One snapshot file per model, so switching models never loads the wrong vector space."""
    digest = hashlib.sha1(model.encode("utf-8"), usedforsecurity=False).hexdigest()[:12]
    return directory / f"vectors-{digest}.faiss"


class FaissIndex:
    """Exact inner-product search over L2-normalised vectors, i.e. cosine similarity.

    The store holds every vector; this is a per-process cache of them. Before each read it asks
    the store whether another connection committed (``PRAGMA data_version``, microseconds) and,
    if so, loads the vectors it lacks, so an article ingested by another process is searchable
    here at the next question. A vector it does not hold yet is read from the store, so a read
    never fails because the cache is behind.

    The cache is snapshotted to disk only now and then (``checkpoint``), so a start-up reads the
    snapshot and the few vectors committed since instead of the whole table; a stale, missing or
    unreadable snapshot costs a read of the store, never a re-embedding. ``IndexIDMap2`` keeps
    passage ids inside FAISS, so a hit maps straight back to the store.
    """

    # Rewriting the snapshot costs as much as the whole index; do it when this many vectors,
    # or this share of the index, would otherwise have to be read from the store at start-up.
    _CHECKPOINT_VECTORS = 5000
    _CHECKPOINT_SHARE = 0.1

    def __init__(self, store: ArticleStore, *, snapshot: Path, dim: int, model: str) -> None:
        # FAISS is imported where it is used: commands that never search (`briefbot stats`,
        # `feeds list`) should not pay for loading it.
        import faiss

        self.store = store
        self.path = snapshot
        self.dim = dim
        self.model = model
        self.model_id = store.model_id(model, dim)
        # Chat adapters answer and ingest on worker threads; FAISS must not search mid-add.
        # Never wait for the store while holding this lock: a writer holds the store's lock and
        # then takes this one.
        self._lock = threading.RLock()
        self._index = self._load() or self._empty()
        self._known: set[int] = set(faiss.vector_to_array(self._index.id_map).tolist())
        self._unsaved = 0
        self._version: int | None = None
        # Densities asked for, kept exact as vectors come and go (retrieval.density).
        self._density = DensityCache(dim)

    def _empty(self) -> faiss.IndexIDMap2:
        import faiss

        return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))

    def _load(self) -> faiss.IndexIDMap2 | None:
        """Read the snapshot, or nothing when it is missing, unreadable or of another size."""
        import faiss

        if not self.path.exists():
            return None
        try:
            index = faiss.read_index(str(self.path))
        except (OSError, RuntimeError) as exc:
            log.warning("ignoring the unreadable index snapshot %s (%s)", self.path, exc)
            return None
        if index.d != self.dim or not isinstance(index, faiss.IndexIDMap2):
            return None
        return index

    def __len__(self) -> int:
        self.refresh()
        return int(self._index.ntotal)

    def add(self, ids: Sequence[int], vectors: Vectors) -> None:
        """Add vectors this process just committed to the store; ids already held are skipped."""
        with self._lock:
            fresh = [row for row, key in enumerate(ids) if int(key) not in self._known]
            if not fresh:
                return
            keys = np.asarray([int(ids[row]) for row in fresh], dtype=np.int64)
            self._index.add_with_ids(np.ascontiguousarray(vectors[fresh]), keys)
            self._known.update(keys.tolist())
            self._unsaved += len(fresh)
            self._density.added(keys.tolist(), vectors[fresh])

    def _remove(self, ids: Sequence[int]) -> None:
        with self._lock:
            self._index.remove_ids(np.asarray(ids, dtype=np.int64))
            self._known.difference_update(int(i) for i in ids)
            self._unsaved += len(ids)
            self._density.removed(ids)

    def refresh(self, *, force: bool = False) -> int:
        """Bring the cache up to date with the store; returns how many vectors it loaded.

        Cheap when nothing changed. New passages have higher ids, so usually only the rows above
        the largest known id are read; a full id comparison runs only when counts still differ
        (passages deleted, or a snapshot from another time).
        """
        version = self.store.data_version()
        if not force and version == self._version:
            return 0
        self._version = version
        count, _ = self.store.vector_extent(self.model_id)
        with self._lock:
            largest = max(self._known, default=0)
        loaded = self._load_from_store(after=largest)
        with self._lock:
            in_step = len(self._known) == count
        if not in_step:
            stored = self.store.vector_ids(self.model_id)
            with self._lock:
                held = np.fromiter(self._known, dtype=np.int64, count=len(self._known))
            extra = held[~np.isin(held, stored)]
            if len(extra):
                self._remove(extra.tolist())
            lacking = stored[~np.isin(stored, held)]
            for start in range(0, len(lacking), 4096):
                chunk = lacking[start : start + 4096].tolist()
                found = self.store.vectors(self.model_id, chunk)
                keys = [key for key in chunk if key in found]
                if keys:
                    self.add(keys, np.stack([found[key] for key in keys]))
                    loaded += len(keys)
        return loaded

    def _load_from_store(self, *, after: int) -> int:
        loaded = 0
        for ids, vectors in self.store.iter_vectors(self.model_id, after=after):
            self.add(ids, vectors)
            loaded += len(ids)
        return loaded

    def density(self, ids: Sequence[int], *, k: int) -> dict[int, float]:
        """Mean cosine similarity of each passage to its ``k`` nearest other passages.

        Computed when first asked for and then kept exact as vectors are added and removed
        (``DensityCache``), so it never depends on the order passages came in, and an ingest
        costs the next question only the rows the new passages come close to.
        """
        self.refresh()
        with self._lock:
            wanted = self._density.missing(ids, k=k)
        vectors = self.vectors(wanted) if wanted else None
        with self._lock:
            if vectors is not None and self._index.ntotal > 1:
                scores, found = self._index.search(vectors, min(k + 1, self._index.ntotal))
                self._density.remember(wanted, vectors, scores, found)
            return self._density.density(ids)

    def indexed(self, ids: Collection[int]) -> set[int]:
        """Which of ``ids`` have a vector (in the cache, or committed to the store)."""
        self.refresh()
        with self._lock:
            held = {int(i) for i in ids if int(i) in self._known}
        rest = [int(i) for i in ids if int(i) not in held]
        return held | set(self.store.vectors(self.model_id, rest))

    def vectors(self, ids: Sequence[int]) -> Vectors:
        """The vectors of ``ids``, from the cache or else the store; zeros for a passage that
        has none (it cannot match anything)."""
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        with self._lock:
            absent = []
            for row, key in enumerate(ids):
                if int(key) in self._known:
                    out[row] = self._index.reconstruct(int(key))
                else:
                    absent.append(row)
        if absent:
            found = self.store.vectors(self.model_id, [int(ids[row]) for row in absent])
            for row in absent:
                vector = found.get(int(ids[row]))
                if vector is not None:
                    out[row] = vector
        return out

    def search(
        self, vector: Vectors, k: int, *, allowed: Collection[int] | None = None
    ) -> list[tuple[int, float]]:
        self.refresh()
        if self._index.ntotal == 0 or k <= 0:
            return []
        params = None
        if allowed is not None:
            if not allowed:
                return []
            import faiss

            selector = faiss.IDSelectorBatch(np.fromiter(allowed, dtype=np.int64))
            params = faiss.SearchParameters(sel=selector)
        query = np.ascontiguousarray(vector.reshape(1, -1), dtype=np.float32)
        with self._lock:
            scores, ids = self._index.search(query, min(k, self._index.ntotal), params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i != -1]

    def checkpoint(self, *, force: bool = False) -> bool:
        """Snapshot the cache to disk when enough has changed since the last one (or ``force``).

        Written to a file of this process's own and renamed, so concurrent processes and crashes
        never leave half a snapshot. A failed write (disk full, read-only) only costs a slower
        start: the store still holds every vector.
        """
        with self._lock:
            due = self._unsaved >= max(
                self._CHECKPOINT_VECTORS, self._CHECKPOINT_SHARE * self._index.ntotal
            )
            if not (due or (force and self._unsaved)):
                return False
            import faiss

            tmp: str | None = None
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
                os.close(fd)
                faiss.write_index(self._index, tmp)
                Path(tmp).replace(self.path)
            except (OSError, RuntimeError) as exc:
                log.warning("could not save the index snapshot %s (%s)", self.path, exc)
                if tmp is not None:
                    Path(tmp).unlink(missing_ok=True)
                return False
            self._unsaved = 0
            return True
