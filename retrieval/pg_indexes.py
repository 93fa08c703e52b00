"""The vector and keyword indexes inside PostgreSQL: pgvector's HNSW over the store's vectors,
and a ``tsvector`` table with a GIN index, both written in the store's own transactions."""

from __future__ import annotations

import math
import re
import threading
import unicodedata
from collections.abc import Collection, Sequence
from functools import lru_cache

import numpy as np

from corpus.database import Connection, Tables, migrate
from corpus.store import SQLStore
from retrieval.embedding import Vectors
from retrieval.terms import content_terms, content_words, porter_stem


def _require_postgresql(tables: Tables) -> None:
    if tables.db.dialect != "postgresql":
        raise ValueError(f"{tables.name}: the PostgreSQL indexes need a PostgreSQL database")


def _id_array(ids: Collection[int]) -> str:
    """Passage ids as a ``bigint[]`` literal (integers only, so nothing can be injected).

    A literal rather than a parameter: a search filtered by 100,000 ids took 140 ms with the
    list bound as a parameter (psycopg adapts it element by element) and 45 ms as a literal,
    which PostgreSQL also hashes for ``= ANY``.
    """
    return "'{" + ",".join(str(int(i)) for i in ids) + "}'::bigint[]"


def _version(conn: Connection, table: str, where: str = "") -> tuple[int, ...]:
    """What changes when ``table`` gains or loses rows: its largest passage id (new passages
    take larger ids), how many articles were ever removed (``corpus.store``), and the server's
    counts of rows written to it, which also catch a commit out of id order within about a
    second. ``data_version`` would not do as a cache key here: on PostgreSQL it moves with every
    write to the server — each chat message records a conversation turn — so the caches below
    would never be reused."""
    row = conn.execute(
        f"SELECT (SELECT MAX(passage_id) FROM {table}{where}),"
        " (SELECT count FROM removals),"
        " (SELECT n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables"
        f" WHERE relid = '{table}'::regclass)"
    ).fetchone()
    return (int(row[0] or 0), int(row[1] or 0), int(row[2] or 0))


class PgVectorIndex:
    """Cosine search over the store's ``passage_vectors`` with a pgvector HNSW index.

    The vectors are the store's rows, committed with their passages, so every process sees an
    article the moment its ingest commits: there is no cache to refresh or snapshot. Each model
    has its own partial index over ``vector::vector(dim)`` (the column has no fixed dimension,
    so that models of different sizes share it); queries repeat that expression and the model id
    as literals, so the planner can match the index — with the id as a parameter a prepared,
    generic plan could not prove the index's predicate and would scan the table.

    Scores are ``1 - cosine distance``: for the unit vectors the embedder writes, the inner
    product that :class:`~retrieval.vector_index.FaissIndex` returns.
    """

    # HNSW applies a filter to the ``ef_search`` candidates it visits, so a window holding a
    # small share of the passages gets fewer than k hits, or none. Such a window is read and
    # sorted exactly instead, as is any window smaller than this many times the candidates a
    # filtered search would visit: on 16,000 vectors HNSW cost ~14 µs per candidate visited
    # and the exact sort ~3 µs per passage (on 200,000: 2 ms for 1,000 ids, 65 ms for 20,000).
    _EXACT_PER_CANDIDATE = 4
    # pgvector's ceiling for ``hnsw.ef_search``.
    _MAX_EF = 1000

    def __init__(self, store: SQLStore, *, dim: int, model: str) -> None:
        _require_postgresql(store)
        self.store = store
        self.dim = dim
        self.model = model
        self.model_id = store.model_id(model, dim)
        self._index = f"passage_vectors_hnsw_{self.model_id}"
        self._vector = f"vector::vector({int(dim)})"
        self._mine = f"model_id = {int(self.model_id)}"
        migrate(
            store.db,
            f"vector_index_{self.model_id}",
            [
                f"CREATE INDEX IF NOT EXISTS {self._index}"
                f" ON passage_vectors USING hnsw (({self._vector}) vector_cosine_ops)"
                f" WHERE {self._mine}"
            ],
            clock=store.clock,
        )
        self._lock = threading.Lock()
        # Density depends on every other vector: kept while this model's vectors are unchanged.
        self._density: tuple[tuple[int, ...], int, dict[int, float]] = ((), 0, {})

    def __len__(self) -> int:
        return self.store.vector_extent(self.model_id)[0]

    def add(self, ids: Sequence[int], vectors: Vectors) -> None:
        """Nothing to do: the store wrote the vectors, and the index is the store's."""

    def refresh(self, *, force: bool = False) -> int:
        """Nothing to load: every committed vector is searchable at once."""
        return 0

    def checkpoint(self, *, force: bool = False) -> bool:
        """Nothing to save: PostgreSQL keeps the index."""
        return False

    def _ef_search(self, conn: Connection, ef: int) -> None:
        """Visit ``ef`` candidates (pgvector returns at most that many hits), for this
        transaction only: a pooled connection goes back without the setting."""
        value = min(max(ef, 40), self._MAX_EF)
        conn.execute("SELECT set_config('hnsw.ef_search', ?, true)", (str(value),))

    def _size(self, conn: Connection) -> int:
        """About how many vectors the index holds (the planner's statistics), for sizing a
        filtered search; counting them exactly took 50 ms on 200,000."""
        row = conn.execute(
            "SELECT reltuples FROM pg_class WHERE oid = to_regclass(?)", (self._index,)
        ).fetchone()
        estimate = int(row[0]) if row is not None and row[0] is not None else 0
        return estimate if estimate > 0 else len(self)

    def search(
        self, vector: Vectors, k: int, *, allowed: Collection[int] | None = None
    ) -> list[tuple[int, float]]:
        if k <= 0 or (allowed is not None and not allowed):
            return []
        query = np.ascontiguousarray(vector.reshape(-1), dtype=np.float32)
        nearest = (
            f"SELECT passage_id, {self._vector} <=> ? AS distance FROM passage_vectors"
            f" WHERE {self._mine}{{window}} ORDER BY distance LIMIT ?"
        )
        with self.store.transaction() as conn:
            if allowed is None:
                # Twice k: recall@10 0.995 at k = 50 against exact search on 16,000 real
                # passages (pgvector's default of 40 cannot even return 50).
                self._ef_search(conn, 2 * k)
                rows = conn.execute(nearest.format(window=""), (query, k)).fetchall()
                return [(int(row[0]), 1.0 - float(row[1])) for row in rows]
            # About ``share`` of the candidates HNSW visits are in the window: visit enough for
            # twice k of them, when that many may be visited at all.
            share = min(len(allowed) / max(self._size(conn), 1), 1.0)
            candidates = math.ceil(2 * k / share)
            exact = len(allowed) < self._EXACT_PER_CANDIDATE * candidates
            if not exact and candidates <= self._MAX_EF:
                self._ef_search(conn, candidates)
                window = f" AND passage_id = ANY({_id_array(allowed)})"
                rows = conn.execute(nearest.format(window=window), (query, k)).fetchall()
                if len(rows) == k:
                    return [(int(row[0]), 1.0 - float(row[1])) for row in rows]
            return self._exact(conn, query, k, allowed)

    def _exact(
        self, conn: Connection, query: Vectors, k: int, allowed: Collection[int]
    ) -> list[tuple[int, float]]:
        """The window's vectors read by id and sorted: ordering by similarity rather than by
        the index's distance operator keeps the planner off the HNSW index."""
        rows = conn.execute(
            f"SELECT passage_id, 1 - ({self._vector} <=> ?) AS similarity FROM passage_vectors"
            f" WHERE {self._mine} AND passage_id = ANY({_id_array(allowed)})"
            " ORDER BY similarity DESC, passage_id LIMIT ?",
            (query, k),
        ).fetchall()
        return [(int(row[0]), float(row[1])) for row in rows]

    def vectors(self, ids: Sequence[int]) -> Vectors:
        """The vectors of ``ids``; zeros for a passage that has none (it matches nothing)."""
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        found = self.store.vectors(self.model_id, ids)
        for row, key in enumerate(ids):
            vector = found.get(int(key))
            if vector is not None:
                out[row] = vector
        return out

    def indexed(self, ids: Collection[int]) -> set[int]:
        """Which of ``ids`` have a vector of this model."""
        if not ids:
            return set()
        with self.store.reading() as conn:
            rows = conn.execute(
                f"SELECT passage_id FROM passage_vectors WHERE {self._mine}"
                f" AND passage_id = ANY({_id_array(ids)})"
            ).fetchall()
        return {int(row[0]) for row in rows}

    def density(self, ids: Sequence[int], *, k: int) -> dict[int, float]:
        """Mean cosine similarity of each passage to its ``k`` nearest other passages, as
        :meth:`FaissIndex.density <retrieval.vector_index.FaissIndex.density>` defines it;
        one query, each passage's neighbours found through the HNSW index (0.4 ms a passage
        on 16,000 vectors, 0.8 ms on 200,000), kept until this model's vectors change."""
        with self.store.reading() as conn:
            version = _version(conn, "passage_vectors", f" WHERE {self._mine}")
        with self._lock:
            cached_version, cached_k, cache = self._density
            if (cached_version, cached_k) != (version, k):
                cache = {}
                self._density = (version, k, cache)
            wanted = [int(i) for i in dict.fromkeys(ids) if int(i) not in cache]
        if wanted and k > 0:
            sql = (
                "SELECT q.passage_id, n.density FROM passage_vectors q CROSS JOIN LATERAL"
                " (SELECT AVG(1 - o.distance) AS density FROM"
                f" (SELECT p.{self._vector} <=> q.{self._vector} AS distance"
                f" FROM passage_vectors p WHERE p.{self._mine} AND p.passage_id <> q.passage_id"
                " ORDER BY distance LIMIT ?) o) n"
                f" WHERE q.{self._mine} AND q.passage_id = ANY({_id_array(wanted)})"
            )
            with self.store.transaction() as conn:
                self._ef_search(conn, 2 * (k + 1))
                rows = conn.execute(sql, (k,)).fetchall()
            found = {int(row[0]): float(row[1]) if row[1] is not None else 0.0 for row in rows}
            with self._lock:
                cache.update(found)
                cache.update((i, 0.0) for i in wanted if i not in found)
        return {int(i): cache.get(int(i), 0.0) for i in ids}


# Word tokens as SQLite FTS5's ``unicode61`` tokenizer cuts them: runs of letters and digits
# (underscore separates), case and diacritics folded; then the ``porter`` stem, which is what
# ``retrieval.terms.porter_stem`` names and what spelling and story grouping look terms up by.
_WORD = re.compile(r"[^\W_]+")
# PostgreSQL rejects lexemes of 2 KiB or more; no word is that long, but junk can be.
_MAX_LEXEME_BYTES = 2047
# tsvector positions stop at 16383 (larger ones are stored as 16383).
_MAX_POSITION = 16383


@lru_cache(maxsize=65536)
def _lexeme(word: str) -> str:
    """A lower-case word's index key: diacritics dropped, then its porter stem — except that,
    as in FTS5, words under 3 or over 64 bytes stay whole ("us" is not "u", "is" not "i")."""
    if not word.isascii():
        decomposed = unicodedata.normalize("NFD", word)
        word = "".join(c for c in decomposed if not unicodedata.combining(c))
    return porter_stem(word) if 3 <= len(word.encode("utf-8")) <= 64 else word


def _lexemes(text: str) -> list[str]:
    """``text``'s words as index keys, in order (stop words kept, so phrases match)."""
    found = (_lexeme(w) for w in _WORD.findall(text.casefold()))
    return [key for key in found if key and len(key.encode("utf-8")) <= _MAX_LEXEME_BYTES]


def _quoted(lexeme: str) -> str:
    """A lexeme as a ``tsvector``/``tsquery`` literal operand, read as-is (no parser)."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def _document(title: str, body: str) -> tuple[str, int, int]:
    """The ``tsvector`` literal of a passage — title words weighted B at positions from 1, then
    body words weighted A — and how many words the title and the whole passage have.

    Built here rather than with ``to_tsvector`` so that the index and the queries cut and stem
    words one way, FTS5's: PostgreSQL's parser keeps "3.5", "u.s" or "bbc.co.uk" whole, and its
    English stemmer (Snowball) names 4 % of the sample corpus's words differently from the
    porter stems that spelling correction and story grouping look terms up by."""
    positions: dict[str, list[str]] = {}
    at = 0
    counts = []
    for weight, text in (("B", title), ("A", body)):
        words = _lexemes(text)
        for key in words:
            at += 1
            positions.setdefault(key, []).append(f"{min(at, _MAX_POSITION)}{weight}")
        at += 1  # a phrase does not run from the title into the body
        counts.append(len(words))
    literal = " ".join(f"{_quoted(key)}:{','.join(p)}" for key, p in positions.items())
    return literal, min(counts[0], _MAX_POSITION), counts[0] + counts[1]


def _phrase(text: str) -> str | None:
    """A ``tsquery`` matching ``text``'s words in order (one word: that word), or None."""
    keys = _lexemes(text)
    return " <-> ".join(_quoted(key) for key in keys) if keys else None


class PgLexicalIndex:
    """BM25 keyword search over a ``tsvector`` per passage, in the store's database.

    Rows are written in the store's transaction, so a passage and its keywords commit together
    and every process sees both or neither. Scores are the BM25 of SQLite FTS5 (k1 1.2, b 0.75,
    a title occurrence counting half a body one), computed in SQL from the stored positions;
    larger is better. PostgreSQL's own ``ts_rank_cd`` has no inverse document frequency: on
    the Wikinews dev questions its top 10 shared 46 % of FTS5's (this BM25: 100 %), and it is
    slower: ranking a question's 70,000 matches took it 1.4 s, this whole query 0.6 s.
    """

    _TITLE_WEIGHT = 0.5
    _K1 = 1.2
    _B = 0.75
    _SCHEMA = """
    CREATE TABLE IF NOT EXISTS passage_terms (
        passage_id BIGINT PRIMARY KEY REFERENCES passages(id) ON DELETE CASCADE,
        terms tsvector NOT NULL,
        title_words INTEGER NOT NULL,
        words INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS passage_terms_gin ON passage_terms USING gin (terms)
    """
    _BATCH = 2000

    def __init__(self, tables: Tables) -> None:
        _require_postgresql(tables)
        self._tables = tables
        self._vocabulary: tuple[tuple[int, ...], list[str], list[int]] | None = None
        self._sizes: tuple[tuple[int, ...], int, float] | None = None
        migrate(tables.db, "keyword_index", [self._SCHEMA], clock=tables.clock)

    def __len__(self) -> int:
        with self._tables.reading() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM passage_terms").fetchone()[0])

    def remove(self, ids: Sequence[int]) -> None:
        with self._tables.transaction() as conn:
            conn.execute(f"DELETE FROM passage_terms WHERE passage_id = ANY({_id_array(ids)})")

    def add(self, items: Sequence[tuple[int, str, str]]) -> None:
        """Index ``(passage id, title, text)`` rows, in the caller's transaction if one is open."""
        rows = [(int(pid), *_document(title, body)) for pid, title, body in items]
        with self._tables.transaction() as conn:
            conn.executemany(
                "INSERT INTO passage_terms (passage_id, terms, title_words, words)"
                " VALUES (?, ?::tsvector, ?, ?) ON CONFLICT (passage_id) DO UPDATE"
                " SET terms = excluded.terms, title_words = excluded.title_words,"
                " words = excluded.words",
                rows,
            )

    def missing(self) -> int:
        """How many stored passages the index lacks."""
        with self._tables.reading() as conn:
            row = conn.execute(
                "SELECT COUNT(*) FROM passages p WHERE NOT EXISTS"
                " (SELECT 1 FROM passage_terms t WHERE t.passage_id = p.id)"
            ).fetchone()
        return int(row[0])

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        """How many passages hold each term (a word in any inflection the stemmer folds, or a
        phrase such as a name), in one round trip."""
        queries = {term: _phrase(term) for term in terms}
        asked = [q for q in dict.fromkeys(queries.values()) if q is not None]
        counts: dict[str, int] = {}
        if asked:
            with self._tables.reading() as conn:
                rows = conn.execute(
                    "SELECT q.query, (SELECT COUNT(*) FROM passage_terms"
                    " WHERE terms @@ q.query::tsquery) FROM unnest(?::text[]) AS q(query)",
                    (asked,),
                ).fetchall()
            counts = {str(row[0]): int(row[1]) for row in rows}
        return {term: counts.get(q, 0) if q else 0 for term, q in queries.items()}

    def vocabulary(self) -> tuple[list[str], list[int]]:
        """Every indexed term (its porter stem) and how many passages hold it; kept until the
        index changes, since spelling correction and each briefing read it (``ts_stat`` reads
        every row: 0.4 s on 16,000 passages)."""
        with self._tables.reading() as conn:
            version = _version(conn, "passage_terms")
            cached = self._vocabulary
            if cached is None or cached[0] != version:
                rows = conn.execute(
                    "SELECT word, ndoc FROM ts_stat('SELECT terms FROM passage_terms')"
                ).fetchall()
                cached = (version, [str(r[0]) for r in rows], [int(r[1]) for r in rows])
                self._vocabulary = cached
        return cached[1], cached[2]

    def surface_form(self, stem: str) -> str | None:
        """A word as written in the articles whose stem is ``stem`` ("bombing" for "bomb")."""
        with self._tables.reading() as conn:
            row = conn.execute(
                "SELECT a.title || ' ' || p.text FROM passage_terms t"
                " JOIN passages p ON p.id = t.passage_id JOIN articles a ON a.id = p.article_id"
                " WHERE t.terms @@ ?::tsquery LIMIT 1",
                (_quoted(stem),),
            ).fetchone()
        if row is None:
            return None
        return next((w for w in content_words(row[0]) if _lexeme(w) == stem), None)

    def rebuild(self) -> None:
        """Re-create the whole index from the store's passages in one transaction (readers see
        the old index until it commits; no model needed)."""
        with self._tables.transaction() as conn:
            conn.execute("DELETE FROM passage_terms")
            last = 0
            while True:
                rows = conn.execute(
                    "SELECT p.id, a.title, p.text FROM passages p"
                    " JOIN articles a ON a.id = p.article_id WHERE p.id > ? ORDER BY p.id"
                    " LIMIT ?",
                    (last, self._BATCH),
                ).fetchall()
                if not rows:
                    break
                self.add([(int(r[0]), str(r[1]), str(r[2])) for r in rows])
                last = int(rows[-1][0])

    def check(self) -> list[str]:
        """Whether every stored passage has its keyword entry; empty when they agree."""
        missing = self.missing()
        if missing:
            return [f"the keyword index lacks {missing} passages; it is rebuilt on next start"]
        return []

    def _collection(self) -> tuple[int, float]:
        """Passages indexed and their mean length in words, for BM25; kept until the index
        changes (both are a scan of the table)."""
        with self._tables.reading() as conn:
            version = _version(conn, "passage_terms")
            cached = self._sizes
            if cached is None or cached[0] != version:
                row = conn.execute(
                    "SELECT COUNT(*), COALESCE(AVG(words), 0) FROM passage_terms"
                ).fetchone()
                cached = (version, int(row[0]), float(row[1]))
                self._sizes = cached
        return cached[1], cached[2]

    def search(
        self, query: str, k: int, *, allowed: Collection[int] | None = None
    ) -> list[tuple[int, float]]:
        # As FTS5 was asked: each content word of the question is a term (two words with one
        # stem count twice), any of them makes a candidate, and BM25 orders the candidates.
        keys = [key for term in content_terms(query) for key in _lexemes(term)]
        if not keys or k <= 0 or (allowed is not None and not allowed):
            return []
        documents, mean_words = self._collection()
        if not documents:
            return []
        # Per candidate, only the query's lexemes are taken out of its tsvector (setweight
        # marks them D, ts_filter keeps D): unnesting whole tsvectors and filtering in SQL was
        # 4x slower (47 ms against 10 ms over 832 matches). A title occurrence is one at a
        # position up to ``title_words``; ``width_bucket`` counts those in the sorted positions.
        sql = (
            "WITH asked AS MATERIALIZED (SELECT q.key, GREATEST(LN((?::float8 - d.n + 0.5)"
            " / (d.n + 0.5)), 1e-6) AS idf FROM unnest(?::text[], ?::text[]) AS q(key, operand)"
            " CROSS JOIN LATERAL (SELECT COUNT(*) AS n FROM passage_terms"
            " WHERE terms @@ q.operand::tsquery) d)"
            " SELECT t.passage_id, s.score FROM passage_terms t CROSS JOIN LATERAL"
            " (SELECT SUM(asked.idf * f.tf * ? / (f.tf + ? * t.words / ? + ?)) AS score"
            " FROM (SELECT u.lexeme, cardinality(u.positions)"
            " - ? * width_bucket(t.title_words::smallint, u.positions) AS tf"
            " FROM unnest(ts_filter(setweight(t.terms, 'D', ?::text[]), '{D}')) u) f"
            " JOIN asked ON asked.key = f.lexeme) s WHERE t.terms @@ ?::tsquery"
            + (f" AND t.passage_id = ANY({_id_array(allowed)})" if allowed is not None else "")
            + " ORDER BY s.score DESC, t.passage_id LIMIT ?"
        )
        distinct = list(dict.fromkeys(keys))
        params = (
            documents,
            keys,
            [_quoted(key) for key in keys],
            self._K1 + 1,
            self._K1 * self._B,
            max(mean_words, 1e-9),
            self._K1 * (1 - self._B),
            1 - self._TITLE_WEIGHT,
            distinct,
            " | ".join(_quoted(key) for key in distinct),
            k,
        )
        with self._tables.reading() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [(int(row[0]), float(row[1])) for row in rows]
