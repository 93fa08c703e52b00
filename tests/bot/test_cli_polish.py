"""The command's manners: --version, help that names variables and defaults, a fast start for
commands that never search, and timezones as people type them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest

from bot.settings import DEFAULT_MODEL
from bot.timezones import UnknownTimezoneError, find_timezone
from corpus.feeds import FeedStore
from corpus.model import canonical_url
from retrieval.embedding import Embedder
from retrieval.terms import STOP_WORDS
from tests.cli_harness import NEUTRAL_DIR, briefbot, one_line_error
from tests.conftest import MODELS_VARIABLE

# What loading the model, FAISS or scikit-learn would leave behind; bot.wiring shows that the
# child did run the command's code.
_WATCHED = ("torch", "sentence_transformers", "sklearn", "faiss", "bot.wiring")
# The real entry point in a fresh interpreter, reporting at exit which watched modules it
# imported. A fresh one, since this process has the model loaded.
_CHILD = f"""
import atexit, json, os, sys
atexit.register(lambda: print(json.dumps([m for m in {_WATCHED!r} if m in sys.modules]),
                              file=open(os.environ["LOADED_REPORT"], "w")))
sys.argv = ["briefbot", *sys.argv[1:]]
from bot.cli import main
main()
"""


def _run_fresh(*args: str, data_dir: Path, report: Path) -> tuple[int, str, list[str]]:
    """``briefbot ARGS`` in a new interpreter: its exit code, stdout and the watched modules
    it imported."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIEFBOT_")}
    env |= {"BRIEFBOT_DATA_DIR": str(data_dir), "LOADED_REPORT": str(report)}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, *args],
        cwd=NEUTRAL_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    loaded: list[str] = json.loads(report.read_text())
    return done.returncode, done.stdout + done.stderr, loaded


def test_version_prints_the_installed_version() -> None:
    result = briefbot("--version")
    assert result.returncode == 0
    assert result.stdout == f"briefbot {version('briefbot')}\n"


def test_help_keeps_square_brackets_and_names_variables_and_defaults() -> None:
    def help_of(*command: str) -> str:
        result = briefbot(*command, "--help")
        assert result.returncode == 0, result.stderr
        return " ".join(result.stdout.split())  # help is wrapped to the terminal

    schedule = help_of("subscriptions", "add")
    assert "HH:MM Area/City [daily|weekdays|weekends|mon,wed] [topics…]" in schedule
    assert "[env var: BRIEFBOT_DATA_DIR; default: (data)]" in help_of("ingest")
    brief = help_of("brief")
    assert "[env var: BRIEFBOT_BRIEFING__TIMEZONE; default: (UTC)]" in brief
    assert "[env var: BRIEFBOT_BRIEFING__STORIES; default: (8)]" in brief


@pytest.mark.sqlite_only
def test_data_dir_option_beats_the_variable(tmp_path: Path) -> None:
    """Reading BRIEFBOT_DATA_DIR in the option too keeps the order: option, then variable."""
    flag, variable = tmp_path / "flag", tmp_path / "variable"
    env = {"BRIEFBOT_DATA_DIR": str(variable)}
    schedule = ["subscriptions", "add", "08:00", "Europe/London"]
    assert briefbot(*schedule, "--data-dir", str(flag), env=env).returncode == 0
    assert (flag / "briefbot.sqlite3").exists() and not variable.exists()
    assert briefbot(*schedule, env=env).returncode == 0
    assert (variable / "briefbot.sqlite3").exists()


def test_commands_that_never_search_never_load_the_model(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    feed = canonical_url("https://example.org/feed.xml")
    feeds = FeedStore(data_dir / "briefbot.sqlite3")
    feeds.add(feed, title="Example wire")
    feeds.close()
    commands = [
        (["feeds", "list"], "Example wire"),
        (["feeds", "remove", feed], "Stopped following"),
        (["subscriptions", "add", "08:00", "Europe/London", "weekdays"], "Europe/London"),
        (["subscriptions", "list"], "(next "),
        (["subscriptions", "remove"], "unsubscribed"),
    ]
    for number, (args, expected) in enumerate(commands):
        code, output, loaded = _run_fresh(
            *args, data_dir=data_dir, report=tmp_path / f"loaded-{number}.json"
        )
        assert code == 0 and expected in output, (args, output)
        assert loaded == ["bot.wiring"], args


def test_stats_never_loads_the_model(sample_data_dir: Path, tmp_path: Path) -> None:
    code, output, loaded = _run_fresh(
        "stats", data_dir=sample_data_dir, report=tmp_path / "loaded.json"
    )
    assert code == 0, output
    assert "articles:" in output and "keyword index:" in output
    assert loaded == ["bot.wiring"]


def test_tz_suggests_the_zone_meant(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path)]
    line = one_line_error(briefbot("brief", "--tz", "London", *data))
    assert line == "error: --tz: unknown timezone 'London' — did you mean Europe/London?"
    typo = one_line_error(briefbot("brief", "--tz", "Europe/Londn", *data))
    assert typo.endswith("did you mean Europe/London?")
    nothing_close = one_line_error(briefbot("brief", "--tz", "Mars/Olympus", *data))
    assert nothing_close.endswith("use an IANA name such as Europe/Berlin")
    # Accepted in any case: the next thing wrong is the empty store.
    accepted = one_line_error(briefbot("brief", "--tz", "europe/london", *data))
    assert accepted.startswith("error: no articles yet — add some with briefbot ingest, or run")


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("London", "Europe/London"), ("new york", "America/New_York"), ("Berln", "Europe/Berlin")],
)
def test_find_timezone_suggests(typed: str, meant: str) -> None:
    with pytest.raises(UnknownTimezoneError) as error:
        find_timezone(typed)
    assert error.value.suggestion == meant


@pytest.mark.parametrize("typed", ["Mars/Olympus", "", "localtime", "../etc/passwd"])
def test_find_timezone_refuses_without_a_guess(typed: str) -> None:
    with pytest.raises(UnknownTimezoneError) as error:
        find_timezone(typed)
    assert error.value.suggestion is None


def test_find_timezone_forgives_case_and_keeps_the_canonical_key() -> None:
    assert find_timezone(" europe/london ").key == "Europe/London"
    assert find_timezone("utc").key == "UTC"


def test_stop_words_are_scikit_learns() -> None:
    """Copied so that starting briefbot needs no scikit-learn; it must stay the same list."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    assert frozenset(ENGLISH_STOP_WORDS) == STOP_WORDS


@pytest.fixture
def torch_threads() -> Iterator[None]:
    """The process-wide thread counts the test changes, put back afterwards."""
    import faiss
    import torch

    before = torch.get_num_threads(), faiss.omp_get_max_threads()
    yield
    torch.set_num_threads(before[0])
    faiss.omp_set_num_threads(before[1])


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_questions_run_on_one_thread_and_ingest_on_every_core(
    torch_threads: None, embedder: Embedder, tmp_path: Path, backend: str
) -> None:
    """FAISS's threads, and torch's for the torch backend (the onnx backend's session takes
    the threads it is made with, as the next test shows)."""
    import faiss
    import torch

    article = tmp_path / "mill.txt"
    article.write_text("Mill reopens\nThe old mill in Harrowby reopened on Sunday.", "utf-8")
    data_dir = ["--data-dir", str(tmp_path / "data")]
    chosen = {"BRIEFBOT_EMBEDDING__BACKEND": backend}
    runs = [
        (["ingest", str(article), *data_dir], chosen, os.cpu_count()),
        (["ask", "Which mill reopened?", *data_dir], chosen, 1),
        (
            ["ask", "Which mill reopened?", *data_dir],
            chosen | {"BRIEFBOT_EMBEDDING__THREADS": "3"},
            3,
        ),
    ]
    for args, env, threads in runs:
        torch.set_num_threads(5)
        result = briefbot(*args, env=env)
        assert result.returncode == 0, result.stderr
        assert faiss.omp_get_max_threads() == threads, args
        if backend == "torch":
            assert torch.get_num_threads() == threads, args


def test_the_onnx_session_runs_on_the_threads_it_is_given(embedder: Embedder) -> None:
    from retrieval.onnx_embedding import OnnxEmbedder

    models = Path(os.environ[MODELS_VARIABLE])  # the session's export: no second one
    for threads in (1, 2):
        embedder = OnnxEmbedder(DEFAULT_MODEL, cache=models, threads=threads)
        options = embedder._session.get_session_options()
        assert (options.intra_op_num_threads, options.inter_op_num_threads) == (threads, 1)
