"""Daily briefings: stories clustered across sources, topics, no repeats, platform limits."""

from __future__ import annotations

import json
from datetime import UTC, date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.adapters.text import run
from bot.rendering import discord, slack, terminal
from bot.replies import Caller, Notice
from bot.services.briefing import Briefing, KeyQuote, Story
from bot.wiring import Briefbot
from corpus.model import Article
from retrieval.window import Window
from tests.articles import DAY, OTHERS, REPOSITORY, VOLCANO, VOLCANO_NEXT_DAY, at
from tests.bot.test_rendering import printed
from tests.cli_harness import briefbot
from tests.conftest import MakeBot


@pytest.fixture
def bot(make_bot: MakeBot) -> Briefbot:
    bot = make_bot()
    report = bot.ingest_service.ingest_articles([(a.title, a) for a in VOLCANO + OTHERS])
    assert len(report.added) == 5
    return bot


def test_articles_about_one_event_become_one_story(bot: Briefbot) -> None:
    briefing = bot.briefing_service.brief(Window.day(DAY, UTC))
    assert 2 <= len(briefing.stories) <= 3
    top = briefing.stories[0]
    assert sorted(a.source or "" for a in top.sources) == [
        "Atlantic Post",
        "Nordic Wire",
        "Reykjavik Daily",
    ]
    assert all(len(s.sources) == 1 for s in briefing.stories[1:])
    assert 1 <= len(top.quotes) <= 3
    for quote in top.quotes:
        assert quote.text in quote.article.text  # verbatim
    assert len({q.text for q in top.quotes}) == len(top.quotes)
    assert top.headline in {a.title for a in VOLCANO}


def test_an_article_still_being_indexed_waits_for_the_next_briefing(make_bot: MakeBot) -> None:
    """Ingest stores an article a moment before its vectors reach the index; a briefing made
    in that moment (on another thread) leaves it out instead of failing."""
    bot = make_bot()
    bot.ingest_service.ingest_articles([(a.title, a) for a in OTHERS])
    pending = VOLCANO[0]
    bot.store.add(pending, [(0, len(pending.text))])  # stored, not yet indexed
    briefing = bot.briefing_service.brief(Window.day(DAY, UTC))
    titles = {a.title for story in briefing.stories for a in story.sources}
    assert titles == {a.title for a in OTHERS}


def test_a_topic_keeps_only_matching_stories(bot: Briefbot) -> None:
    briefing = bot.briefing_service.brief(Window.day(DAY, UTC), topics=["volcanic eruption"])
    assert [len(s.sources) for s in briefing.stories] == [3]
    assert briefing.stories[0].topic == "volcanic eruption"
    nothing = bot.briefing_service.brief(Window.day(DAY, UTC), topics=["tennis"])
    assert nothing.stories == [] and "tennis" in nothing.empty_note


def test_a_delivered_story_returns_only_with_news(bot: Briefbot) -> None:
    channel = ("slack", "C123")
    service = bot.briefing_service
    window = Window(at(0), at(0, DAY + timedelta(days=2)), "two days")
    first = service.brief(Window.day(DAY, UTC), channel=channel)
    service.deliveries.record(*channel, first)
    assert service.brief(window, channel=channel).stories == []
    # Another channel has not seen it.
    assert len(service.brief(window, channel=("discord", "99")).stories) == len(first.stories)
    bot.ingest_service.ingest_articles([("follow-up", VOLCANO_NEXT_DAY)])
    [story] = service.brief(window, channel=channel).stories
    assert story.update
    assert "Grindavik eruption slows, scientists say" in [a.title for a in story.sources]


def test_an_empty_window_says_so(bot: Briefbot) -> None:
    since = Window.since(at(23), at(23, DAY + timedelta(days=1)))
    briefing = bot.briefing_service.brief(since)
    assert briefing.stories == []
    assert briefing.empty_note.startswith("No new articles since 2024-05-10 23:00")


def _big_day() -> Briefing:
    sentence = (
        "The committee said the decision, which affects " + "many people " * 60 + "was final."
    )
    stories = []
    for n in range(20):
        sources = [
            Article(
                id=n * 10 + i,
                title=f"Story {n} source {i} <b>& more</b> " + "x" * 150,
                source=f"Outlet {i}",
                url=f"https://example.org/{n}/{i}?a=1&b=2",
                published_at=at(8),
                text=sentence,
            )
            for i in range(6)
        ]
        quotes = [KeyQuote(text=f"{sentence} ({n}.{q})", article=sources[0]) for q in range(3)]
        stories.append(Story(headline=f"Headline {n} " + "y" * 300, quotes=quotes, sources=sources))
    return Briefing(window=Window.day(DAY, UTC), stories=stories)


def test_slack_rendering_stays_within_limits_for_twenty_stories() -> None:
    messages = slack.briefing_messages(_big_day())
    assert len(messages) >= 2
    headings = []
    for message in messages:
        assert len(message["blocks"]) <= slack.MAX_BLOCKS
        assert message["unfurl_links"] is False
        assert message["text"]
        for block in message["blocks"]:
            if block["type"] == "section":
                text = block["text"]["text"]
                assert len(text) <= slack.MAX_SECTION
                assert "<b>" not in text
                headings.append(text.split("\n", 1)[0])
            if block["type"] == "header":
                assert len(block["text"]["text"]) <= slack.MAX_HEADER
            if block["type"] == "context":
                assert len(block["elements"][0]["text"]) <= slack.MAX_CONTEXT
    assert [h.split(".")[0] for h in headings] == [f"*{n}" for n in range(1, 21)]


def test_discord_rendering_stays_within_limits_for_twenty_stories() -> None:
    messages = discord.briefing_messages(_big_day())
    titles = []
    for message in messages:
        assert len(message["content"]) <= discord.MAX_CONTENT
        assert len(message["embeds"]) <= discord.MAX_EMBEDS
        total = 0
        for embed in message["embeds"]:
            assert len(embed["title"]) <= discord.MAX_TITLE
            assert len(embed["description"]) <= discord.MAX_DESCRIPTION
            total += len(embed["title"]) + len(embed["description"])
            titles.append(embed["title"])
            # Quotes are dropped whole, never cut: every quoted line ends its sentence.
            quoted = [line for line in embed["description"].split("\n") if line.startswith(">")]
            assert quoted and all(line.endswith(")") for line in quoted)
        assert total <= discord.MAX_TOTAL
    assert [t.split(".")[0] for t in titles] == [str(n) for n in range(1, 21)]


def test_brief_cli_on_the_sample_corpus(sample_data_dir: Path) -> None:
    result = briefbot("brief", "--date", "2023-09-19", "--json", "--data-dir", str(sample_data_dir))
    assert result.returncode == 0, result.stderr
    briefing = json.loads(result.stdout)
    [story] = briefing["stories"]
    assert story["headline"].startswith("Tokyo, Seoul, Washington concerned")
    assert story["sources"][0]["source"] == "TASS"
    seed = (REPOSITORY / "corpus" / "samples").glob("tass-*.md")
    text = next(seed).read_text(encoding="utf-8")
    assert story["key_sentences"]
    for sentence in story["key_sentences"]:
        assert sentence in text


def test_the_sample_days_reactions_to_one_attack_are_one_story(sample_bot: Briefbot) -> None:
    """7 July 2005 in the sample corpus: four reactions to the London bombings (markets, France's
    alert, a claim of responsibility, a US transit alert), none of them the attack's report."""
    london = ZoneInfo("Europe/London")
    brief = sample_bot.briefing_service.brief
    first, *others = brief(Window.day(date(2005, 7, 7), london)).stories
    assert len(first.sources) >= 3
    assert all("London" in a.text for a in first.sources)
    assert not any("London" in s.headline or "UK blasts" in s.headline for s in others)
    week = brief(Window.days(date(2005, 7, 7), last=date(2005, 7, 13), tz=london)).stories
    assert {a.url for a in first.sources} <= {a.url for a in week[0].sources}  # one thread
    later = brief(Window.day(date(2005, 7, 28), london)).stories
    assert "IRA orders end to armed campaign" in [s.headline for s in later]


def test_a_story_continuing_from_earlier_days_is_marked_with_its_thread(bot: Briefbot) -> None:
    bot.ingest_service.ingest_articles([("follow-up", VOLCANO_NEXT_DAY)])
    saturday = Window.day(DAY + timedelta(days=1), UTC)
    [story] = bot.briefing_service.brief(saturday).stories  # on demand: no channel involved
    assert [a.title for a in story.sources] == [VOLCANO_NEXT_DAY.title]
    assert sorted(a.title for a in story.earlier) == sorted(a.title for a in VOLCANO)
    assert story.update and story.day == 2
    assert story.thread == "day 2 · 4 articles so far"
    as_json = bot.briefing_service.brief(saturday).to_dict()["stories"]
    assert as_json[0]["thread"] == "day 2 · 4 articles so far"  # type: ignore[index]
    # Without the earlier days in reach, the same story is new.
    bot.briefing_service.thread_days = 0
    [alone] = bot.briefing_service.brief(saturday).stories
    assert not alone.update and alone.thread is None and alone.earlier == []


def test_a_story_shows_the_names_its_articles_share(bot: Briefbot) -> None:
    top = bot.briefing_service.brief(Window.day(DAY, UTC)).stories[0]
    assert "Grindavik" in top.shared
    assert top.why is not None and top.why.startswith("grouped by ")
    shown = printed(terminal.render_briefing(bot.briefing_service.brief(Window.day(DAY, UTC))))
    assert "grouped by " in shown and "Grindavik" in shown


def test_a_story_timeline_runs_in_order_across_days(bot: Briefbot) -> None:
    bot.ingest_service.ingest_articles([("follow-up", VOLCANO_NEXT_DAY)])
    timeline = bot.briefing_service.timeline("Grindavik eruption")
    assert timeline is not None and timeline.title == "Story timeline"
    sources = [s.sources[0] for s in timeline.stories]
    assert {a.title for a in sources} == {a.title for a in [*VOLCANO, VOLCANO_NEXT_DAY]}
    assert [a.published_at for a in sources] == sorted(a.published_at or at(0) for a in sources)
    for entry in timeline.stories:
        [quote] = entry.quotes
        assert quote.text in quote.article.text  # one verbatim sentence per article
    assert timeline.window.label.endswith("(4 articles, 2024-05-10 to 2024-05-11)")
    assert bot.briefing_service.timeline("tennis") is None


def _days_later(days: int, title: str, text: str) -> Article:
    """An article published ``days`` after the eruption."""
    url = f"https://later.example/{days}"
    return Article(title=title, text=text, url=url, published_at=at(6, DAY + timedelta(days=days)))


def _eruption_timeline_with(bot: Briefbot, article: Article) -> set[str]:
    """The titles of the "Grindavik eruption" timeline once ``article`` is stored too."""
    assert len(bot.ingest_service.ingest_articles([("another", article)]).added) == 1
    timeline = bot.briefing_service.timeline("Grindavik eruption")
    assert timeline is not None
    return {entry.sources[0].title for entry in timeline.stories}


def test_a_timeline_never_joins_an_eruption_months_later(bot: Briefbot) -> None:
    later = _days_later(
        120,
        "Grindavik evacuated as a new eruption begins on Reykjanes",
        "Another eruption started north of Grindavik on Sunday night, the fifth on the Reykjanes "
        "peninsula this year. Police evacuated the fishing town and the Blue Lagoon as lava "
        "fountains rose from a fissure two kilometres long, the Met Office said.",
    )
    # Alike as they are, one eruption's articles or the other's, never both.
    titles = _eruption_timeline_with(bot, later)
    assert titles in ({a.title for a in VOLCANO}, {later.title})


def test_a_timeline_follows_the_story_not_a_side_article_that_matches_best(
    bot: Briefbot,
) -> None:
    side = _days_later(
        200,
        "Grindavik eruption documentary wins an award",
        "A documentary about the Grindavik eruption won the audience award at a film festival "
        "in Berlin on Saturday. Its director spent a year filming the town's families.",
    )
    titles = _eruption_timeline_with(bot, side)
    assert bot.searcher.search("Grindavik eruption", k=1)[0].article.title == side.title
    assert titles == {a.title for a in VOLCANO}


def test_the_story_command_in_chat_and_the_cli(bot: Briefbot) -> None:
    caller = Caller(platform="terminal", channel="local", user="me", trusted=True)
    reply = run(bot.commands, "story grindavik volcano", caller)
    assert isinstance(reply, Briefing) and len(reply.stories) == 3
    for words, expected in [("story", "Say which story"), ("story tennis", "“tennis”")]:
        notice = run(bot.commands, words, caller)
        assert isinstance(notice, Notice) and expected in notice.lines[0]
    out = briefbot(
        "story", "Grindavik eruption", "--json", "--data-dir", str(bot.settings.data_dir)
    )
    entries = json.loads(out.stdout)["stories"]
    assert len(entries) == 3 and all(len(e["key_sentences"]) == 1 for e in entries)
