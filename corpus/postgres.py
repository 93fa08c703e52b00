"""PostgreSQL behind the database seam: a psycopg 3 connection pool, pgvector's type, and
transactions that a thread's nested calls join — the same contract as the SQLite file."""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import psycopg
from pgvector import Vector
from pgvector.psycopg import register_vector
from psycopg.rows import RowMaker
from psycopg_pool import ConnectionPool, PoolTimeout

from corpus.database import (
    SCHEMA_LOCK,
    Connection,
    Row,
    StoreError,
    Vectors,
    redact_url,
    storage_error,
)

# A `?` placeholder outside quotes: the stores' SQL is written for both engines.
_PLACEHOLDER = re.compile(r"\?(?=(?:[^']*'[^']*')*[^']*$)")

CONNECT_TIMEOUT_SECONDS = 10.0


class _Row(tuple[Any, ...]):
    """A row readable by position and by column name, like ``sqlite3.Row``."""

    __slots__ = ()
    _names: dict[str, int]

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


def _rows(cursor: psycopg.Cursor[Any]) -> RowMaker[Row]:
    names = {column.name: index for index, column in enumerate(cursor.description or ())}
    kind = type("Row", (_Row,), {"_names": names, "__slots__": ()})
    return lambda values: kind(values)


def _sql(statement: str) -> str:
    """``?`` placeholders as psycopg's ``%s``, and literal ``%`` doubled."""
    return _PLACEHOLDER.sub("%s", statement.replace("%", "%%"))


class _Connection:
    """A pooled connection with the ``execute``/``executemany`` of ``sqlite3.Connection``."""

    def __init__(self, conn: psycopg.Connection[Row]) -> None:
        self.raw = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Row]:
        return self.raw.execute(_sql(sql), tuple(params))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self.raw.cursor() as cursor:
            cursor.executemany(_sql(sql), [tuple(row) for row in rows])


def _configure(conn: psycopg.Connection[Any]) -> None:
    register_vector(conn)


class PostgresDatabase:
    """A pool of connections to one PostgreSQL database (with the pgvector extension)."""

    dialect = "postgresql"

    def __init__(self, url: str, *, max_connections: int = 10) -> None:
        self.name = redact_url(url)
        self._local = threading.local()
        try:
            with (
                psycopg.connect(url, autocommit=True, connect_timeout=10) as first,
                first.transaction(),
            ):
                # Two processes starting at once would both try to create it.
                first.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (SCHEMA_LOCK,))
                first.execute("CREATE EXTENSION IF NOT EXISTS vector")
        except psycopg.Error as exc:
            raise StoreError(f"PostgreSQL at {self.name}: {_reason(exc)}") from None
        self._pool: ConnectionPool[psycopg.Connection[Row]] = ConnectionPool(
            url,
            min_size=1,
            max_size=max_connections,
            kwargs={"autocommit": True, "row_factory": _rows},
            configure=_configure,
            open=False,
            name="briefbot",
        )
        try:
            self._pool.open(wait=True, timeout=CONNECT_TIMEOUT_SECONDS)
        except PoolTimeout:
            raise StoreError(f"PostgreSQL at {self.name}: no connection in time") from None
        # The pool's worker threads keep it alive; close it once nothing uses this database,
        # so a process that opens many (commands run in-process, tests) doesn't pile them up.
        weakref.finalize(self, self._pool.close)

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Row]]:
        try:
            with self._pool.connection(timeout=CONNECT_TIMEOUT_SECONDS * 3) as conn:
                yield conn
        except PoolTimeout:
            raise StoreError(f"PostgreSQL at {self.name}: no free connection in time") from None
        except (psycopg.OperationalError, psycopg.InternalError) as exc:
            raise storage_error(exc, f"PostgreSQL at {self.name}") from exc

    @contextmanager
    def transaction(self) -> Iterator[_Connection]:
        """A transaction on a pooled connection; nested calls on the same thread join it, and
        reads on that thread see its writes. Any failure rolls it back."""
        current: _Connection | None = getattr(self._local, "conn", None)
        if current is not None:
            yield current
            return
        with self._connection() as conn, conn.transaction():
            wrapped = _Connection(conn)
            self._local.conn = wrapped
            try:
                yield wrapped
            finally:
                self._local.conn = None

    def serialise(self, conn: Connection, name: str) -> None:
        """A transaction-scoped advisory lock: released by the commit or rollback."""
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (name,))

    @contextmanager
    def reading(self) -> Iterator[_Connection]:
        """A connection for reads: the thread's open transaction if it has one."""
        current: _Connection | None = getattr(self._local, "conn", None)
        if current is not None:
            yield current
            return
        with self._connection() as conn:
            yield _Connection(conn)

    def data_version(self) -> int:
        """Moves on with every write to the server (its write-ahead log position): what a
        cache of the database compares to know it may be stale."""
        with self.reading() as conn:
            row = conn.execute("SELECT (pg_current_wal_lsn() - '0/0')::bigint").fetchone()
        return int(row[0]) if row else 0

    def check(self) -> list[str]:
        """PostgreSQL checks itself; reachable and answering is what can be asked here."""
        with self.reading() as conn:
            conn.execute("SELECT 1").fetchone()
        return []

    def any_of(self, column: str) -> str:
        return f"{column} = ANY(?)"

    def values(self, items: Iterable[int | str]) -> list[int | str]:
        return [i if isinstance(i, str) else int(i) for i in items]

    def encode_vector(self, vector: Vectors) -> Vectors:
        """pgvector's adapter sends numpy arrays as ``vector`` values."""
        return np.ascontiguousarray(vector, dtype=np.float32)

    def decode_vector(self, raw: Any) -> Vectors:
        return np.asarray(raw.to_numpy() if isinstance(raw, Vector) else raw, dtype=np.float32)

    def close(self) -> None:
        self._pool.close()


def _reason(exc: psycopg.Error) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
