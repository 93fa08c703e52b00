"""Running the ``briefbot`` command as a person would, in-process or as a real process."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

from bot.cli import app

# An empty directory to run commands in: not the repository root, whose .env a developer may
# keep tokens in, nor a folder whose packages would shadow briefbot's (``python -m bot``).
NEUTRAL_DIR = Path(tempfile.mkdtemp(prefix="briefbot-tests-"))
STORE_FILE = "briefbot.sqlite3"


@dataclass(frozen=True)
class Ran:
    """What a command printed and how it exited."""

    returncode: int
    stdout: str
    stderr: str


def briefbot(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Ran:
    """The command run in this process through its real CLI (typer), sharing the loaded model
    with the tests: the same parsing, errors and output as a real process, seconds faster."""
    cwd = Path.cwd()
    os.chdir(NEUTRAL_DIR)
    try:
        result = CliRunner().invoke(app, list(args), input=stdin, env=env, catch_exceptions=False)
    finally:
        os.chdir(cwd)
    return Ran(result.exit_code, result.stdout, result.stderr)


# Real processes are forked from a server that has already imported briefbot and the model
# libraries (six seconds a start otherwise); each still opens its own store and loads its own
# model, and dies to kill -9 like any other. The entry point itself is exercised by the tests
# that start ``python -m bot``.
_FORKSERVER = multiprocessing.get_context("forkserver")
_FORKSERVER.set_forkserver_preload(["bot.cli", "sentence_transformers"])


def _run_cli(args: list[str], env: dict[str, str], out: Path, err: Path) -> None:
    """The child: the environment, directory and output files of a fresh ``briefbot`` run."""
    os.environ.clear()
    os.environ.update(env)
    os.chdir(NEUTRAL_DIR)
    for fd, path in ((1, out), (2, err)):
        opened = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(opened, fd)
        os.close(opened)
    sys.stdout = open(1, "w", encoding="utf-8", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", encoding="utf-8", buffering=1, closefd=False)  # noqa: SIM115
    sys.argv = ["briefbot", *args]
    from bot.cli import main

    main()


class BriefbotProcess:
    """``briefbot ARGS`` running in a process of its own, with its output kept in files."""

    def __init__(self, *args: str, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self._output = Path(tempfile.mkdtemp(prefix="briefbot-run-", dir=NEUTRAL_DIR))
        environment = os.environ | {
            "BRIEFBOT_DATA_DIR": str(data_dir),
            "BRIEFBOT_LOAD_SAMPLES": "false",
            **(env or {}),
        }
        self._process = _FORKSERVER.Process(
            target=_run_cli,
            args=(list(args), environment, self._output / "out", self._output / "err"),
        )
        self._process.start()

    def running(self) -> bool:
        return self._process.is_alive()

    def send_signal(self, signum: signal.Signals) -> None:
        if self._process.pid is not None:
            with contextlib.suppress(ProcessLookupError):  # it has already exited
                os.kill(self._process.pid, signum)

    def finish(self, *, timeout: float) -> Ran:
        """Wait for the process to exit and return what it printed."""
        self._process.join(timeout)
        assert self._process.exitcode is not None, f"still running after {timeout} s"
        return Ran(
            self._process.exitcode,
            self.output("out"),
            self.output("err"),
        )

    def output(self, stream: str) -> str:
        path = self._output / stream
        return path.read_text(encoding="utf-8") if path.exists() else ""


def wait_for(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def one_line_error(result: Ran) -> str:
    """The one line a failed command printed, asserting there was no more (and no traceback)."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def store_counts(data_dir: Path) -> dict[str, int]:
    """Articles, passages, passages lacking a vector and keyword-index rows, read directly from
    the store ``briefbot`` commands would open: ``BRIEFBOT_DATABASE_URL``'s when set."""
    query = {
        "articles": "SELECT COUNT(*) FROM articles",
        "passages": "SELECT COUNT(*) FROM passages",
        "unembedded": "SELECT COUNT(*) FROM passages p WHERE NOT EXISTS"
        " (SELECT 1 FROM passage_vectors v WHERE v.passage_id = p.id)",
        "keywords": "SELECT COUNT(*) FROM passage_terms_docsize",
        "duplicated": "SELECT COUNT(*) - COUNT(DISTINCT content_hash) FROM articles",
    }
    url = os.environ.get("BRIEFBOT_DATABASE_URL")
    if url:
        import psycopg

        query["keywords"] = "SELECT COUNT(*) FROM passage_terms"
        with psycopg.connect(url) as pg:
            try:
                return {name: int(pg.execute(sql).fetchone()[0]) for name, sql in query.items()}  # type: ignore[index]
            except psycopg.errors.UndefinedTable:
                return {"articles": 0}  # not created yet
    path = data_dir / STORE_FILE
    if not path.exists():
        return {"articles": 0}
    conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=30)
    try:
        return {name: int(conn.execute(sql).fetchone()[0]) for name, sql in query.items()}
    except sqlite3.OperationalError:
        return {"articles": 0}  # not created yet
    finally:
        conn.close()


def copy_data_dir(source: Path, target: Path) -> Path:
    """``source`` copied to ``target`` as a backup should be: index files as files, the store
    through SQLite's backup API. Copying a live store's files is unsafe twice over: the copy
    may catch the WAL mid-write, and closing the handles a file copy opens cancels this
    process's SQLite locks, after which another process may check-point and delete the WAL
    under an open connection (https://sqlite.org/howtocorrupt.html, 2.2). That corrupted
    the session's sample store once in CI."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(f"{STORE_FILE}*"))
    origin = sqlite3.connect(f"file:{source / STORE_FILE}?mode=ro", uri=True, timeout=30)
    with closing(origin), closing(sqlite3.connect(target / STORE_FILE)) as copy:
        origin.backup(copy)
    return target
