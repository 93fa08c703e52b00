"""Votes on answers as data: ``briefbot feedback`` summarises and exports them, and the metrics
endpoint counts them (the clicks themselves are tested through Slack's and Discord's
dispatch in the adapters' tests)."""

from __future__ import annotations

import json

from bot.wiring import Briefbot
from tests.cli_harness import briefbot, one_line_error
from tests.conftest import MakeBot

FLOOD = (
    "River Tamsin floods Harrowby\nThe River Tamsin burst its banks on Sunday and flooded the"
    " old mill district of Harrowby, where 300 homes were evacuated."
)
FERRY = (
    "Skerrow ferries resume\nFerry crossings to the island of Skerrow resumed on Monday after"
    " the storm damaged the harbour wall."
)


def _answered(bot: Briefbot, question: str) -> str:
    answer = bot.ask_service.ask(question)
    assert answer.found
    return bot.feedback.record(answer, platform="slack", channel="C1")


def test_feedback_is_summarised_exported_and_counted(make_bot: MakeBot) -> None:
    bot = make_bot()
    bot.ingest_service.ingest_text(FLOOD, url="https://news.example/flood")
    bot.ingest_service.ingest_text(FERRY, url="https://news.example/ferry")
    flood = _answered(bot, "How many homes were evacuated in Harrowby?")
    ferry = _answered(bot, "When did the Skerrow ferries resume?")
    _answered(bot, "Which river flooded?")  # shown, never voted on
    assert bot.feedback.vote(flood, user="U1", up=True)
    assert bot.feedback.vote(ferry, user="U1", up=False)
    assert bot.feedback.vote(ferry, user="U2", up=False)
    assert not bot.feedback.vote("no-such-answer", user="U1", up=True)

    data_dir = ["--data-dir", str(bot.settings.data_dir)]
    summary = briefbot("feedback", *data_dir)
    assert summary.returncode == 0, summary.stderr
    assert summary.stdout.splitlines() == [
        "answers with buttons: 3",
        "👍 1   👎 2",
        "least liked:",
        "  👍 0 👎 2  When did the Skerrow ferries resume?",
    ]
    exported = briefbot("feedback", "--export", *data_dir)
    records = [json.loads(line) for line in exported.stdout.splitlines()]
    assert [(r["question"], r["votes"]) for r in records] == [
        ("How many homes were evacuated in Harrowby?", {"up": 1, "down": 0}),
        ("When did the Skerrow ferries resume?", {"up": 0, "down": 2}),
    ]
    liked, disliked = records
    assert liked["kind"] == "feedback" and liked["now"]
    assert liked["urls"][0] == "https://news.example/flood" and liked["wrong_urls"] == []
    assert disliked["urls"] == [] and disliked["wrong_urls"][0] == "https://news.example/ferry"
    assert liked["passage_ids"]

    later = briefbot("feedback", "--since", "2999-01-01", *data_dir)
    assert later.stdout.splitlines() == ["answers with buttons: 0", "👍 0   👎 0"]
    assert "--since" in one_line_error(briefbot("feedback", "--since", "soon", *data_dir))

    exposition = bot.metrics.exposition().decode()
    assert 'briefbot_feedback_votes{vote="up"} 1.0' in exposition
    assert 'briefbot_feedback_votes{vote="down"} 2.0' in exposition
