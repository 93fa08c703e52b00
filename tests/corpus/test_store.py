"""The store as the source of truth: vectors kept with their passages, caches rebuilt from it
without the model, live refresh between processes, and storage faults reported in one line."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from bot.wiring import Briefbot
from corpus.database import StoreError
from retrieval.vector_index import FaissIndex
from tests.cli_harness import briefbot, copy_data_dir, one_line_error
from tests.conftest import MakeBot, isolated_settings

FLOOD = (
    "River Tamsin floods the old mill district\n"
    "The River Tamsin burst its banks on Sunday and flooded the old mill district of Harrowby,"
    " where 300 homes were evacuated. The council opened the sports hall as a shelter."
)
FLOOD_QUESTION = "Which district did the River Tamsin flood?"
LONG = "Budget talks stall\n" + " ".join(
    f"Negotiators met for the {n}th time on the budget without agreeing on the new tax."
    for n in range(60)
)


def _copy(sample_data_dir: Path, make_bot: MakeBot) -> Briefbot:
    bot = make_bot()
    copy_data_dir(sample_data_dir, bot.settings.data_dir)
    return bot


def test_a_change_by_another_connection_is_searchable_at_once(
    sample_data_dir: Path, make_bot: MakeBot
) -> None:
    """Two Briefbots on one data directory behave like two processes: separate connections,
    separate FAISS caches."""
    reader = _copy(sample_data_dir, make_bot)
    assert reader.prepare() == 0
    before = reader.ask_service.ask(FLOOD_QUESTION)
    assert "River Tamsin floods the old mill district" not in [q.title for q in before.quotes]
    writer = Briefbot(reader.settings, embedder=reader.embedder)
    [added] = writer.ingest_service.ingest_text(FLOOD).added
    answer = reader.ask_service.ask(FLOOD_QUESTION)
    assert answer.quotes[0].title == "River Tamsin floods the old mill district"
    assert "Harrowby" in answer.quotes[0].highlight
    assert len(reader.vectors) == reader.store.count_passages() == len(reader.lexical)
    # A cache that is behind still answers for a passage from the store.
    assert added.id is not None
    [new_passage] = writer.store.passage_ids_of([added.id])[added.id]
    behind = Briefbot(reader.settings, embedder=reader.embedder)
    assert behind.vectors.vectors([new_passage]).any()


def test_vectors_are_committed_with_their_passages(make_bot: MakeBot) -> None:
    bot = make_bot()
    report = bot.ingest_service.ingest_text(LONG)
    assert report.passages > 1
    health = bot.health(check=True)
    assert health.vectors == {bot.settings.embedding.vector_space: report.passages}
    assert health.keywords == report.passages and health.problems == []


def test_missing_vectors_are_embedded_once_and_only_those(make_bot: MakeBot) -> None:
    """What a model change or a store from before vectors were kept looks like."""
    bot = make_bot()
    bot.ingest_service.ingest_text(FLOOD)
    bot.ingest_service.ingest_text(LONG)
    total = bot.store.count_passages()
    with bot.store.transaction() as conn:
        conn.execute("DELETE FROM passage_vectors WHERE passage_id > 1")
    reopened = Briefbot(bot.settings, embedder=bot.embedder)
    assert reopened.health().problems == [
        f"{total - 1} passages have no vector for {bot.settings.embedding.vector_space};"
        " the next start embeds them"
    ]
    assert reopened.prepare() == total - 1
    assert reopened.prepare() == 0
    assert reopened.ask_service.ask(FLOOD_QUESTION).quotes[0].title.startswith("River Tamsin")


def test_a_damaged_keyword_index_is_reported_and_rebuilt(
    sample_data_dir: Path, make_bot: MakeBot
) -> None:
    bot = _copy(sample_data_dir, make_bot)
    half = {
        "sqlite": "DELETE FROM passage_terms_docsize WHERE id % 2 = 0",
        "postgresql": "DELETE FROM passage_terms WHERE passage_id % 2 = 0",
    }
    with bot.store.transaction() as conn:
        conn.execute(half[bot.store.db.dialect])
    problems = bot.health().problems
    assert len(problems) == 1 and "keyword index holds" in problems[0]
    assert bot.prepare() == 0  # rebuilt from the store, nothing embedded
    assert bot.health(check=True).problems == []


@pytest.mark.sqlite_only
def test_an_unreadable_snapshot_is_rebuilt_from_the_store(
    sample_data_dir: Path, make_bot: MakeBot
) -> None:
    bot = _copy(sample_data_dir, make_bot)
    question = "Why did Vanuatu ban Fijian biscuits?"
    before = bot.ask_service.ask(question).to_dict()
    assert isinstance(bot.vectors, FaissIndex) and bot.vectors.checkpoint(force=True)
    bot.vectors.path.write_bytes(b"\x00not a faiss index" * 100)
    reopened = Briefbot(bot.settings, embedder=bot.embedder)
    assert reopened.prepare() == 0
    assert reopened.ask_service.ask(question).to_dict() == before


@pytest.mark.sqlite_only
def test_a_full_disk_rolls_the_article_back_and_the_next_write_works(make_bot: MakeBot) -> None:
    bot = make_bot()
    bot.ingest_service.ingest_text(FLOOD)
    with bot.store.reading() as conn:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        # SQLite's own "database or disk is full", as on a full volume.
        conn.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(StoreError) as info:
        bot.ingest_service.ingest_text(LONG)
    assert str(info.value) == (
        f"{bot.store_path}: the disk is full; free some space and try again"
        " (the last change was rolled back)"
    )
    with bot.store.reading() as conn:
        assert isinstance(conn, sqlite3.Connection) and not conn.in_transaction
        conn.execute("PRAGMA max_page_count = 1073741823")
    assert bot.store.count_articles() == 1 and bot.health(check=True).problems == []
    assert len(bot.ingest_service.ingest_text(LONG).added) == 1
    assert bot.health(check=True).problems == []


@pytest.mark.sqlite_only
def test_a_read_only_store_refuses_writes_in_one_sentence(make_bot: MakeBot) -> None:
    bot = make_bot()
    bot.ingest_service.ingest_text(FLOOD)
    with bot.store.reading() as conn:
        conn.execute("PRAGMA query_only = ON")  # what a read-only volume gives
    with pytest.raises(StoreError, match="cannot be written"):
        bot.ingest_service.ingest_text(LONG)
    assert bot.ask_service.ask(FLOOD_QUESTION).found  # reading still works


def test_a_failed_transaction_leaves_the_connection_usable(make_bot: MakeBot) -> None:
    bot = make_bot()
    with pytest.raises(RuntimeError), bot.store.transaction() as conn:
        conn.execute("INSERT INTO embedding_models (name, dim) VALUES ('x', 1)")
        with bot.store.transaction():  # nested: joins the outer transaction
            raise RuntimeError("boom")
    with bot.store.reading() as conn:
        assert (
            conn.execute("SELECT COUNT(*) FROM embedding_models WHERE name = 'x'").fetchone()[0]
            == 0
        )
    assert len(bot.ingest_service.ingest_text(FLOOD).added) == 1  # no transaction left open


@pytest.mark.sqlite_only
def test_storage_faults_are_one_line_in_the_cli(tmp_path: Path) -> None:
    a_file = tmp_path / "plain-file"
    a_file.write_text("not a directory")
    for command in (["stats"], ["ingest", "--text", "A\nB c d"]):
        line = one_line_error(briefbot(*command, "--data-dir", str(a_file)))
        assert line == f"error: {a_file}: it is not a directory; point --data-dir at a directory"

    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "briefbot.sqlite3").write_bytes(b"this is not SQLite at all " * 400)
    line = one_line_error(briefbot("stats", "--data-dir", str(corrupt)))
    assert line.startswith(f"error: {corrupt / 'briefbot.sqlite3'}: it is damaged")


def test_stats_check_reports_a_healthy_store(sample_data_dir: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    copy_data_dir(sample_data_dir, data_dir)
    result = briefbot("stats", "--check", "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    passages = int(result.stdout.split("passages:")[1].split()[0])
    assert f"keyword index:  {passages} of {passages}" in result.stdout
    assert f"vectors:        {passages} of {passages}" in result.stdout
    assert "check:          healthy" in result.stdout
    with Briefbot(isolated_settings(data_dir=data_dir)).store.transaction() as conn:
        conn.execute("DELETE FROM passage_vectors WHERE passage_id IN (1, 2)")
    result = briefbot("stats", "--data-dir", str(data_dir))
    assert result.returncode == 1
    assert "problem: 2 passages have no vector" in result.stderr


@pytest.mark.sqlite_only
def test_an_index_path_that_is_a_file_only_costs_the_snapshot(
    sample_data_dir: Path, make_bot: MakeBot
) -> None:
    bot = _copy(sample_data_dir, make_bot)
    shutil.rmtree(bot.index_dir, ignore_errors=True)
    bot.index_dir.write_text("not a directory")
    assert bot.prepare() == 0
    assert bot.ask_service.ask("Why did Vanuatu ban Fijian biscuits?").found
    assert bot.vectors.checkpoint(force=True) is False  # logged; the store still has it all
