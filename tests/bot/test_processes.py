"""One store shared by several real processes: a running bot sees another process's ingest,
concurrent ingests store every article once, and kill -9 loses no committed work."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from functools import partial
from pathlib import Path
from urllib.parse import urlencode

from aiohttp import ClientSession

from bot.wiring import Briefbot
from retrieval.embedding import Embedder
from tests.articles import synthetic_articles
from tests.cli_harness import (
    NEUTRAL_DIR,
    BriefbotProcess,
    copy_data_dir,
    store_counts,
    wait_for,
)
from tests.conftest import isolated_settings
from tests.slack_harness import QUESTION as BISCUIT_QUESTION
from tests.slack_harness import assert_biscuit_answer, signed_headers
from tests.slack_mock import TOKEN, MockSlack, free_port

NEW_ARTICLE = (
    "Quillmere opens a floating library\n"
    "The harbour town of Quillmere opened a floating library built from three retired fishing"
    " boats on Tuesday. Mayor Orla Penhallow said the library holds 4,000 books and will sail"
    " between the villages of the estuary every summer."
)
NEW_QUESTION = "What did the town of Quillmere open?"
SECRET = "process-test-secret"


def test_terminal_chat_answers_about_an_article_another_process_ingested(
    sample_data_dir: Path, tmp_path: Path, embedder: Embedder
) -> None:
    data_dir = tmp_path / "data"
    copy_data_dir(sample_data_dir, data_dir)
    # The real entry point, `python -m bot`, with a terminal-like pipe for stdin and stdout.
    chat = subprocess.Popen(
        [sys.executable, "-m", "bot", "chat"],
        env=os.environ | {"BRIEFBOT_DATA_DIR": str(data_dir), "BRIEFBOT_LOAD_SAMPLES": "false"},
        cwd=NEUTRAL_DIR,
        text=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert chat.stdin is not None and chat.stdout is not None
    output: list[str] = []
    lines = chat.stdout
    # Character by character: the prompt has no line end.
    reader = threading.Thread(target=lambda: output.extend(iter(partial(lines.read, 1), "")))
    reader.start()

    def ask(question: str) -> str:
        before = "".join(output).count("you ›")
        chat.stdin.write(question + "\n")  # type: ignore[union-attr]
        chat.stdin.flush()  # type: ignore[union-attr]
        wait_for(lambda: "".join(output).count("you ›") > before, timeout=120, what="a reply")
        return "".join(output).rsplit("you ›", 2)[-2]

    try:
        wait_for(lambda: "you ›" in "".join(output), timeout=120, what="the chat to start")
        # Nothing names the town yet, and the answer says so rather than quote something else.
        assert "couldn't find anything about “Quillmere”" in ask(NEW_QUESTION)
        # Another process (this test's, with its own connection and FAISS cache) adds one.
        other = Briefbot(isolated_settings(data_dir=data_dir), embedder=embedder)
        assert len(other.ingest_service.ingest_text(NEW_ARTICLE).added) == 1
        answer = ask(NEW_QUESTION)
        assert "Quillmere opens a floating library" in answer
        assert "floating library" in answer
    finally:
        chat.stdin.close()
        chat.wait(timeout=60)
        reader.join(timeout=10)
    assert chat.returncode == 0
    assert "Traceback" not in "".join(output)


def test_running_slack_bot_answers_about_an_article_the_cli_ingested(
    sample_data_dir: Path, tmp_path: Path, slack: MockSlack
) -> None:
    """The README's start command with Slack configured, and its way to add articles,
    `briefbot ingest`, from another process while it serves; then it stops cleanly."""
    data_dir = tmp_path / "data"
    copy_data_dir(sample_data_dir, data_dir)
    (tmp_path / "quillmere.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    port = free_port()
    server = BriefbotProcess(
        "run", "--slack-http", "--host", "127.0.0.1", "--port", str(port),
        data_dir=data_dir,
        env={
            "BRIEFBOT_SLACK__BOT_TOKEN": TOKEN,
            "BRIEFBOT_SLACK__SIGNING_SECRET": SECRET,
            "BRIEFBOT_SLACK__API_URL": slack.api_url,
        },
    )  # fmt: skip

    async def command(text: str) -> str:
        # Each invocation has its own trigger id, as Slack's do: an identical body signed in
        # the same second would be an exact replay, which the adapter rightly ignores.
        body = urlencode(
            {"command": "/brief", "text": text, "user_id": "U1", "channel_id": "C1",
             "response_url": slack.response_url, "trigger_id": f"T{len(slack.responses)}"}
        )  # fmt: skip
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        answered = len(slack.responses)
        async with ClientSession(base_url=f"http://127.0.0.1:{port}") as http:
            deadline = time.monotonic() + 120
            while True:
                try:
                    async with http.get("/healthz") as health:
                        assert health.status == 200
                        break
                except OSError:
                    assert server.running(), "briefbot run exited early"
                    assert time.monotonic() < deadline, "briefbot run did not come up"
                    await asyncio.sleep(0.2)
            async with http.post(
                "/slack/events", data=body, headers=headers | signed_headers(body, secret=SECRET)
            ) as ack:
                assert ack.status == 200
        deadline = time.monotonic() + 120
        while len(slack.responses) == answered:
            assert time.monotonic() < deadline, "no reply to the command"
            await asyncio.sleep(0.05)
        return json.dumps(slack.responses[-1])

    try:
        assert_biscuit_answer(json.loads(asyncio.run(command(BISCUIT_QUESTION))))
        assert "floating library" not in asyncio.run(command(NEW_QUESTION))
        ingest = BriefbotProcess("ingest", str(tmp_path / "quillmere.txt"), data_dir=data_dir)
        ingested = ingest.finish(timeout=300)
        assert ingested.returncode == 0, ingested.stderr
        assert ingested.stdout.startswith("added  Quillmere opens a floating library")
        reply = asyncio.run(command(NEW_QUESTION))
        assert "Quillmere opens a floating library" in reply
    finally:
        server.send_signal(signal.SIGTERM)
        stopped = server.finish(timeout=60)
    assert stopped.returncode == 0, stopped.stderr
    assert "Traceback" not in stopped.stderr
    assert TOKEN not in stopped.stderr and SECRET not in stopped.stderr


def test_two_concurrent_ingests_of_overlapping_input_store_each_article_once(
    tmp_path: Path,
) -> None:
    articles = synthetic_articles(60, seed=7, words=40)
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_text("\n".join(json.dumps(a) for a in articles[:40]), encoding="utf-8")
    second.write_text("\n".join(json.dumps(a) for a in articles[20:]), encoding="utf-8")
    data_dir = tmp_path / "data"
    runs = [BriefbotProcess("ingest", str(path), data_dir=data_dir) for path in (first, second)]
    added = 0
    for result in [run.finish(timeout=300) for run in runs]:
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        # Every one of its 40 inputs is reported: added, or skipped as stored by the other.
        summary = result.stdout.strip().splitlines()[-1]
        numbers = [int(word) for word in summary.replace("(", " ").split() if word.isdigit()]
        stored, _passages, skipped, failed = numbers[:4]
        assert stored + skipped == 40 and failed == 0, result.stdout
        added += stored
    counts = store_counts(data_dir)
    assert added == counts["articles"] == 60
    assert counts["duplicated"] == 0 and counts["unembedded"] == 0
    assert counts["keywords"] == counts["passages"]


def _progressed(run: BriefbotProcess, data_dir: Path, target: int) -> bool:
    """The store holds at least ``target`` articles, or the run ended."""
    return not run.running() or store_counts(data_dir)["articles"] >= target


def test_kill_9_during_ingest_loses_no_committed_work(tmp_path: Path) -> None:
    """Five kills at random points of a 1,000-article ingest; each restart re-embeds nothing
    that was committed, and the store is consistent after every kill.

    Each kill waits for the store to pass a mark (so it lands after some progress, yet well
    before the end however fast the machine), then a random instant more, so it falls
    anywhere inside embedding or committing a batch."""
    articles = synthetic_articles(1000, seed=11, words=14)
    source = tmp_path / "articles.jsonl"
    source.write_text("\n".join(json.dumps(a) for a in articles), encoding="utf-8")
    data_dir = tmp_path / "data"
    rng = random.Random(2026)
    small_commits = {"BRIEFBOT_INGEST__COMMIT_EVERY": "64"}
    for kill, mark in enumerate((1, 100, 200, 300, 400)):
        run = BriefbotProcess("ingest", str(source), data_dir=data_dir, env=small_commits)
        wait_for(
            partial(_progressed, run, data_dir, mark),
            timeout=300,
            what=f"the ingest to commit {mark} articles",
        )
        time.sleep(rng.uniform(0.0, 0.2))
        run.send_signal(signal.SIGKILL)
        assert run.finish(timeout=60).returncode == -signal.SIGKILL
        counts = store_counts(data_dir)
        print(f"kill {kill + 1}: {counts['articles']} of 1000 articles committed")
        assert counts["unembedded"] == 0 and counts["duplicated"] == 0
        assert counts["keywords"] == counts["passages"]
    committed = store_counts(data_dir)["articles"]
    assert 0 < committed < 1000, "every kill should have landed mid-ingest"
    final = BriefbotProcess("ingest", str(source), data_dir=data_dir, env=small_commits)
    result = final.finish(timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Embedded" not in result.stderr  # nothing committed before was embedded again
    # Exactly the articles not yet committed were embedded and added; the rest were skipped.
    assert f"{1000 - committed} added" in result.stdout
    assert f"{committed} skipped as duplicates" in result.stdout
    print(f"restart: re-embedded 0 of {committed} committed articles; added {1000 - committed}")
    counts = store_counts(data_dir)
    assert counts["articles"] == 1000 and counts["unembedded"] == 0
    assert counts["keywords"] == counts["passages"]
