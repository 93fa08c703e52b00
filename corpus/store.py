"""The article store: every article, its passages and their vectors, the source of truth — in
a SQLite file by default, or in PostgreSQL (``corpus.postgres``)."""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar, Protocol

import numpy as np
import numpy.typing as npt

from corpus.database import IDENTITY, Connection, Row, StoreError, Tables, Vectors
from corpus.model import Article


@dataclass(frozen=True, kw_only=True)
class Passage:
    """A verbatim slice ``article.text[start:end]`` of one article."""

    id: int
    article_id: int
    ordinal: int
    start: int
    end: int
    text: str


class ArticleStore(Protocol):
    """Where articles, their passages and the passages' vectors live."""

    @property
    def name(self) -> str: ...

    def transaction(self) -> AbstractContextManager[object]: ...
    def adding_articles(self) -> AbstractContextManager[object]:
        """A transaction no other process adds articles in meanwhile: duplicate checks and
        the write that follows them see the same store."""

    def find_duplicate(self, article: Article) -> Article | None: ...
    def add(
        self, article: Article, spans: Sequence[tuple[int, int]]
    ) -> tuple[Article, list[Passage]]: ...
    def articles(self, ids: Iterable[int]) -> dict[int, Article]: ...
    def passages(self, ids: Iterable[int]) -> dict[int, Passage]: ...
    def passage_ids_of(self, article_ids: Iterable[int]) -> dict[int, list[int]]: ...
    def iter_passages(self, *, batch_size: int = 512) -> Iterator[list[Passage]]: ...
    def passage_ids_published(
        self,
        *,
        after: datetime | None,
        before: datetime | None,
        include_undated: bool = False,
        sources: Collection[str] = (),
    ) -> list[int]: ...
    def latest_published(self, *, before: datetime | None = None) -> datetime | None: ...
    def published_between(
        self, start: datetime, end: datetime, *, sources: Collection[str] = ()
    ) -> list[Article]: ...
    def sources(self) -> dict[str, int]: ...
    def recent(
        self, *, since: datetime | None = None, source: str | None = None, limit: int = 50
    ) -> list[Article]: ...
    def find(self, ref: str) -> Article | None: ...
    def ids_after(self, after: int, *, limit: int) -> list[int]: ...
    def latest_id(self) -> int: ...
    def remove(self, article_id: int) -> None: ...
    def count_articles(self) -> int: ...
    def count_passages(self) -> int: ...
    def model_id(self, name: str, dim: int) -> int: ...
    def put_vectors(self, model_id: int, ids: Sequence[int], vectors: Vectors) -> None: ...
    def vectors(self, model_id: int, ids: Iterable[int]) -> dict[int, Vectors]: ...
    def vector_extent(self, model_id: int) -> tuple[int, int]: ...
    def vector_ids(self, model_id: int, *, after: int = 0) -> npt.NDArray[np.int64]: ...
    def iter_vectors(
        self, model_id: int, *, after: int = 0, batch_size: int = 4096
    ) -> Iterator[tuple[list[int], Vectors]]: ...
    def passages_without_vectors(self, model_id: int, *, batch_size: int) -> list[Passage]: ...
    def vector_counts(self) -> dict[str, int]: ...
    def count_without_vectors(self, model_id: int) -> int: ...
    def data_version(self) -> int: ...


_SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    id INTEGER PRIMARY KEY,
    url TEXT,
    canonical_url TEXT UNIQUE,
    title TEXT NOT NULL,
    source TEXT,
    author TEXT,
    published_at TEXT,
    published_ts REAL,
    added_at TEXT NOT NULL,
    text TEXT NOT NULL,
    content_hash TEXT NOT NULL UNIQUE
);
CREATE INDEX IF NOT EXISTS articles_published ON articles(published_ts);
CREATE TABLE IF NOT EXISTS passages (
    id INTEGER PRIMARY KEY,
    article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_article ON passages(article_id);
CREATE TABLE IF NOT EXISTS embedding_models (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    dim INTEGER NOT NULL
);
-- Every passage's vector, written in the same transaction as the passage: the search indexes
-- are caches of this table and never need the model to be rebuilt. Keyed by model, so that
-- changing the model re-embeds (resumably) instead of mixing vector spaces.
CREATE TABLE IF NOT EXISTS passage_vectors (
    passage_id INTEGER NOT NULL REFERENCES passages(id) ON DELETE CASCADE,
    model_id INTEGER NOT NULL REFERENCES embedding_models(id),
    vector BLOB NOT NULL,
    PRIMARY KEY (passage_id, model_id)
);
"""

# The same tables in PostgreSQL's types: 64-bit identities, double-precision times (REAL is 32-bit
# there), and pgvector's ``vector`` (any dimension: each model's index fixes its own).
_POSTGRES_SCHEMA = (
    _SQLITE_SCHEMA.replace("INTEGER PRIMARY KEY", IDENTITY)
    .replace("REAL", "DOUBLE PRECISION")
    .replace("INTEGER NOT NULL REFERENCES", "BIGINT NOT NULL REFERENCES")
    .replace("vector BLOB", "vector vector")
)

_ARTICLE_COLUMNS = "id, url, title, source, author, published_at, added_at, text"


def _article(row: Row) -> Article:
    published = row["published_at"]
    return Article(
        id=row["id"],
        url=row["url"],
        title=row["title"],
        source=row["source"],
        author=row["author"],
        published_at=datetime.fromisoformat(published) if published else None,
        added_at=datetime.fromisoformat(row["added_at"]),
        text=row["text"],
    )


def _passage(row: Row) -> Passage:
    return Passage(
        id=row["id"],
        article_id=row["article_id"],
        ordinal=row["ordinal"],
        start=row["start"],
        end=row["end"],
        text=row["text"],
    )


# SQLite gives a deleted largest id to the next row. A removed article's ids must never come
# back — processes cache vectors by passage id, deliveries remember article ids — so the
# largest ids ever removed are kept and new rows numbered above them. PostgreSQL's identities
# never reuse a number.
_SQLITE_ID_FLOORS = (
    "CREATE TABLE IF NOT EXISTS id_floors (name TEXT PRIMARY KEY, last INTEGER NOT NULL)"
)


# How many articles were ever removed, in one row: PostgreSQL's caches of derived data
# (``retrieval.pg_indexes``) notice new rows by their ids, and a removal by this count, at once
# (the server's own statistics of deleted rows lag by up to a second).
_POSTGRES_REMOVALS = (
    "CREATE TABLE IF NOT EXISTS removals (id INTEGER PRIMARY KEY CHECK (id = 1),"
    " count BIGINT NOT NULL)"
)


class SQLStore(Tables):
    """Articles, passages and vectors in SQL: a SQLite file or a PostgreSQL database."""

    COMPONENT = "articles"
    MIGRATIONS: ClassVar[Mapping[str, Sequence[str]]] = {
        "sqlite": [_SQLITE_SCHEMA, _SQLITE_ID_FLOORS],
        "postgresql": [_POSTGRES_SCHEMA, _POSTGRES_REMOVALS],
    }

    def _next_id(self, conn: Connection, table: str) -> int | None:
        """The id the next row of ``table`` must take to stay above every removed one, or None
        when the database's own numbering already does."""
        if self.db.dialect != "sqlite":
            return None
        floor, largest = conn.execute(
            f"SELECT (SELECT last FROM id_floors WHERE name = ?), (SELECT MAX(id) FROM {table})",
            (table,),
        ).fetchone()
        return int(floor) + 1 if floor is not None and (largest or 0) < floor else None

    @contextmanager
    def adding_articles(self) -> Iterator[Connection]:
        with self.transaction() as conn:
            self.db.serialise(conn, self.COMPONENT)
            yield conn

    def find_duplicate(self, article: Article) -> Article | None:
        with self.reading() as conn:
            row = conn.execute(
                f"SELECT {_ARTICLE_COLUMNS} FROM articles "
                "WHERE content_hash = ? OR (canonical_url IS NOT NULL AND canonical_url = ?)"
                " LIMIT 1",
                (article.content_hash, article.canonical_url),
            ).fetchone()
        return _article(row) if row else None

    def add(
        self, article: Article, spans: Sequence[tuple[int, int]]
    ) -> tuple[Article, list[Passage]]:
        """Store an article and its passages in one transaction; returns both with their ids."""
        published = article.published_at
        with self.transaction() as conn:
            article_id = self._insert(
                conn,
                "articles",
                {
                    "url": article.url,
                    "canonical_url": article.canonical_url,
                    "title": article.title,
                    "source": article.source,
                    "author": article.author,
                    "published_at": published.isoformat() if published else None,
                    "published_ts": published.timestamp() if published else None,
                    "added_at": article.added_at.isoformat(),
                    "text": article.text,
                    "content_hash": article.content_hash,
                },
            )
            passages = []
            for ordinal, (start, end) in enumerate(spans):
                text = article.text[start:end]
                row = {"article_id": article_id, "ordinal": ordinal, "start": start, "end": end}
                passage_id = self._insert(conn, "passages", {**row, "text": text})
                passages.append(Passage(id=passage_id, text=text, **row))
        stored = Article(**{**article.__dict__, "id": article_id})
        return stored, passages

    def _insert(self, conn: Connection, table: str, row: Mapping[str, object]) -> int:
        """Insert ``row`` into ``table`` and return its id (numbered above every removed id)."""
        explicit = self._next_id(conn, table)
        values = {"id": explicit, **row} if explicit is not None else row
        columns = ", ".join(f'"{name}"' for name in values)
        marks = ", ".join("?" for _ in values)
        cursor = conn.execute(
            f"INSERT INTO {table} ({columns}) VALUES ({marks}) RETURNING id",
            tuple(values.values()),
        )
        return int(cursor.fetchone()[0])

    def articles(self, ids: Iterable[int]) -> dict[int, Article]:
        wanted = list(set(ids))
        if not wanted:
            return {}
        with self.reading() as conn:
            rows = conn.execute(
                f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE {self.db.any_of('id')}",
                (self.db.values(wanted),),
            ).fetchall()
        return {row["id"]: _article(row) for row in rows}

    def passages(self, ids: Iterable[int]) -> dict[int, Passage]:
        wanted = list(set(ids))
        if not wanted:
            return {}
        with self.reading() as conn:
            rows = conn.execute(
                f"SELECT * FROM passages WHERE {self.db.any_of('id')}",
                (self.db.values(wanted),),
            ).fetchall()
        return {row["id"]: _passage(row) for row in rows}

    def passage_ids_of(self, article_ids: Iterable[int]) -> dict[int, list[int]]:
        """Each article's passage ids, in reading order."""
        wanted = list(set(article_ids))
        found: dict[int, list[int]] = {article_id: [] for article_id in wanted}
        with self.reading() as conn:
            rows = conn.execute(
                "SELECT id, article_id FROM passages"
                f" WHERE {self.db.any_of('article_id')} ORDER BY article_id, ordinal",
                (self.db.values(wanted),),
            ).fetchall()
        for row in rows:
            found[row["article_id"]].append(row["id"])
        return found

    def iter_passages(self, *, batch_size: int = 512) -> Iterator[list[Passage]]:
        last = 0
        while True:
            with self.reading() as conn:
                rows = conn.execute(
                    "SELECT * FROM passages WHERE id > ? ORDER BY id LIMIT ?", (last, batch_size)
                ).fetchall()
            if not rows:
                return
            batch = [_passage(row) for row in rows]
            last = batch[-1].id
            yield batch

    def _from_sources(self, sources: Collection[str], column: str) -> tuple[str, list[object]]:
        """The condition that keeps only articles from ``sources`` (any case), and its one
        parameter; nothing when every source is wanted."""
        if not sources:
            return "", []
        names = self.db.values(name.lower() for name in sources)
        return f" AND {self.db.any_of(f'LOWER({column})')}", [names]

    def passage_ids_published(
        self,
        *,
        after: datetime | None,
        before: datetime | None,
        include_undated: bool = False,
        sources: Collection[str] = (),
    ) -> list[int]:
        """Passages of articles published in [after, before), plus undated ones if asked,
        from ``sources`` only when given."""
        low = after.timestamp() if after else float("-inf")
        high = before.timestamp() if before else float("inf")
        only, names = self._from_sources(sources, "a.source")
        with self.reading() as conn:
            rows = conn.execute(
                "SELECT p.id FROM passages p JOIN articles a ON a.id = p.article_id"
                " WHERE ((a.published_ts >= ? AND a.published_ts < ?)"
                f" OR (? AND a.published_ts IS NULL)){only}",
                (low, high, include_undated, *names),
            ).fetchall()
        return [row[0] for row in rows]

    def published_between(
        self, start: datetime, end: datetime, *, sources: Collection[str] = ()
    ) -> list[Article]:
        """Articles published in [start, end), oldest first; from ``sources`` only when given."""
        only, names = self._from_sources(sources, "source")
        with self.reading() as conn:
            rows = conn.execute(
                f"SELECT {_ARTICLE_COLUMNS} FROM articles"
                f" WHERE published_ts >= ? AND published_ts < ?{only} ORDER BY published_ts, id",
                (start.timestamp(), end.timestamp(), *names),
            ).fetchall()
        return [_article(row) for row in rows]

    def sources(self) -> dict[str, int]:
        """Every source the articles name, with how many articles each has, largest first."""
        with self.reading() as conn:
            rows = conn.execute(
                "SELECT source, COUNT(*) AS n FROM articles WHERE source IS NOT NULL"
                " GROUP BY source ORDER BY n DESC, source"
            ).fetchall()
        return {str(row[0]): int(row[1]) for row in rows}

    def recent(
        self, *, since: datetime | None = None, source: str | None = None, limit: int = 50
    ) -> list[Article]:
        """The newest ``limit`` articles by when they were added (what someone managing the
        store looks for), optionally added since ``since`` or from ``source`` (any case)."""
        where, params = [], []
        if since is not None:
            where.append("added_at >= ?")
            params.append(since.astimezone(UTC).isoformat())
        if source is not None:
            where.append("LOWER(source) = LOWER(?)")
            params.append(source)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        with self.reading() as conn:
            rows = conn.execute(
                f"SELECT {_ARTICLE_COLUMNS} FROM articles{clause}"
                " ORDER BY added_at DESC, id DESC LIMIT ?",
                (*params, limit),
            ).fetchall()
        return [_article(row) for row in rows]

    def ids_after(self, after: int, *, limit: int) -> list[int]:
        """The ids of articles stored after article ``after``, oldest first (ids only grow)."""
        with self.reading() as conn:
            rows = conn.execute(
                "SELECT id FROM articles WHERE id > ? ORDER BY id LIMIT ?", (after, limit)
            ).fetchall()
        return [int(row[0]) for row in rows]

    def latest_id(self) -> int:
        """The id of the newest article stored (0 when there is none)."""
        with self.reading() as conn:
            return int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM articles").fetchone()[0])

    def find(self, ref: str) -> Article | None:
        """The article with id ``ref``, or at URL ``ref`` (compared canonically)."""
        value = ref.strip()
        if value.isdigit():
            return self.articles([int(value)]).get(int(value))
        canonical = Article(title="-", text="-", url=value).canonical_url
        if canonical is None:
            return None
        with self.reading() as conn:
            row = conn.execute(
                f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE canonical_url = ?", (canonical,)
            ).fetchone()
        return _article(row) if row else None

    def remove(self, article_id: int) -> None:
        """Delete an article; its passages and their vectors go with it (foreign keys)."""
        with self.transaction() as conn:
            if self.db.dialect == "sqlite":
                for table in ("articles", "passages"):
                    conn.execute(
                        "INSERT INTO id_floors (name, last) SELECT ?, MAX(id) FROM "
                        f"{table} WHERE true ON CONFLICT (name) DO UPDATE"
                        " SET last = MAX(last, excluded.last)",
                        (table,),
                    )
            else:
                conn.execute(
                    "INSERT INTO removals VALUES (1, 1)"
                    " ON CONFLICT (id) DO UPDATE SET count = removals.count + 1"
                )
            conn.execute("DELETE FROM articles WHERE id = ?", (article_id,))

    def latest_published(self, *, before: datetime | None = None) -> datetime | None:
        """When the newest article was published, or the newest before ``before``: what to
        offer someone who asked for a period with no articles."""
        limit = before.timestamp() if before is not None else math.inf
        with self.reading() as conn:
            value = conn.execute(
                "SELECT MAX(published_ts) FROM articles WHERE published_ts < ?", (limit,)
            ).fetchone()[0]
        return datetime.fromtimestamp(value, UTC) if value is not None else None

    def count_articles(self) -> int:
        with self.reading() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0])

    def count_passages(self) -> int:
        with self.reading() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM passages").fetchone()[0])

    def model_id(self, name: str, dim: int) -> int:
        """The id under which vectors of model ``name`` are kept (registered on first use)."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO embedding_models (name, dim) VALUES (?, ?)"
                " ON CONFLICT (name) DO NOTHING",
                (name, dim),
            )
            row = conn.execute(
                "SELECT id, dim FROM embedding_models WHERE name = ?", (name,)
            ).fetchone()
        if row["dim"] != dim:
            raise StoreError(
                f"{self.name}: model {name!r} was stored with {row['dim']}-dimensional vectors,"
                f" but now gives {dim}"
            )
        return int(row["id"])

    def put_vectors(self, model_id: int, ids: Sequence[int], vectors: Vectors) -> None:
        """Keep passage vectors (float32 bytes); inside ``transaction()`` they commit together
        with the passages they belong to."""
        rows = [
            (int(pid), model_id, self.db.encode_vector(vector))
            for pid, vector in zip(ids, vectors, strict=True)
        ]
        with self.transaction() as conn:
            conn.executemany(
                "INSERT INTO passage_vectors (passage_id, model_id, vector) VALUES (?, ?, ?)"
                " ON CONFLICT (passage_id, model_id) DO UPDATE SET vector = excluded.vector",
                rows,
            )

    def vectors(self, model_id: int, ids: Iterable[int]) -> dict[int, Vectors]:
        wanted = list(set(ids))
        if not wanted:
            return {}
        with self.reading() as conn:
            rows = conn.execute(
                "SELECT passage_id, vector FROM passage_vectors WHERE model_id = ?"
                f" AND {self.db.any_of('passage_id')}",
                (model_id, self.db.values(wanted)),
            ).fetchall()
        return {int(row[0]): self.db.decode_vector(row[1]) for row in rows}

    def vector_extent(self, model_id: int) -> tuple[int, int]:
        """How many passages have a vector of this model, and the largest such passage id."""
        with self.reading() as conn:
            row = conn.execute(
                "SELECT COUNT(*), COALESCE(MAX(passage_id), 0) FROM passage_vectors"
                " WHERE model_id = ?",
                (model_id,),
            ).fetchone()
        return int(row[0]), int(row[1])

    def vector_ids(self, model_id: int, *, after: int = 0) -> npt.NDArray[np.int64]:
        """Ids of the passages that have a vector of this model, above ``after``."""
        with self.reading() as conn:
            rows = conn.execute(
                "SELECT passage_id FROM passage_vectors WHERE model_id = ? AND passage_id > ?",
                (model_id, after),
            ).fetchall()
        return np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))

    def iter_vectors(
        self, model_id: int, *, after: int = 0, batch_size: int = 4096
    ) -> Iterator[tuple[list[int], Vectors]]:
        """Stored vectors in passage-id order, in batches, for filling an index."""
        last = after
        while True:
            with self.reading() as conn:
                rows = conn.execute(
                    "SELECT passage_id, vector FROM passage_vectors"
                    " WHERE model_id = ? AND passage_id > ? ORDER BY passage_id LIMIT ?",
                    (model_id, last, batch_size),
                ).fetchall()
            if not rows:
                return
            ids = [int(row[0]) for row in rows]
            yield ids, np.stack([self.db.decode_vector(row[1]) for row in rows])
            last = ids[-1]

    def passages_without_vectors(self, model_id: int, *, batch_size: int) -> list[Passage]:
        """Passages that still need embedding with this model (a new model, an old store)."""
        with self.reading() as conn:
            rows = conn.execute(
                "SELECT p.* FROM passages p WHERE NOT EXISTS (SELECT 1 FROM passage_vectors v"
                " WHERE v.passage_id = p.id AND v.model_id = ?) ORDER BY p.id LIMIT ?",
                (model_id, batch_size),
            ).fetchall()
        return [_passage(row) for row in rows]

    def vector_counts(self) -> dict[str, int]:
        """Passages with a vector, per model name (no model needs loading to ask)."""
        with self.reading() as conn:
            rows = conn.execute(
                "SELECT m.name, COUNT(v.passage_id) FROM embedding_models m"
                " LEFT JOIN passage_vectors v ON v.model_id = m.id GROUP BY m.id ORDER BY m.id"
            ).fetchall()
        return {str(row[0]): int(row[1]) for row in rows}

    def count_without_vectors(self, model_id: int) -> int:
        with self.reading() as conn:
            row = conn.execute(
                "SELECT COUNT(*) FROM passages p WHERE NOT EXISTS (SELECT 1 FROM passage_vectors v"
                " WHERE v.passage_id = p.id AND v.model_id = ?)",
                (model_id,),
            ).fetchone()
        return int(row[0])
