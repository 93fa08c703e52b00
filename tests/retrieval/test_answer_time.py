"""Answers respect time: date windows from the question, no future articles, honest fallbacks."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.wiring import Briefbot
from corpus.model import Article
from tests.conftest import MakeBot

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2024, 3, 1, 9, 30, tzinfo=BERLIN)


def article(title: str, text: str, day: datetime) -> Article:
    return Article(title=title, text=text, source="Test Wire", published_at=day, url=None)


FLOODS = [
    article(
        "Floods hit Valencia again",
        "Heavy rain flooded the streets of Valencia on Wednesday, and the regional government "
        "opened emergency shelters for two hundred families.",
        datetime(2024, 2, 28, 15, tzinfo=BERLIN),
    ),
    article(
        "Valencia counts the cost of January floods",
        "Flooding in Valencia in January damaged more than a thousand homes, insurers said, "
        "after the river burst its banks.",
        datetime(2024, 1, 10, 9, tzinfo=BERLIN),
    ),
    article(
        "Valencia flood defences announced",
        "Valencia will build new flood defences along the river after repeated flooding, the "
        "mayor announced on Tuesday.",
        datetime(2024, 3, 5, 11, tzinfo=BERLIN),
    ),
    article(
        "Chess champion retires",
        "The world chess champion announced his retirement from competitive play at the age of 40.",
        datetime(2024, 2, 29, 10, tzinfo=BERLIN),
    ),
]


@pytest.fixture
def bot(make_bot: MakeBot) -> Briefbot:
    bot = make_bot()
    bot.ingest_service.ingest_articles([(a.title, a) for a in FLOODS])
    return bot


def titles(bot: Briefbot, question: str, now: datetime) -> list[str]:
    return [q.title for q in bot.ask_service.ask(question, now=now, k=5).quotes]


def test_articles_published_after_now_are_never_quoted(bot: Briefbot) -> None:
    found = titles(bot, "What is happening with the floods in Valencia?", NOW)
    assert "Valencia flood defences announced" not in found
    assert "Floods hit Valencia again" in found
    later = titles(
        bot, "What is happening with the floods in Valencia?", datetime(2024, 3, 9, tzinfo=BERLIN)
    )
    assert "Valencia flood defences announced" in later


def test_a_time_expression_filters_by_publication_date(bot: Briefbot) -> None:
    answer = bot.ask_service.ask("What happened this week with the floods in Valencia?", now=NOW)
    assert [q.title for q in answer.quotes] == ["Floods hit Valencia again"]
    assert answer.note is None
    in_january = titles(bot, "What happened with the Valencia floods in January 2024?", NOW)
    assert in_january == ["Valencia counts the cost of January floods"]


def test_an_empty_window_says_so_and_offers_other_dates(bot: Briefbot) -> None:
    answer = bot.ask_service.ask("What happened with the Valencia floods yesterday?", now=NOW)
    assert answer.found
    assert answer.note is not None and "nothing relevant from “yesterday”" in answer.note
    assert all(q.outside_window for q in answer.quotes)
    assert "Floods hit Valencia again" in [q.title for q in answer.quotes]
    assert "Valencia flood defences announced" not in [q.title for q in answer.quotes]


def test_recency_prefers_the_newer_of_two_matches(bot: Briefbot) -> None:
    # The ranked evidence: the answer itself may leave the older article out as less relevant.
    evidence = bot.ask_service.retrieve("Valencia floods", now=NOW).evidence
    found = [e.article.title for e in evidence]
    assert found.index("Floods hit Valencia again") < found.index(
        "Valencia counts the cost of January floods"
    )
