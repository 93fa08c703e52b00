"""Running the ``briefbot`` command as a person would, in-process or as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

from bot.cli import app

# Not the repository root, whose .env a developer may keep tokens in.
NEUTRAL_DIR = Path(__file__).parent


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


def briefbot_process(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> Ran:
    """The command as a separate process, for what only a process shows (start-up, signals)."""
    result = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=NEUTRAL_DIR,
        timeout=300,
        check=False,
    )
    return Ran(result.returncode, result.stdout, result.stderr)


def one_line_error(result: Ran) -> str:
    """The one line a failed command printed, asserting there was no more (and no traceback)."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]
