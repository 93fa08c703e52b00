"""The chat commands every adapter shares: parsing, permissions, and the replies they make."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.commands import REFUSAL, Caller, Commands, Help, Notice
from bot.services.ask import Answer
from bot.services.briefing import Briefing
from bot.wiring import Briefbot
from tests.conftest import MakeBot

NOW = datetime(2005, 7, 8, 9, 0, tzinfo=UTC)
MEMBER = Caller(platform="slack", channel="C1", user="U1", trusted=False)
ADMIN = Caller(platform="slack", channel="C1", user="UADMIN", trusted=True)


def test_text_commands_parse_to_the_right_reply(sample_bot: Briefbot) -> None:
    commands = Commands(sample_bot)
    assert isinstance(commands.run("", MEMBER), Help)
    unknown = commands.run("frobnicate", MEMBER)
    assert isinstance(unknown, Help) and unknown.intro == "I don't know the command “frobnicate”."
    question = "Why did Vanuatu ban Fijian biscuits?"
    for text in (f"ask {question}", question):
        answer = commands.run(text, MEMBER, now=NOW)
        assert isinstance(answer, Answer) and "biscuit" in answer.quotes[0].title
    empty = commands.run("ask", MEMBER)
    assert isinstance(empty, Notice) and empty.problem and "empty" in empty.text


def test_briefing_takes_a_day_and_topics(sample_bot: Briefbot) -> None:
    commands = Commands(sample_bot)
    day = commands.run("briefing 2005-07-07", MEMBER, now=NOW)
    assert isinstance(day, Briefing) and day.window.label == "2005-07-07" and day.stories
    yesterday = commands.run("briefing yesterday", MEMBER, now=NOW)
    assert isinstance(yesterday, Briefing) and yesterday.window.label == "2005-07-07"
    today = commands.run("today", MEMBER, now=NOW)
    assert isinstance(today, Briefing) and today.window.label == "2005-07-08"
    topical = commands.run("briefing 2005-07-07 London bombings", MEMBER, now=NOW)
    assert isinstance(topical, Briefing) and topical.topics == ("London", "bombings")
    assert len(topical.stories) < len(day.stories)
    undated = commands.run("briefing London", MEMBER, now=NOW)
    assert isinstance(undated, Briefing)
    assert (undated.window.label, undated.topics) == ("2005-07-08", ("London",))


def test_changes_need_a_trusted_caller(make_bot: MakeBot) -> None:
    bot = make_bot()
    commands = Commands(bot)
    for reply in (
        commands.run("subscribe 08:00 Europe/Berlin weekdays", MEMBER, now=NOW),
        commands.run("unsubscribe", MEMBER),
        commands.run("add https://example.com/story", MEMBER),
        commands.run("follow https://example.com/rss.xml", MEMBER),
        commands.run("unfollow https://example.com/rss.xml", MEMBER),
        commands.add_file(MEMBER, "story.txt", b"Title\n\nBody text of the story."),
    ):
        assert reply == Notice((REFUSAL,), problem=True)
    assert bot.subscriptions.all() == [] and bot.store.count_articles() == 0


def test_subscriptions_are_per_channel_and_shape_the_briefing_day(make_bot: MakeBot) -> None:
    commands = Commands(make_bot())
    done = commands.run("subscribe 08:00 Asia/Tokyo weekdays energy, climate", ADMIN, now=NOW)
    assert isinstance(done, Notice) and not done.problem
    assert done.lines[0] == (
        "Scheduled a briefing here: 08:00 Asia/Tokyo on weekdays — topics: energy, climate."
    )
    assert done.lines[1] == "Next one: Monday 2005-07-11 08:00 JST."
    listed = commands.run("subscriptions", MEMBER, now=NOW)
    assert listed == Notice(
        (
            "Briefings here: 08:00 Asia/Tokyo on weekdays — topics: energy, climate.",
            "Next one: Monday 2005-07-11 08:00 JST.",
        )
    )
    # 20:00 UTC on 8 July is already 9 July in Tokyo, the channel's timezone.
    late = commands.run("today", MEMBER, now=datetime(2005, 7, 8, 20, tzinfo=UTC))
    assert isinstance(late, Briefing) and late.window.label == "2005-07-09"
    elsewhere = Caller(platform="slack", channel="C2", user="U1", trusted=False)
    assert "no scheduled briefing" in commands.subscriptions(elsewhere).text
    bad = commands.run("subscribe 25:00 Mars/Base", ADMIN, now=NOW)
    assert isinstance(bad, Notice) and bad.problem
    assert commands.unsubscribe(ADMIN).lines == (
        "Stopped the scheduled briefings in this channel.",
    )


def test_add_explains_what_it_needs(make_bot: MakeBot) -> None:
    commands = Commands(make_bot())
    assert "Give a URL" in commands.add(ADMIN, "").text
    assert "is not a web address" in commands.add(ADMIN, "example.com/story").text
    assert "Give the feed's address" in commands.follow(ADMIN, "rss").text
    pasted = commands.run(
        "add Harbour reopens\nThe city harbour reopened on Monday after a month of repairs.", ADMIN
    )
    assert pasted == Notice(("Added “Harbour reopens” (unknown source, undated)",))
    again = commands.run(
        "add Harbour reopens\nThe city harbour reopened on Monday after a month of repairs.", ADMIN
    )
    assert isinstance(again, Notice) and again.text.startswith("Already have “Harbour reopens”")


def test_briefings_of_the_first_and_last_representable_days_are_empty(
    sample_bot: Briefbot,
) -> None:
    commands = Commands(sample_bot)
    for day in ("9999-12-31", "0001-01-01"):
        briefing = commands.run(f"briefing {day}", MEMBER, now=NOW)
        assert isinstance(briefing, Briefing) and briefing.window.label == day
        assert briefing.stories == []
