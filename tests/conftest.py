"""Shared fixtures: one real embedding model per session, and stores built in temp directories."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.settings import EmbeddingSettings, Settings, load_settings
from bot.wiring import Briefbot, load_embedder
from corpus.database import Database
from corpus.samples import SAMPLES_DIR
from retrieval.embedding import Embedder
from tests.cli_harness import copy_data_dir

# Registered here so that every test module can ask for the loopback servers.
from tests.http_server import http_server_fixture as http_server_fixture
from tests.slack_mock import slack_fixture as slack_fixture

MakeBot = Callable[..., Briefbot]
Where = Path | Database
"""Where a store's tables are: a SQLite file, or a database connection."""


def isolated_settings(**overrides: object) -> Settings:
    """Settings from the arguments and defaults only: never a developer's .env file."""
    return load_settings(_env_file=None, **overrides)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's BRIEFBOT_* variables must not change what the tests see."""
    for name in list(os.environ):
        if name.startswith("BRIEFBOT_"):
            monkeypatch.delenv(name)


_databases = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real PostgreSQL 16 with pgvector (the pgserver wheel), started once per session
    without root; yields the URL of its maintenance database."""
    from pgserver.postgres_server import get_server

    server = get_server(tmp_path_factory.mktemp("pgdata"), cleanup_mode="stop")
    yield server.get_uri()
    server.cleanup()


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A fresh, empty database on the session's server, for one test."""
    import psycopg

    name = f"briefbot_test_{next(_databases)}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    return postgres_server.replace("/postgres?", f"/{name}?", 1)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Where]]:
    """Opens the same store again and again, as separate processes would: a SQLite file's
    connections, or connection pools to one fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield lambda: tmp_path / "briefbot.sqlite3"
        return
    from corpus.postgres import PostgresDatabase

    url: str = request.getfixturevalue("postgres_url")
    opened: list[PostgresDatabase] = []

    def open_database() -> Where:
        opened.append(PostgresDatabase(url, max_connections=4))
        return opened[-1]

    yield open_database
    for database in opened:
        database.close()


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The model that ``briefbot`` commands run in-process load too (one per process)."""
    defaults = EmbeddingSettings()
    return load_embedder(defaults.model, device=defaults.device, batch_size=defaults.batch_size)


@pytest.fixture
def make_bot(tmp_path: Path, embedder: Embedder) -> MakeBot:
    """A Briefbot on a fresh data directory that shares the session's model."""

    def make(name: str = "data", **settings: object) -> Briefbot:
        config = isolated_settings(data_dir=tmp_path / name, load_samples=False, **settings)
        return Briefbot(config, embedder=embedder)

    return make


@pytest.fixture(scope="session")
def sample_data_dir(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """A data directory holding the bundled sample corpus, indexed once per session."""
    data_dir = tmp_path_factory.mktemp("sample")
    bot = Briefbot(isolated_settings(data_dir=data_dir), embedder=embedder)
    report = bot.ingest_service.ingest_paths([SAMPLES_DIR])
    assert report.failures == []
    return data_dir


@pytest.fixture(scope="session")
def sample_bot(
    sample_data_dir: Path, embedder: Embedder, tmp_path_factory: pytest.TempPathFactory
) -> Briefbot:
    """A bot on a copy of the sample corpus: what its chats record (conversations, events)
    stays out of the directory other tests copy and read."""
    data_dir = copy_data_dir(sample_data_dir, tmp_path_factory.mktemp("sample-bot") / "data")
    return Briefbot(isolated_settings(data_dir=data_dir), embedder=embedder)
