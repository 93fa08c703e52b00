"""The lexical index: BM25 keyword search over passages with SQLite FTS5."""

from __future__ import annotations

import threading
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Protocol

from corpus.store import connect
from retrieval.terms import content_terms


class LexicalIndex(Protocol):
    """Keyword search over passages; rebuildable from the store at any time."""

    def __len__(self) -> int: ...
    def add(self, items: Sequence[tuple[int, str, str]]) -> None: ...
    def remove(self, ids: Sequence[int]) -> None: ...
    def search(
        self, query: str, k: int, *, allowed: Collection[int] | None = None
    ) -> list[tuple[int, float]]: ...
    def reset(self) -> None: ...


class FTS5Index:
    """FTS5 keeps its own incremental, persistent inverted index in a SQLite file.

    Rows are keyed by passage id. Scores are FTS5's ``bm25()`` negated, so larger is better,
    with the title weighted below the passage body because every passage of an article repeats it.
    """

    _TITLE_WEIGHT = 0.5

    def __init__(self, path: Path) -> None:
        self._conn = connect(path)
        self._lock = threading.RLock()
        with self._lock:
            self._conn.execute(
                "CREATE VIRTUAL TABLE IF NOT EXISTS passage_terms USING fts5("
                "title, body, tokenize='porter unicode61 remove_diacritics 2')"
            )

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM passage_terms").fetchone()[0])

    def add(self, items: Sequence[tuple[int, str, str]]) -> None:
        """Index ``(passage id, title, text)`` rows."""
        with self._lock:
            self._conn.execute("BEGIN")
            self._conn.executemany(
                "INSERT OR REPLACE INTO passage_terms (rowid, title, body) VALUES (?, ?, ?)", items
            )
            self._conn.execute("COMMIT")

    def remove(self, ids: Sequence[int]) -> None:
        with self._lock:
            self._conn.executemany(
                "DELETE FROM passage_terms WHERE rowid = ?", [(int(i),) for i in ids]
            )

    def reset(self) -> None:
        with self._lock:
            self._conn.execute("DELETE FROM passage_terms")

    def search(
        self, query: str, k: int, *, allowed: Collection[int] | None = None
    ) -> list[tuple[int, float]]:
        terms = content_terms(query)
        if not terms or k <= 0 or (allowed is not None and not allowed):
            return []
        # Quoted terms OR-ed: any shared word makes a candidate and BM25 orders them.
        match = " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)
        sql = (
            "SELECT rowid, bm25(passage_terms, ?, 1.0) AS score FROM passage_terms"
            " WHERE passage_terms MATCH ? ORDER BY score"
        )
        with self._lock:
            if allowed is None:
                rows = self._conn.execute(sql + " LIMIT ?", (self._TITLE_WEIGHT, match, k))
                return [(int(row[0]), -float(row[1])) for row in rows]
            # The window is applied while reading the ranked rows: an ``IN`` filter inside the
            # FTS5 query is re-evaluated per matching row and costs hundreds of milliseconds.
            keep = allowed if isinstance(allowed, set | frozenset) else set(allowed)
            hits: list[tuple[int, float]] = []
            for row in self._conn.execute(sql, (self._TITLE_WEIGHT, match)):
                if row[0] in keep:
                    hits.append((int(row[0]), -float(row[1])))
                    if len(hits) == k:
                        break
            return hits
