"""The ``briefbot`` command on PostgreSQL: a SQLite store moved over with ``migrate`` answers and
briefs as it did, and articles ingested straight into PostgreSQL are found."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from bot.migration import TABLES
from corpus.samples import SAMPLES_DIR
from tests.articles import KIM, LONDON
from tests.cli_harness import briefbot, one_line_error, store_counts
from tests.conftest import MakeBot

TASS = SAMPLES_DIR / "tass-2023-09-19-russia-dprk-cooperation.md"


def ask(question: str, **where: str) -> dict[str, object]:
    args = ["--data-dir", where["data_dir"]] if "data_dir" in where else []
    env = {"BRIEFBOT_DATABASE_URL": where["url"]} if "url" in where else {}
    result = briefbot("ask", "--json", question, *args, env=env)
    assert result.returncode == 0, result.stderr
    answer: dict[str, object] = json.loads(result.stdout)
    return answer


def test_a_migrated_store_answers_and_briefs_as_before(
    sample_data_dir: Path, postgres_url: str, tmp_path: Path
) -> None:
    moved = briefbot("migrate", "--to", postgres_url, "--data-dir", str(sample_data_dir))
    assert moved.returncode == 0, moved.stderr
    *rows, last = moved.stdout.splitlines()
    counts = {name: int(value) for name, _, value in (row.partition(":") for row in rows)}
    sqlite = store_counts(sample_data_dir)
    assert counts["articles"] == sqlite["articles"] > 100
    assert counts["passages"] == counts["passage_vectors"] == sqlite["passages"]
    assert last.endswith("set BRIEFBOT_DATABASE_URL to use it.")
    with psycopg.connect(postgres_url) as conn:  # built by migrate, not by the first question
        built = conn.execute(
            "SELECT COUNT(*) FROM pg_indexes WHERE indexname LIKE 'passage_vectors_hnsw_%'"
        ).fetchone()
    assert built == (1,)

    for question in (KIM, LONDON):
        on_postgres = ask(question, url=postgres_url, data_dir=str(tmp_path))
        on_sqlite = ask(question, data_dir=str(sample_data_dir))
        assert on_postgres["quotes"][0] == on_sqlite["quotes"][0]  # type: ignore[index]
    top = ask(KIM, url=postgres_url)["quotes"][0]  # type: ignore[index]
    assert top["source"] == "TASS" and top["published_at"].startswith("2023-09-19")
    assert "Marshal Shaposhnikov" in top["text"]

    env = {"BRIEFBOT_DATABASE_URL": postgres_url}
    headlines = []
    for where in (env, {"BRIEFBOT_DATA_DIR": str(sample_data_dir)}):
        brief = briefbot("brief", "--date", "2005-07-07", "--json", env=where)
        assert brief.returncode == 0, brief.stderr
        headlines.append([story["headline"] for story in json.loads(brief.stdout)["stories"]])
    assert headlines[0] == headlines[1]
    assert any("London" in headline for headline in headlines[0])

    again = briefbot("migrate", "--to", postgres_url, "--data-dir", str(sample_data_dir))
    assert again.returncode == 0 and again.stdout == moved.stdout  # nothing copied twice


def test_articles_ingested_into_postgresql_are_found(postgres_url: str) -> None:
    env = {"BRIEFBOT_DATABASE_URL": postgres_url}
    added = briefbot("ingest", str(TASS), env=env)
    assert added.returncode == 0, added.stderr
    top = ask(KIM, url=postgres_url)["quotes"][0]  # type: ignore[index]
    assert top["source"] == "TASS" and "Marshal Shaposhnikov" in top["text"]
    stats = briefbot("stats", env=env)
    assert stats.returncode == 0, stats.stderr
    assert "articles:       1" in stats.stdout


def test_an_unreachable_database_is_one_line() -> None:
    url = "postgresql://briefbot:hunter2@127.0.0.1:9/briefbot"
    result = briefbot("stats", env={"BRIEFBOT_DATABASE_URL": url})
    line = one_line_error(result)
    assert "PostgreSQL at postgresql://briefbot:***@127.0.0.1:9/briefbot" in line
    assert "hunter2" not in result.stderr


@pytest.mark.sqlite_only
def test_migrate_copies_every_table_a_store_keeps(make_bot: MakeBot) -> None:
    """A new store's table must be added to ``migrate``'s list, or moving loses its rows."""
    bot = make_bot()
    bot.open_tables()
    with bot.store.reading() as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    # Bookkeeping of one database, and which events were handled (worth nothing elsewhere).
    local = {"schema_migrations", "id_floors", "seen_events"}
    assert {row[0] for row in rows} - local == {table for table, _ in TABLES}
