"""Shared fixtures: one real embedding model per session, and stores built in temp directories."""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
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


# Tests that choose their store themselves: parametrised over both backends, or PostgreSQL's
# own. A ``--backend postgresql`` run leaves them to the default run.
OWN_BACKEND_FIXTURES = {"backend", "postgres_url", "postgres_server"}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="where every test's bots keep their store: SQLite + FAISS files (the default),"
        " or PostgreSQL + pgvector on a server the tests start themselves",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On PostgreSQL, leave out what is about SQLite's files (``sqlite_only``) and what already
    ran on both backends in the default run."""
    if config.getoption("backend") != "postgresql":
        return
    kept: list[pytest.Item] = []
    left: list[pytest.Item] = []
    for item in items:
        own = OWN_BACKEND_FIXTURES & set(getattr(item, "fixturenames", ()))
        marked = item.get_closest_marker("sqlite_only") or item.get_closest_marker("own_backend")
        (left if own or marked else kept).append(item)
    config.hook.pytest_deselected(items=left)
    items[:] = kept


# Where the session's model export is (see ``embedder``): the one BRIEFBOT_* variable kept.
MODELS_VARIABLE = "BRIEFBOT_EMBEDDING__CACHE_DIR"


# Adapters' chat files (events seen, votes) go in directories of their own inside this one, which
# is removed when the test run ends.
_CHAT_FILES = tempfile.TemporaryDirectory(prefix="briefbot-events-")


def chat_file() -> Path:
    """A chat database of one adapter's own, so tests on the session's sample store never see
    one another's events."""
    return Path(tempfile.mkdtemp(dir=_CHAT_FILES.name)) / "chat.sqlite3"


def isolated_settings(**overrides: object) -> Settings:
    """Settings from the arguments and defaults only: never a developer's .env file."""
    return load_settings(_env_file=None, **overrides)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's BRIEFBOT_* variables must not change what the tests see."""
    for name in list(os.environ):
        if name.startswith("BRIEFBOT_") and name != MODELS_VARIABLE:
            monkeypatch.delenv(name)


_databases = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A real PostgreSQL 16 with pgvector (the pgserver wheel), started once per session
    without root; yields the URL of its maintenance database."""
    from pgserver.postgres_server import get_server

    # Not under pytest's temporary directory: pytest deletes all but its latest three base
    # directories at start-up, so a second session on the machine would delete the data of
    # this one's running server.
    data = Path(tempfile.mkdtemp(prefix="briefbot-pgdata-"))
    server = get_server(data, cleanup_mode="stop")
    yield server.get_uri()
    server.cleanup()
    shutil.rmtree(data, ignore_errors=True)


def new_database(server: str, *, template: str | None = None) -> str:
    """The URL of a fresh database on ``server``: empty, or a copy of ``template``'s."""
    import psycopg

    name = f"briefbot_test_{next(_databases)}"
    copy = f" TEMPLATE {template}" if template else ""
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}{copy}")
    return server.replace("/postgres?", f"/{name}?", 1)


def database_name(url: str) -> str:
    return url.split("?", 1)[0].rsplit("/", 1)[1]


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A fresh, empty database on the session's server, for one test."""
    return new_database(postgres_server)


@pytest.fixture(scope="session")
def postgres_samples(postgres_server: str, sample_data_dir: Path) -> str:
    """The name of a database holding the sample corpus, moved from the session's SQLite
    sample store with ``migrate`` (not re-embedded): the template of each test's copy."""
    from bot.migration import migrate

    url = new_database(postgres_server)
    source = Briefbot(isolated_settings(data_dir=sample_data_dir))
    target, _ = migrate(source, url)
    target.database.close()  # type: ignore[union-attr]
    return database_name(url)


@pytest.fixture(autouse=True)
def _store_backend(
    request: pytest.FixtureRequest, _clean_environment: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under ``--backend postgresql``, every bot a test starts — in this process, through the
    CLI or as a process of its own — keeps its store in one fresh PostgreSQL database (a copy
    of the sample corpus when the test reads that), named by ``BRIEFBOT_DATABASE_URL``."""
    if request.config.getoption("backend") != "postgresql":
        return
    samples = {"sample_data_dir", "sample_bot"} & set(request.fixturenames)
    template = request.getfixturevalue("postgres_samples") if samples else None
    url = new_database(request.getfixturevalue("postgres_server"), template=template)
    monkeypatch.setenv("BRIEFBOT_DATABASE_URL", url)


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
def embedder(tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    """The model that ``briefbot`` commands run in-process load too (one per process). Its
    ONNX export is made once per session: every process a test starts finds it through
    ``MODELS_VARIABLE``, as a deployment finds it beside its store."""
    models = tmp_path_factory.mktemp("models")
    os.environ[MODELS_VARIABLE] = str(models)
    return load_embedder(EmbeddingSettings(cache_dir=models), cache=models)


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
    sample_data_dir: Path,
    embedder: Embedder,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Briefbot:
    """A bot on a copy of the sample corpus: what its chats record (conversations, events)
    stays out of the directory other tests copy and read."""
    data_dir = copy_data_dir(sample_data_dir, tmp_path_factory.mktemp("sample-bot") / "data")
    settings = isolated_settings(data_dir=data_dir)
    if request.config.getoption("backend") == "postgresql":
        server = request.getfixturevalue("postgres_server")
        template = request.getfixturevalue("postgres_samples")
        settings = isolated_settings(
            data_dir=data_dir, database_url=new_database(server, template=template)
        )
    return Briefbot(settings, embedder=embedder)
