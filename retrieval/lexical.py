"""The lexical index: BM25 keyword search over passages with SQLite FTS5, inside the store."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from typing import Protocol

from corpus.database import Connection, StoreError, Tables, migrate
from retrieval.terms import content_terms, content_words, porter_stem

# One token as FTS5's tokenizer reads it, with nothing for it to fold but case.
_PLAIN_WORD = re.compile(r"[A-Za-z0-9]+")


class LexicalIndex(Protocol):
    """Keyword search over passages; rebuildable from the store at any time."""

    def __len__(self) -> int: ...
    def add(self, items: Sequence[tuple[int, str, str]]) -> None: ...
    def remove(self, ids: Sequence[int]) -> None:
        """Drop passages' entries, in the caller's transaction, before the passages go."""

    def search(
        self, query: str, k: int, *, allowed: Collection[int] | None = None
    ) -> list[tuple[int, float]]: ...
    def missing(self) -> int: ...
    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]: ...
    def vocabulary(self) -> tuple[list[str], list[int]]: ...
    def surface_form(self, stem: str) -> str | None: ...
    def rebuild(self) -> None: ...
    def check(self) -> list[str]: ...


class FTS5Index:
    """An FTS5 table in the store's own SQLite file, written in the store's transactions.

    Because a passage and its index entry commit together, every process sees both or neither;
    nothing can be half-indexed by a crash or lag behind another process's ingest. The table
    takes its text from the store (``content=`` a view over passages and titles), so it holds
    only the inverted index, and ``rebuild`` re-creates it from the store without the model.

    Rows are keyed by passage id. Scores are FTS5's ``bm25()`` negated, so larger is better,
    with the title weighted below the passage body because every passage of an article repeats it.
    """

    _TITLE_WEIGHT = 0.5
    # Passages a keyword search may score, summed over its terms (see ``_telling``). At a
    # million synthetic passages a search took p50 / p95 113 / 433 ms with every term, 31-39 /
    # 40-74 ms within 50,000 and 19-27 / 27-41 ms within 20,000. No RealTime QA or Wikinews dev
    # question comes near it on those corpora (at most 4,134).
    MATCH_POSTINGS = 20_000
    _SCHEMA = """
    CREATE VIEW IF NOT EXISTS passage_texts AS
        SELECT p.id AS id, a.title AS title, p.text AS body
        FROM passages p JOIN articles a ON a.id = p.article_id;
    CREATE VIRTUAL TABLE IF NOT EXISTS passage_terms USING fts5(
        title, body, content='passage_texts', content_rowid='id',
        tokenize='porter unicode61 remove_diacritics 2');
    CREATE VIRTUAL TABLE IF NOT EXISTS passage_vocabulary USING fts5vocab(passage_terms, 'row');
    """

    def __init__(self, tables: Tables) -> None:
        self._tables = tables
        self._vocabulary: tuple[int, list[str], list[int]] | None = None
        migrate(tables.db, "keyword_index", [self._SCHEMA], clock=tables.clock)

    def __len__(self) -> int:
        """Passages in the index (its row-size table has one row per indexed passage)."""
        with self._tables.reading() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM passage_terms_docsize").fetchone()[0])

    def add(self, items: Sequence[tuple[int, str, str]]) -> None:
        """Index ``(passage id, title, text)`` rows, in the caller's transaction if one is open."""
        with self._tables.transaction() as conn:
            conn.executemany(
                "INSERT INTO passage_terms (rowid, title, body) VALUES (?, ?, ?)", items
            )

    def remove(self, ids: Sequence[int]) -> None:
        # An external-content table is told what it indexed, read back while it still exists.
        with self._tables.transaction() as conn:
            conn.execute(
                "INSERT INTO passage_terms (passage_terms, rowid, title, body)"
                f" SELECT 'delete', id, title, body FROM passage_texts"
                f" WHERE {self._tables.db.any_of('id')}",
                (self._tables.db.values(ids),),
            )

    def missing(self) -> int:
        """How many stored passages the index lacks (or holds in excess)."""
        with self._tables.reading() as conn:
            passages = int(conn.execute("SELECT COUNT(*) FROM passages").fetchone()[0])
        return abs(passages - len(self))

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        """How many passages hold each term (in any inflection the index's stemmer folds):
        what tells a question's rare, telling words from its common ones."""
        with self._tables.reading() as conn:
            return self._frequencies(conn, terms)

    def _frequencies(self, conn: Connection, terms: Sequence[str]) -> dict[str, int]:
        """A plain word is looked up by its stem in the index's vocabulary (microseconds);
        counting its matches instead reads every passage that holds it (at a million passages,
        tens of milliseconds for a common word). A phrase, or a word FTS5 would fold further
        (diacritics), is counted."""
        looked_up = "SELECT doc FROM passage_vocabulary WHERE term = ?"
        counted = "SELECT COUNT(*) FROM passage_terms WHERE passage_terms MATCH ?"
        frequencies = {}
        for term in terms:
            if _PLAIN_WORD.fullmatch(term):
                row = conn.execute(looked_up, (porter_stem(term.casefold()),)).fetchone()
            else:
                row = conn.execute(counted, ('"' + term.replace('"', '""') + '"',)).fetchone()
            frequencies[term] = int(row[0]) if row else 0
        return frequencies

    def vocabulary(self) -> tuple[list[str], list[int]]:
        """Every indexed term (as the index stems it) and how many passages hold it; kept until
        another write changes the store, since spelling correction reads it for each typo."""
        version = self._tables.data_version()
        if self._vocabulary is None or self._vocabulary[0] != version:
            with self._tables.reading() as conn:
                rows = conn.execute("SELECT term, doc FROM passage_vocabulary").fetchall()
            self._vocabulary = (version, [r[0] for r in rows], [int(r[1]) for r in rows])
        return self._vocabulary[1], self._vocabulary[2]

    def surface_form(self, stem: str) -> str | None:
        """A word as written in the articles whose stem is ``stem`` ("bombing" for "bomb")."""
        sql = (
            "SELECT title || ' ' || body FROM passage_texts WHERE id ="
            " (SELECT rowid FROM passage_terms WHERE passage_terms MATCH ? LIMIT 1)"
        )
        with self._tables.reading() as conn:
            row = conn.execute(sql, ('"' + stem.replace('"', '""') + '"',)).fetchone()
        if row is None:
            return None
        return next((w for w in content_words(row[0]) if porter_stem(w) == stem), None)

    def rebuild(self) -> None:
        """Re-create the whole index from the store's passages (seconds; no model needed)."""
        with self._tables.transaction() as conn:
            conn.execute("INSERT INTO passage_terms (passage_terms) VALUES ('rebuild')")

    def check(self) -> list[str]:
        """FTS5's own check of the index against the store; empty when they agree."""
        try:
            with self._tables.transaction() as conn:
                conn.execute(
                    "INSERT INTO passage_terms (passage_terms, rank) VALUES ('integrity-check', 1)"
                )
        except StoreError:
            return ["the keyword index does not match the store; it is rebuilt on next start"]
        return []

    def _telling(self, conn: Connection, terms: Sequence[str]) -> list[str]:
        """The rarest of ``terms`` whose passages together stay within ``MATCH_POSTINGS`` (the
        rarest always): FTS5 scores every passage that holds any term of the query, so at a
        million passages a common word ("said", in a third of them) would cost 100-400 ms.
        A word that common adds almost nothing to BM25 (its IDF is near zero) beside the rare
        ones kept; in a store of a few thousand passages no question's terms come near it.
        """
        frequency = self._frequencies(conn, terms)
        telling: list[str] = []
        postings = 0
        for term in sorted(terms, key=frequency.__getitem__):
            postings += frequency[term]
            if telling and postings > self.MATCH_POSTINGS:
                break
            telling.append(term)
        return telling

    def search(
        self, query: str, k: int, *, allowed: Collection[int] | None = None
    ) -> list[tuple[int, float]]:
        terms = content_terms(query)
        if not terms or k <= 0 or (allowed is not None and not allowed):
            return []
        sql = (
            "SELECT rowid, bm25(passage_terms, ?, 1.0) AS score FROM passage_terms"
            " WHERE passage_terms MATCH ? ORDER BY score"
        )
        with self._tables.reading() as conn:
            # Quoted terms OR-ed: any shared word makes a candidate and BM25 orders them.
            telling = self._telling(conn, terms)
            match = " OR ".join('"' + term.replace('"', '""') + '"' for term in telling)
            if allowed is None:
                rows = conn.execute(sql + " LIMIT ?", (self._TITLE_WEIGHT, match, k))
                return [(int(row[0]), -float(row[1])) for row in rows]
            # The window is applied while reading the ranked rows: an ``IN`` filter inside the
            # FTS5 query is re-evaluated per matching row and costs hundreds of milliseconds.
            keep = allowed if isinstance(allowed, set | frozenset) else set(allowed)
            hits: list[tuple[int, float]] = []
            for row in conn.execute(sql, (self._TITLE_WEIGHT, match)):
                if row[0] in keep:
                    hits.append((int(row[0]), -float(row[1])))
                    if len(hits) == k:
                        break
            return hits
