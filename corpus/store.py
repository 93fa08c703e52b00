"""The article store: SQLite keeps every article and its passages, the source of truth."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar, Protocol

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
    """Where articles and their passages live. SQLite by default; PostgreSQL can follow."""

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
    def latest_published(self) -> datetime | None: ...
    def published_between(self, start: datetime, end: datetime) -> list[Article]: ...
    def count_articles(self) -> int: ...
    def count_passages(self) -> int: ...


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


def connect(path: Path) -> sqlite3.Connection:
    """Open a SQLite file for use from several threads, in WAL mode so readers never wait."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


class SQLiteTables:
    """A connection and lock of its own on a SQLite file, with the tables in ``SCHEMA``.

    Several of these may share one file: each store creates only its own tables.
    """

    SCHEMA: ClassVar[str] = ""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = connect(path)
        self._lock = threading.RLock()
        with self._lock:
            self._conn.executescript(self.SCHEMA)

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
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                cursor = self._conn.execute(
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
                    cur = self._conn.execute(
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
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
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

    def latest_published(self) -> datetime | None:
        with self._lock:
            value = self._conn.execute("SELECT MAX(published_ts) FROM articles").fetchone()[0]
        return datetime.fromtimestamp(value, UTC) if value is not None else None

    def count_articles(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0])

    def count_passages(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM passages").fetchone()[0])


def json_ids(ids: Iterable[int]) -> str:
    """Ids as a JSON array, for ``IN (SELECT value FROM json_each(?))`` with any number of ids."""
    return "[" + ",".join(str(int(i)) for i in ids) + "]"
