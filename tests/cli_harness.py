"""Running the ``briefbot`` command as a person would, in-process or as a real process."""

from __future__ import annotations

import os
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

from bot.cli import app

# An empty directory to run commands in: not the repository root, whose .env a developer may
# keep tokens in, nor a folder whose packages would shadow briefbot's (``python -m bot``).
NEUTRAL_DIR = Path(tempfile.mkdtemp(prefix="briefbot-tests-"))


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


def one_line_error(result: Ran) -> str:
    """The one line a failed command printed, asserting there was no more (and no traceback)."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def store_counts(data_dir: Path) -> dict[str, int]:
    """Articles, passages, passages lacking a vector and keyword-index rows, read directly."""
    path = data_dir / "briefbot.sqlite3"
    if not path.exists():
        return {"articles": 0}
    conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=30)
    try:
        query = {
            "articles": "SELECT COUNT(*) FROM articles",
            "passages": "SELECT COUNT(*) FROM passages",
            "unembedded": "SELECT COUNT(*) FROM passages p WHERE NOT EXISTS"
            " (SELECT 1 FROM passage_vectors v WHERE v.passage_id = p.id)",
            "keywords": "SELECT COUNT(*) FROM passage_terms_docsize",
            "duplicated": "SELECT COUNT(*) - COUNT(DISTINCT content_hash) FROM articles",
        }
        return {name: int(conn.execute(sql).fetchone()[0]) for name, sql in query.items()}
    except sqlite3.OperationalError:
        return {"articles": 0}  # not created yet
    finally:
        conn.close()
