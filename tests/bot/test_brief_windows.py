"""Briefings over any window: `brief --since/--until/--limit`, `briefing this week / last week`
in chat, and the latest day with articles when a window has none."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.text import run
from bot.replies import Caller
from bot.services.briefing import Briefing
from bot.wiring import Briefbot
from corpus.model import Article
from tests.articles import OTHERS, VOLCANO, VOLCANO_NEXT_DAY
from tests.cli_harness import briefbot, one_line_error
from tests.conftest import MakeBot

MEMBER = Caller(platform="slack", channel="C1", user="U1", trusted=False)
NOW = datetime(2005, 7, 8, 9, 0, tzinfo=UTC)

# The last minutes of 12 May in UTC, already 13 May in Auckland.
LATE = Article(
    title="Harbour ferry service resumes after strike",
    source="Coast News",
    url="https://cn.example/ferry",
    published_at=datetime(2024, 5, 12, 23, 30, tzinfo=UTC),
    text="Ferries between the harbour and the islands ran again on Sunday evening after "
    "crews ended a three-day strike over pay, the operator said.",
)


@pytest.fixture
def small(make_bot: MakeBot) -> Briefbot:
    """Three days of news: the volcano and two others on 10 May, a follow-up on 11 May, and a
    ferry story late on 12 May."""
    bot = make_bot()
    articles = [*VOLCANO, *OTHERS, VOLCANO_NEXT_DAY, LATE]
    assert len(bot.ingest_service.ingest_articles([(a.title, a) for a in articles]).added) == 7
    return bot


def brief(bot: Briefbot, *args: str) -> dict[str, Any]:
    result = briefbot("brief", "--json", *args, "--data-dir", str(bot.settings.data_dir))
    assert result.returncode == 0, result.stderr
    briefing: dict[str, Any] = json.loads(result.stdout)
    return briefing


def titles(briefing: dict[str, Any]) -> set[str]:
    return {source["title"] for story in briefing["stories"] for source in story["sources"]}


def test_brief_since_until_includes_both_days(small: Briefbot) -> None:
    two_days = brief(small, "--since", "2024-05-10", "--until", "2024-05-11")
    assert two_days["window"]["label"] == "2024-05-10 to 2024-05-11"
    assert titles(two_days) == {a.title for a in [*VOLCANO, *OTHERS, VOLCANO_NEXT_DAY]}
    last_day = brief(small, "--since", "2024-05-12", "--until", "2024-05-12")
    assert titles(last_day) == {LATE.title}  # 23:30 on the last day is inside
    auckland = brief(
        small, "--since", "2024-05-12", "--until", "2024-05-13", "--tz", "Pacific/Auckland"
    )
    assert VOLCANO_NEXT_DAY.title not in titles(auckland) and LATE.title in titles(auckland)

    everything = brief(small, "--since", "2024-05-10", "--until", "2024-05-12")
    assert len(everything["stories"]) >= 3
    limited = brief(small, "--since", "2024-05-10", "--until", "2024-05-12", "--limit", "1")
    assert [s["headline"] for s in limited["stories"]] == [everything["stories"][0]["headline"]]

    today = datetime.now(UTC).date()
    to_today = brief(small, "--since", "2024-05-11")
    assert to_today["window"]["label"] == f"2024-05-11 to {today}"
    assert titles(to_today) == {VOLCANO_NEXT_DAY.title, LATE.title}


def test_brief_names_the_latest_day_when_a_window_is_empty(small: Briefbot) -> None:
    data = ["--data-dir", str(small.settings.data_dir)]
    text = briefbot("brief", "--date", "2030-01-01", *data)
    assert text.returncode == 0, text.stderr
    assert " ".join(text.stdout.split()) == (  # rich wraps long lines
        "No articles from 2030-01-01. The latest are from 2024-05-12 — try: --date 2024-05-12"
    )
    # The day is named in the timezone asked for; --json keeps stdout to the JSON.
    result = briefbot("brief", "--date", "2030-01-01", "--tz", "Pacific/Auckland", "--json", *data)
    assert json.loads(result.stdout)["stories"] == []
    assert result.stderr.strip() == (
        "No articles from 2030-01-01. The latest are from 2024-05-13 — try: --date 2024-05-13"
    )
    yesterday = brief(small, "--date", "yesterday")
    assert yesterday["window"]["label"] == str(datetime.now(UTC).date() - timedelta(days=1))


def test_bad_brief_options_are_one_polite_line(tmp_path: Path) -> None:
    periods = "today, yesterday, this week, last week or YYYY-MM-DD"
    cases = {
        ("--date", "2024-05-10", "--since", "2024-05-09"): (
            "use --date for one day or week, or --since and --until, not both"
        ),
        ("--until", "2024-05-10"): (
            "--until needs --since, e.g. --since 2005-07-04 --until 2005-07-10"
        ),
        ("--since", "2024-05-11", "--until", "2024-05-10"): (
            "--since (2024-05-11) is after --until (2024-05-10); give the earlier day first"
        ),
        ("--since", "tomorrow"): f"--since: 'tomorrow' is not a day I know — use {periods}",
        ("--date", "2024-02-30"): f"--date: '2024-02-30' is not a day I know — use {periods}",
        ("--limit", "0"): "--limit: ask for at least one story, not 0",
    }
    for args, message in cases.items():
        result = briefbot("brief", *args, "--data-dir", str(tmp_path))
        assert one_line_error(result) == f"error: {message}"
        assert result.returncode == 1


def test_chat_briefings_of_this_week_and_last_week(small: Briefbot) -> None:
    commands = small.commands
    sunday, wednesday = datetime(2024, 5, 12, 18, tzinfo=UTC), datetime(2024, 5, 15, 9, tzinfo=UTC)
    this_week = run(commands, "briefing this week", MEMBER, now=sunday)
    assert isinstance(this_week, Briefing) and this_week.window.label == "2024-05-06 to 2024-05-12"
    assert titles(this_week.to_dict()) == {
        a.title for a in [*VOLCANO, *OTHERS, VOLCANO_NEXT_DAY, LATE]
    }
    last_week = run(commands, "briefing Last Week volcanic eruption, ferry", MEMBER, now=wednesday)
    assert isinstance(last_week, Briefing)
    assert last_week.window == this_week.window
    assert last_week.topics == ("volcanic eruption", "ferry")
    topic = run(commands, "briefing volcano", MEMBER, now=sunday)
    assert isinstance(topic, Briefing)
    assert (topic.window.label, topic.topics) == ("2024-05-12", ("volcano",))


def test_chat_names_the_latest_day_with_articles(sample_bot: Briefbot, small: Briefbot) -> None:
    def note(bot: Briefbot, text: str) -> str:
        briefing = run(bot.commands, text, MEMBER, now=NOW)
        assert isinstance(briefing, Briefing) and briefing.stories == []
        return briefing.empty_note

    assert note(sample_bot, "briefing 2026-12-03") == (
        "No articles from 2026-12-03. The latest are from 2023-09-19 — try: briefing 2023-09-19"
    )
    # Between the sample's two periods: the latest before the day asked for.
    assert note(sample_bot, "briefing 2010-01-01") == (
        "No articles from 2010-01-01. The latest are from 2005-07-31 — try: briefing 2005-07-31"
    )
    # Before every article: the latest there is.
    assert note(sample_bot, "briefing 2005-06-15").endswith("— try: briefing 2023-09-19")
    # A day with articles, none about the topic: no day to suggest.
    assert note(small, "briefing 2024-05-10 tennis") == "No articles about tennis from 2024-05-10."


def test_terminal_chat_briefs_last_week(small: Briefbot) -> None:
    result = briefbot(
        "chat", "--now", "2024-05-15T09:00", "--data-dir", str(small.settings.data_dir),
        stdin="briefing last week\nquit\n",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.split())  # rich wraps long lines
    assert "News briefing — 2024-05-06 to 2024-05-12" in out
    assert LATE.title in out and VOLCANO_NEXT_DAY.title in out
