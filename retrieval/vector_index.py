"""The vector index: an in-memory FAISS cache of the store's passage vectors, kept current."""

from __future__ import annotations

import hashlib
import logging
import math
import os
import tempfile
import threading
import time
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

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


# Above this many vectors an exact search costs more than an answer may (57 ms per question and
# seconds of densities at a million, one thread): the index becomes an inverted file of 8-bit
# vectors (IVF-SQ8), 0.4 KB per passage instead of 1.5 KB.
APPROXIMATE_FROM = 100_000
# Share of the inverted lists a question scans: recall@10 against exact search 0.950 on real
# MiniLM passage vectors (`benchmarks/scale_bench.py --real-recall`). Search costs this share of
# the corpus, however many lists it has.
_SEARCH_SHARE = 0.12
# Vectors scanned, in the lists nearest to it, for a stored passage's own neighbours (its
# density): they lie in its own list and the ones next to it.
_DENSITY_VECTORS = 2000
# Training points per list (FAISS asks for at least 39), and most lists: at a million vectors,
# 2,048 lists train and fill in ~30 s on one core, 4,000 took 90 s.
_TRAINING_PER_LIST = 40
_MOST_LISTS = 2048


def _lists_for(vectors: int) -> int:
    """Inverted lists for an index of ``vectors``: about 4 sqrt(n), FAISS's rule of thumb."""
    return min(_MOST_LISTS, max(16, int(4 * math.sqrt(vectors))))


def _held(index: faiss.Index) -> npt.NDArray[np.int64]:
    """The ids an index holds."""
    import faiss

    if isinstance(index, faiss.IndexIDMap2):
        parts = [faiss.vector_to_array(index.id_map)]
    else:
        lists = index.invlists
        parts = [
            faiss.rev_swig_ptr(lists.get_ids(n), lists.list_size(n)).copy()
            for n in range(index.nlist)
        ]
    return np.concatenate([np.zeros(0, dtype=np.int64), *parts]).astype(np.int64)


class FaissIndex:
    """Inner-product search over L2-normalised vectors, i.e. cosine similarity: exact up to
    ``approximate_from`` vectors, then over an inverted file of 8-bit vectors.

    The store holds every vector; this is a per-process cache of them. Before each read it asks
    the store whether another connection committed (``PRAGMA data_version``, microseconds) and,
    if so, loads the vectors it lacks, so an article ingested by another process is searchable
    here at the next question. A vector it does not hold yet is read from the store, so a read
    never fails because the cache is behind.

    The first time the index holds ``approximate_from`` vectors it trains an IVF-SQ8 index on
    a sample of them (seconds) and moves every vector into it; from then on a question scans
    the 12% of its lists nearest to it, and a density the lists of the 2,000 vectors nearest
    to the passage. Its ids stay inside FAISS (a hash table maps them to their rows), so
    removal and reconstruction work as before.

    The cache is snapshotted to disk only now and then (``checkpoint``), so a start-up reads the
    snapshot and the few vectors committed since instead of the whole table; a stale, missing or
    unreadable snapshot costs a read of the store, never a re-embedding. ``IndexIDMap2`` keeps
    passage ids inside the exact index, so a hit maps straight back to the store.
    """

    # Rewriting the snapshot costs as much as the whole index; do it when this many vectors,
    # or this share of the index, would otherwise have to be read from the store at start-up.
    _CHECKPOINT_VECTORS = 5000
    _CHECKPOINT_SHARE = 0.1

    def __init__(
        self,
        store: ArticleStore,
        *,
        snapshot: Path,
        dim: int,
        model: str,
        approximate_from: int = APPROXIMATE_FROM,
    ) -> None:
        # FAISS is imported where it is used: commands that never search (`briefbot stats`,
        # `feeds list`) should not pay for loading it.
        self.store = store
        self.path = snapshot
        self.dim = dim
        self.model = model
        self.model_id = store.model_id(model, dim)
        # Chat adapters answer and ingest on worker threads; FAISS must not search mid-add.
        # Never wait for the store while holding this lock: a writer holds the store's lock and
        # then takes this one.
        self._lock = threading.RLock()
        self.approximate_from = approximate_from
        self._index = self._load() or self._empty()
        self._known: set[int] = set(_held(self._index).tolist())
        self._unsaved = 0
        self._version: int | None = None
        # Densities asked for, kept exact as vectors come and go (retrieval.density).
        self._density = DensityCache(dim)

    def _empty(self) -> faiss.Index:
        import faiss

        return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))

    def _load(self) -> faiss.Index | None:
        """Read the snapshot, or nothing when it is missing, unreadable or of another size."""
        import faiss

        if not self.path.exists():
            return None
        try:
            index = faiss.read_index(str(self.path))
        except (OSError, RuntimeError) as exc:
            log.warning("ignoring the unreadable index snapshot %s (%s)", self.path, exc)
            return None
        if index.d != self.dim or not isinstance(
            index, faiss.IndexIDMap2 | faiss.IndexIVFScalarQuantizer
        ):
            return None
        return index

    @property
    def approximate(self) -> bool:
        """Whether searches go through the inverted file (see the class docstring)."""
        import faiss

        return isinstance(self._index, faiss.IndexIVF)

    @property
    def lists(self) -> int:
        """The inverted file's lists (0 while the index is exact)."""
        return int(self._index.nlist) if self.approximate else 0

    def _become_approximate(self) -> None:
        """Move every vector into a freshly trained IVF-SQ8 index (call with the lock held)."""
        import faiss

        flat = faiss.downcast_index(self._index.index)
        total = int(self._index.ntotal)
        vectors = faiss.rev_swig_ptr(flat.get_xb(), total * self.dim).reshape(total, self.dim)
        ids = _held(self._index)
        lists = _lists_for(total)
        started = time.perf_counter()
        index = faiss.IndexIVFScalarQuantizer(
            faiss.IndexFlatIP(self.dim),
            self.dim,
            lists,
            faiss.ScalarQuantizer.QT_8bit,
            faiss.METRIC_INNER_PRODUCT,
        )
        sample = np.random.default_rng(0).choice(
            total, min(total, lists * _TRAINING_PER_LIST), replace=False
        )
        index.train(vectors[np.sort(sample)])
        index.set_direct_map_type(faiss.DirectMap.Hashtable)
        for start in range(0, total, 65536):
            index.add_with_ids(vectors[start : start + 65536], ids[start : start + 65536])
        self._index = index
        self._unsaved = total
        log.info(
            "%d vectors: the index is now approximate (IVF-SQ8, %d lists, built in %.1f s)",
            total,
            lists,
            time.perf_counter() - started,
        )

    def _params(
        self, share: float, selector: faiss.IDSelector | None = None
    ) -> faiss.SearchParameters | None:
        """Search parameters: on the inverted file, scan the lists nearest to the query that
        hold about ``share`` of the vectors; keep only ``selector``'s ids."""
        import faiss

        if self.approximate:
            lists = int(self._index.nlist)
            probes = min(lists, max(1, math.ceil(share * lists)))
            return faiss.SearchParametersIVF(nprobe=probes, sel=selector)
        return None if selector is None else faiss.SearchParameters(sel=selector)

    def __len__(self) -> int:
        self.refresh()
        return int(self._index.ntotal)

    def add(self, ids: Sequence[int], vectors: Vectors) -> None:
        """Add vectors this process just committed to the store; ids already held are skipped."""
        with self._lock:
            self._add(ids, vectors)
            self._approximate_if_due()

    def _approximate_if_due(self) -> None:
        """Turn approximate once the threshold is reached (call with the lock held)."""
        if not self.approximate and self._index.ntotal >= self.approximate_from:
            self._become_approximate()

    def _add(self, ids: Sequence[int], vectors: Vectors) -> None:
        """``add`` without the threshold check: a start's bulk load checks once, at its end."""
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
                    self._add(keys, np.stack([found[key] for key in keys]))
                    loaded += len(keys)
        # Once everything is in, so that the inverted file's lists suit the whole corpus.
        with self._lock:
            self._approximate_if_due()
        return loaded

    def _load_from_store(self, *, after: int) -> int:
        loaded = 0
        for ids, vectors in self.store.iter_vectors(self.model_id, after=after):
            self._add(ids, vectors)
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
                count = min(k + 1, self._index.ntotal)
                share = _DENSITY_VECTORS / self._index.ntotal
                scores, found = self._index.search(vectors, count, params=self._params(share))
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
        if allowed is not None and not allowed:
            return []
        import faiss

        query = np.ascontiguousarray(vector.reshape(1, -1), dtype=np.float32)
        share, selector = _SEARCH_SHARE, None
        if allowed is not None:
            selector = faiss.IDSelectorBatch(np.fromiter(allowed, dtype=np.int64))
            # Scan proportionally more lists under a filter, to meet as many of the allowed
            # vectors as an open search meets of all of them.
            share /= len(allowed) / self._index.ntotal
        with self._lock:
            params = self._params(share, selector)
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
