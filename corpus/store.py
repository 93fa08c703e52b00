"""The article store: SQLite keeps every article and its passages, the source of truth."""

from __future__ import annotations

import errno
import math
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Protocol

import numpy as np
import numpy.typing as npt

from corpus.errors import BriefbotError
from corpus.model import Article, Clock, utcnow

Vectors = npt.NDArray[np.float32]

# How long a writer waits for another process's write transaction before giving up. Ingest keeps
# each transaction to one article, so a wait this long means something is stuck.
BUSY_TIMEOUT_SECONDS = 60.0


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
    """Where articles, their passages and the passages' vectors live. SQLite by default;
    PostgreSQL can follow."""

    path: Path

    def transaction(self) -> AbstractContextManager[object]: ...

    def find_duplicate(self, article: Article) -> Article | None: ...
    def add(
        self, article: Article, spans: Sequence[tuple[int, int]]
    ) -> tuple[Article, list[Passage]]: ...
    def articles(self, ids: Iterable[int]) -> dict[int, Article]: ...
    def passages(self, ids: Iterable[int]) -> dict[int, Passage]: ...
    def passage_ids_of(self, article_ids: Iterable[int]) -> dict[int, list[int]]: ...
    def iter_passages(self, *, batch_size: int = 512) -> Iterator[list[Passage]]: ...
    def passage_ids_published(
        self, *, after: datetime | None, before: datetime | None, include_undated: bool = False
    ) -> list[int]: ...
    def latest_published(self, *, before: datetime | None = None) -> datetime | None: ...
    def published_between(self, start: datetime, end: datetime) -> list[Article]: ...
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


_SCHEMA = """
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

_ARTICLE_COLUMNS = "id, url, title, source, author, published_at, added_at, text"


def _article(row: sqlite3.Row) -> Article:
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


def _passage(row: sqlite3.Row) -> Passage:
    return Passage(
        id=row["id"],
        article_id=row["article_id"],
        ordinal=row["ordinal"],
        start=row["start"],
        end=row["end"],
        text=row["text"],
    )


class StoreError(BriefbotError):
    """A storage fault, as one sentence naming the file and what to do about it."""


def storage_error(exc: BaseException, path: Path) -> StoreError:
    """Name the fault behind a SQLite or file-system error in words a person can act on."""
    text = str(exc)
    lowered = text.lower()
    code = exc.errno if isinstance(exc, OSError) else None
    if "full" in lowered or code == errno.ENOSPC:
        why = "the disk is full; free some space and try again (the last change was rolled back)"
    elif "readonly" in lowered or "read-only" in lowered or code in (errno.EROFS, errno.EACCES):
        why = "it cannot be written (read-only); check the permissions of the data directory"
    elif "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered:
        why = (
            "it is damaged or not a briefbot store; restore it from a backup, or move it away"
            " to start afresh"
        )
    elif "unable to open" in lowered or code in (errno.ENOTDIR, errno.EEXIST, errno.EISDIR):
        why = "it cannot be opened; check that the data directory is a writable directory"
    elif "locked" in lowered or "busy" in lowered:
        why = "another process has held it locked for too long; try again"
    else:
        why = text
    return StoreError(f"{path}: {why}")


def connect(path: Path) -> sqlite3.Connection:
    """Open a SQLite file for use from several threads, in WAL mode so readers never wait.

    Writers in other processes are waited for (busy timeout) rather than failing at once.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT_SECONDS
        )
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA synchronous=NORMAL")
    except (sqlite3.Error, OSError) as exc:
        raise storage_error(exc, path) from None
    return conn


class _Access:
    """The lock that serialises a connection's threads; any SQLite fault inside it leaves as a
    ``StoreError`` naming the file, so every caller reports storage faults the same way."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.RLock()

    def __enter__(self) -> None:
        self._lock.acquire()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._lock.release()
        if isinstance(exc, sqlite3.Error) and not isinstance(exc, sqlite3.IntegrityError):
            raise storage_error(exc, self._path) from exc


class SQLiteTables:
    """A connection and lock of its own on a SQLite file, with the tables in ``SCHEMA``.

    Several of these may share one file: each store creates only its own tables.
    """

    SCHEMA: ClassVar[str] = ""

    def __init__(self, path: Path, *, clock: Clock = utcnow) -> None:
        self.path = path
        self.clock = clock
        self._conn = connect(path)
        self._lock = _Access(path)
        with self._lock:
            self._conn.executescript(self.SCHEMA)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """The one way to write: ``BEGIN IMMEDIATE`` takes SQLite's write lock up front, so
        writers in other processes queue instead of failing mid-way; a nested call joins the
        transaction already open on this thread. Any failure rolls everything back, and a
        failed rollback never hides the fault that caused it."""
        with self._lock:
            if self._conn.in_transaction:
                yield self._conn
                return
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    with suppress(sqlite3.Error):
                        self._conn.execute("ROLLBACK")
                raise

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """The connection, for reads, held against this process's other threads."""
        with self._lock:
            yield self._conn

    def data_version(self) -> int:
        """Changes when another connection, in any process, commits to the file."""
        with self._lock:
            return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def check(self) -> list[str]:
        """SQLite's own integrity check: an empty list when the file is sound."""
        with self._lock:
            rows = self._conn.execute("PRAGMA quick_check").fetchall()
        problems = [str(row[0]) for row in rows]
        return [] if problems == ["ok"] else problems

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class SQLiteStore(SQLiteTables):
    SCHEMA = _SCHEMA

    def find_duplicate(self, article: Article) -> Article | None:
        with self._lock:
            row = self._conn.execute(
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
            cursor = conn.execute(
                "INSERT INTO articles (url, canonical_url, title, source, author, published_at,"
                " published_ts, added_at, text, content_hash) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    article.url,
                    article.canonical_url,
                    article.title,
                    article.source,
                    article.author,
                    published.isoformat() if published else None,
                    published.timestamp() if published else None,
                    article.added_at.isoformat(),
                    article.text,
                    article.content_hash,
                ),
            )
            article_id = int(cursor.lastrowid or 0)
            passages = []
            for ordinal, (start, end) in enumerate(spans):
                text = article.text[start:end]
                cur = conn.execute(
                    'INSERT INTO passages (article_id, ordinal, start, "end", text)'
                    " VALUES (?,?,?,?,?)",
                    (article_id, ordinal, start, end, text),
                )
                passages.append(
                    Passage(
                        id=int(cur.lastrowid or 0),
                        article_id=article_id,
                        ordinal=ordinal,
                        start=start,
                        end=end,
                        text=text,
                    )
                )
        stored = Article(**{**article.__dict__, "id": article_id})
        return stored, passages

    def articles(self, ids: Iterable[int]) -> dict[int, Article]:
        wanted = list(set(ids))
        if not wanted:
            return {}
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_ARTICLE_COLUMNS} FROM articles"
                " WHERE id IN (SELECT value FROM json_each(?))",
                (json_ids(wanted),),
            ).fetchall()
        return {row["id"]: _article(row) for row in rows}

    def passages(self, ids: Iterable[int]) -> dict[int, Passage]:
        wanted = list(set(ids))
        if not wanted:
            return {}
        with self._lock:
            rows = self._conn.execute(
                "SELECT * FROM passages WHERE id IN (SELECT value FROM json_each(?))",
                (json_ids(wanted),),
            ).fetchall()
        return {row["id"]: _passage(row) for row in rows}

    def passage_ids_of(self, article_ids: Iterable[int]) -> dict[int, list[int]]:
        """Each article's passage ids, in reading order."""
        wanted = list(set(article_ids))
        found: dict[int, list[int]] = {article_id: [] for article_id in wanted}
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, article_id FROM passages"
                " WHERE article_id IN (SELECT value FROM json_each(?))"
                " ORDER BY article_id, ordinal",
                (json_ids(wanted),),
            ).fetchall()
        for row in rows:
            found[row["article_id"]].append(row["id"])
        return found

    def iter_passages(self, *, batch_size: int = 512) -> Iterator[list[Passage]]:
        last = 0
        while True:
            with self._lock:
                rows = self._conn.execute(
                    "SELECT * FROM passages WHERE id > ? ORDER BY id LIMIT ?", (last, batch_size)
                ).fetchall()
            if not rows:
                return
            batch = [_passage(row) for row in rows]
            last = batch[-1].id
            yield batch

    def passage_ids_published(
        self, *, after: datetime | None, before: datetime | None, include_undated: bool = False
    ) -> list[int]:
        """Passages of articles published in [after, before), plus undated ones if asked."""
        low = after.timestamp() if after else float("-inf")
        high = before.timestamp() if before else float("inf")
        with self._lock:
            rows = self._conn.execute(
                "SELECT p.id FROM passages p JOIN articles a ON a.id = p.article_id"
                " WHERE (a.published_ts >= ? AND a.published_ts < ?)"
                " OR (? AND a.published_ts IS NULL)",
                (low, high, include_undated),
            ).fetchall()
        return [row[0] for row in rows]

    def published_between(self, start: datetime, end: datetime) -> list[Article]:
        """Articles published in [start, end), oldest first."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_ARTICLE_COLUMNS} FROM articles"
                " WHERE published_ts >= ? AND published_ts < ? ORDER BY published_ts, id",
                (start.timestamp(), end.timestamp()),
            ).fetchall()
        return [_article(row) for row in rows]

    def latest_published(self, *, before: datetime | None = None) -> datetime | None:
        """When the newest article was published, or the newest before ``before``: what to
        offer someone who asked for a period with no articles."""
        limit = before.timestamp() if before is not None else math.inf
        with self._lock:
            value = self._conn.execute(
                "SELECT MAX(published_ts) FROM articles WHERE published_ts < ?", (limit,)
            ).fetchone()[0]
        return datetime.fromtimestamp(value, UTC) if value is not None else None

    def count_articles(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0])

    def count_passages(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM passages").fetchone()[0])

    def model_id(self, name: str, dim: int) -> int:
        """The id under which vectors of model ``name`` are kept (registered on first use)."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO embedding_models (name, dim) VALUES (?, ?)", (name, dim)
            )
            row = conn.execute(
                "SELECT id, dim FROM embedding_models WHERE name = ?", (name,)
            ).fetchone()
        if row["dim"] != dim:
            raise StoreError(
                f"{self.path}: model {name!r} was stored with {row['dim']}-dimensional vectors,"
                f" but now gives {dim}"
            )
        return int(row["id"])

    def put_vectors(self, model_id: int, ids: Sequence[int], vectors: Vectors) -> None:
        """Keep passage vectors (float32 bytes); inside ``transaction()`` they commit together
        with the passages they belong to."""
        rows = [
            (int(pid), model_id, np.ascontiguousarray(vector, dtype=np.float32).tobytes())
            for pid, vector in zip(ids, vectors, strict=True)
        ]
        with self.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO passage_vectors (passage_id, model_id, vector)"
                " VALUES (?, ?, ?)",
                rows,
            )

    def vectors(self, model_id: int, ids: Iterable[int]) -> dict[int, Vectors]:
        wanted = list(set(ids))
        if not wanted:
            return {}
        with self._lock:
            rows = self._conn.execute(
                "SELECT passage_id, vector FROM passage_vectors WHERE model_id = ?"
                " AND passage_id IN (SELECT value FROM json_each(?))",
                (model_id, json_ids(wanted)),
            ).fetchall()
        return {row[0]: np.frombuffer(row[1], dtype=np.float32) for row in rows}

    def vector_extent(self, model_id: int) -> tuple[int, int]:
        """How many passages have a vector of this model, and the largest such passage id."""
        with self._lock:
            row = self._conn.execute(
                "SELECT COUNT(*), COALESCE(MAX(passage_id), 0) FROM passage_vectors"
                " WHERE model_id = ?",
                (model_id,),
            ).fetchone()
        return int(row[0]), int(row[1])

    def vector_ids(self, model_id: int, *, after: int = 0) -> npt.NDArray[np.int64]:
        """Ids of the passages that have a vector of this model, above ``after``."""
        with self._lock:
            rows = self._conn.execute(
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
            with self._lock:
                rows = self._conn.execute(
                    "SELECT passage_id, vector FROM passage_vectors"
                    " WHERE model_id = ? AND passage_id > ? ORDER BY passage_id LIMIT ?",
                    (model_id, last, batch_size),
                ).fetchall()
            if not rows:
                return
            ids = [int(row[0]) for row in rows]
            matrix = np.frombuffer(b"".join(row[1] for row in rows), dtype=np.float32)
            yield ids, matrix.reshape(len(rows), -1)
            last = ids[-1]

    def passages_without_vectors(self, model_id: int, *, batch_size: int) -> list[Passage]:
        """Passages that still need embedding with this model (a new model, an old store)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT p.* FROM passages p WHERE NOT EXISTS (SELECT 1 FROM passage_vectors v"
                " WHERE v.passage_id = p.id AND v.model_id = ?) ORDER BY p.id LIMIT ?",
                (model_id, batch_size),
            ).fetchall()
        return [_passage(row) for row in rows]

    def vector_counts(self) -> dict[str, int]:
        """Passages with a vector, per model name (no model needs loading to ask)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT m.name, COUNT(v.passage_id) FROM embedding_models m"
                " LEFT JOIN passage_vectors v ON v.model_id = m.id GROUP BY m.id ORDER BY m.id"
            ).fetchall()
        return {str(row[0]): int(row[1]) for row in rows}

    def count_without_vectors(self, model_id: int) -> int:
        with self._lock:
            row = self._conn.execute(
                "SELECT COUNT(*) FROM passages p WHERE NOT EXISTS (SELECT 1 FROM passage_vectors v"
                " WHERE v.passage_id = p.id AND v.model_id = ?)",
                (model_id,),
            ).fetchone()
        return int(row[0])


def json_ids(ids: Iterable[int]) -> str:
    """Ids as a JSON array, for ``IN (SELECT value FROM json_each(?))`` with any number of ids."""
    return "[" + ",".join(str(int(i)) for i in ids) + "]"
