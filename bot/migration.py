"""Moving a store to another database (``briefbot migrate --to postgresql://…``): every table
copied row by row with its ids, vectors included, so nothing is embedded again."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import SecretStr

from bot.wiring import Briefbot
from corpus.database import Database, Row
from retrieval.indexing import Progress

# Parents before children, so that every reference is satisfied when it is written.
TABLES: Sequence[tuple[str, str]] = (
    ("articles", "id"),
    ("passages", "id"),
    ("embedding_models", "id"),
    ("passage_vectors", "passage_id, model_id"),
    ("feeds", "id"),
    ("feed_entries", "feed_id, key"),
    ("subscriptions", "platform, channel"),
    ("delivered_articles", "platform, channel, article_id"),
    ("conversation_turns", "platform, conversation"),
    ("rated_answers", "id"),
    ("votes", "answer_id, user_id"),
    ("watches", "id"),
    ("watch_posts", "watch_id, article_id"),
    ("channel_sources", "platform, channel, source"),
)
_IDENTITIES = ("articles", "passages", "embedding_models", "feeds", "watches")
_BATCH = 2000
_MODELS = (
    "SELECT name, dim FROM embedding_models m"
    " WHERE EXISTS (SELECT 1 FROM passage_vectors v WHERE v.model_id = m.id)"
)


def migrate(
    source: Briefbot, url: str, *, progress: Progress | None = None
) -> tuple[Briefbot, dict[str, int]]:
    """``source``'s store copied into the PostgreSQL database at ``url``, with its keyword
    index rebuilt there: the bot on it, and how many rows each table holds there."""
    target = Briefbot(source.settings.model_copy(update={"database_url": SecretStr(url)}))
    source.open_tables()
    target.open_tables()
    counts = copy_tables(source.store.db, target.store.db, progress=progress)
    target.lexical.rebuild()  # the keyword index is the target's own kind
    build_vector_indexes(target, progress=progress)
    return target, counts


def build_vector_indexes(target: Briefbot, *, progress: Progress | None = None) -> None:
    """An HNSW index for each model whose vectors were copied, built now over every row: far
    faster than inserting into a live index, and not left to the first question, or to a
    replica's start-up, to pay for."""
    from retrieval.pg_indexes import PgVectorIndex

    with target.store.reading() as conn:
        models = [(str(r["name"]), int(r["dim"])) for r in conn.execute(_MODELS).fetchall()]
    if progress is not None:
        progress.start(len(models), "building the vector index")
    for name, dim in models:
        PgVectorIndex(target.store, dim=dim, model=name)
        if progress is not None:
            progress.advance()


def copy_tables(
    source: Database, target: Database, *, progress: Progress | None = None
) -> dict[str, int]:
    """Copy every row of ``source``'s tables into ``target`` (whose stores have created their
    tables); rows already there are kept, so an interrupted copy can simply be run again.
    Returns how many rows each table holds in ``target`` afterwards."""
    if progress is not None:
        progress.start(sum(row_counts(source).values()), "copying rows")
    for table, key in TABLES:
        order = f"ORDER BY {key}"
        offset = 0
        while True:
            with source.reading() as conn:
                cursor = conn.execute(
                    f"SELECT * FROM {table} {order} LIMIT ? OFFSET ?", (_BATCH, offset)
                )
                rows = cursor.fetchall()
            if not rows:
                break
            columns = list(rows[0].keys())
            values = [_convert(source, target, columns, row) for row in rows]
            quoted = ", ".join(f'"{c}"' for c in columns)
            marks = ", ".join("?" for _ in columns)
            with target.transaction() as conn:
                conn.executemany(
                    f"INSERT INTO {table} ({quoted}) VALUES ({marks}) ON CONFLICT DO NOTHING",
                    values,
                )
            offset += len(rows)
            if progress is not None:
                progress.advance(len(rows))
    if target.dialect == "postgresql":
        _advance_identities(target)
    return row_counts(target)


def row_counts(db: Database) -> dict[str, int]:
    """How many rows each table to be copied holds."""
    with db.reading() as conn:
        return {
            table: int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
            for table, _ in TABLES
        }


def _convert(source: Database, target: Database, columns: list[str], row: Row) -> list[object]:
    values = [row[i] for i in range(len(columns))]
    if "vector" in columns:
        at = columns.index("vector")
        values[at] = target.encode_vector(source.decode_vector(values[at]))
    return values


def _advance_identities(target: Database) -> None:
    """Ids were copied as they were; the next id PostgreSQL assigns must come after them."""
    with target.transaction() as conn:
        for table in _IDENTITIES:
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" GREATEST((SELECT MAX(id) FROM {table}), 1))"
            )
