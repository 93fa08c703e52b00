"""Running the ``briefbot`` command as a person would: a real process, its exit code and output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def briefbot(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        # Not the repository root, whose .env a developer may keep tokens in.
        cwd=Path(__file__).parent,
        timeout=300,
        check=False,
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The one line a failed command printed, asserting there was no more (and no traceback)."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]
