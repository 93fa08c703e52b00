"""The briefbot command as a person runs it: real processes, real exit codes and output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

KIM = "What did Kim Jong Un inspect in Vladivostok?"


def briefbot(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
        check=False,
    )


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_empty_question_is_a_one_line_error(tmp_path: Path) -> None:
    line = _one_line_error(briefbot("ask", "", "--data-dir", str(tmp_path)))
    assert "empty" in line


def test_missing_data_directory_says_to_ingest(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    line = _one_line_error(briefbot("ask", KIM, "--data-dir", str(missing)))
    assert line == "error: no articles yet — run briefbot ingest"
    assert not missing.exists()


def test_invalid_setting_names_the_variable(tmp_path: Path) -> None:
    result = briefbot(
        "stats", "--data-dir", str(tmp_path), env={"BRIEFBOT_RETRIEVAL__TOP_K": "many"}
    )
    line = _one_line_error(result)
    assert line.startswith("error: invalid setting BRIEFBOT_RETRIEVAL__TOP_K:")
    assert result.returncode == 2


def test_ask_json_and_stdin_protocol(sample_data_dir: Path) -> None:
    result = briefbot("ask", "--json", KIM, "--data-dir", str(sample_data_dir))
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["found"] is True
    top = answer["quotes"][0]
    assert set(top) >= {"url", "title", "source", "published_at", "text", "highlight", "score"}
    assert "Marshal Shaposhnikov" in top["text"]
    assert top["source"] == "TASS" and top["published_at"].startswith("2023-09-19")

    lines = "\n".join(
        [KIM, json.dumps({"question": "best pizza dough recipe?", "now": "2024-01-01"}), ""]
    )
    streamed = briefbot("ask", "--data-dir", str(sample_data_dir), stdin=lines + "\n")
    assert streamed.returncode == 0, streamed.stderr
    replies = [json.loads(line) for line in streamed.stdout.splitlines()]
    assert [r["found"] for r in replies] == [True, False]
    assert replies[0]["quotes"][0]["source"] == "TASS"
