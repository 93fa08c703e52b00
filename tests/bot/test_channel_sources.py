"""Per-channel sources: ``sources <names…>`` limits what a channel's answers, briefings and
timelines quote; ``sources all`` lifts it; other channels are untouched. Through the commands,
the scheduler, Slack's real dispatch and Discord's real command tree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import discord

from bot.adapters.discord import DiscordAdapter
from bot.commands import REFUSAL
from bot.replies import Caller, Notice
from bot.scheduler import BriefingScheduler
from bot.services.ask import Answer
from bot.services.briefing import Briefing
from bot.subscriptions import from_words
from bot.wiring import Briefbot
from tests.articles import DAY, OTHERS, VOLCANO
from tests.bot.adapters.test_discord import adapter_for as discord_adapter
from tests.bot.adapters.test_discord import invoke, refused
from tests.bot.adapters.test_discord import run as run_discord
from tests.conftest import MakeBot
from tests.discord_harness import CHANNEL_ID, FakeDiscord, option, slash_command
from tests.slack_harness import (
    adapter_for as slack_adapter,
)
from tests.slack_harness import (
    event_body,
    eventually,
    http_mode,
    idle,
    mention,
    send_command,
    send_event,
    texts,
)
from tests.slack_harness import (
    run as run_slack,
)
from tests.slack_mock import MockSlack

ADMIN = Caller(platform="slack", channel="C1", user="UADMIN", trusted=True)
MEMBER = Caller(platform="slack", channel="C1", user="UMEMBER", trusted=False)
ELSEWHERE = Caller(platform="slack", channel="C2", user="UADMIN", trusted=True)
LAVA = "Did lava reach Grindavik?"
NOON = datetime(DAY.year, DAY.month, DAY.day, 23, tzinfo=UTC)


def _news(make_bot: MakeBot) -> Briefbot:
    """Three outlets on the eruption, one on interest rates, one on football, all on DAY."""
    bot = make_bot()
    bot.ingest_service.ingest_articles([(a.title, a) for a in VOLCANO + OTHERS])
    return bot


def _quoted_sources(reply: Answer | Notice) -> set[str | None]:
    assert isinstance(reply, Answer) and reply.found, reply
    return {quote.source for quote in reply.quotes}


def _briefed_sources(reply: Briefing | Notice) -> set[str | None]:
    assert isinstance(reply, Briefing), reply
    return {a.source for story in reply.stories for a in story.sources}


def test_a_channel_quotes_only_the_sources_it_chose(make_bot: MakeBot) -> None:
    bot = _news(make_bot)
    commands = bot.commands
    assert len(_quoted_sources(commands.ask(LAVA, caller=ADMIN, now=NOON))) > 1

    [shown] = commands.sources(MEMBER).lines
    assert shown.startswith("This channel quotes every source: ")
    assert "Nordic Wire (1)" in shown and "Sports Desk (1)" in shown

    # Members may look but not choose.
    assert commands.sources(MEMBER, "Nordic Wire") == Notice((REFUSAL,), problem=True)
    assert bot.channel_sources.of("slack", "C1") == ()

    chosen = commands.sources(ADMIN, "nordic wire, MONEY WIRE")  # any case; spelt as stored
    assert not chosen.problem and not chosen.private
    assert chosen.lines == ("Answers and briefings here now quote only Money Wire, Nordic Wire.",)
    assert bot.channel_sources.of("slack", "C1") == ("Money Wire", "Nordic Wire")

    assert _quoted_sources(commands.ask(LAVA, caller=ADMIN, now=NOON)) == {"Nordic Wire"}
    today = commands.briefing(ADMIN, day=DAY.isoformat(), now=NOON)
    assert _briefed_sources(today) == {"Nordic Wire", "Money Wire"}
    timeline = commands.story("Grindavik lava", caller=ADMIN)
    assert _briefed_sources(timeline) == {"Nordic Wire"}

    # Another channel still reads everything, and so does a caller-less (CLI) question.
    assert len(_quoted_sources(commands.ask(LAVA, caller=ELSEWHERE, now=NOON))) > 1
    assert len(_briefed_sources(commands.briefing(ELSEWHERE, day=DAY.isoformat(), now=NOON))) == 5

    assert commands.sources(MEMBER).lines == (
        "This channel quotes only Money Wire, Nordic Wire. sources all lifts that.",
    )
    assert commands.sources(ADMIN, "all").lines == ("This channel quotes every source again.",)
    assert commands.sources(ADMIN, "all").lines == ("This channel already quotes every source.",)
    assert len(_quoted_sources(commands.ask(LAVA, caller=ADMIN, now=NOON))) > 1


def test_nothing_found_within_the_chosen_sources_says_so(make_bot: MakeBot) -> None:
    bot = _news(make_bot)
    bot.commands.sources(ADMIN, "Sports Desk")
    answer = bot.commands.ask(LAVA, caller=ADMIN, now=NOON)
    assert isinstance(answer, Answer) and not answer.found
    assert answer.note is not None
    assert answer.note.endswith("This channel quotes only Sports Desk (sources all lifts that).")

    empty = bot.commands.briefing(ADMIN, day=(DAY + timedelta(days=1)).isoformat(), now=NOON)
    assert isinstance(empty, Briefing)
    assert empty.empty_note.startswith("No Sports Desk articles from ")


def test_names_that_are_no_source_are_refused_with_the_sources_there_are(
    make_bot: MakeBot,
) -> None:
    bot = make_bot()
    assert bot.commands.sources(ADMIN, "TASS").lines == (
        "There are no articles yet, so no sources to choose from.",
    )
    bot.ingest_service.ingest_articles([(a.title, a) for a in VOLCANO + OTHERS])
    refused = bot.commands.sources(ADMIN, "Nordik Wire")
    assert refused.problem and refused.private
    [line] = refused.lines
    assert line.startswith("I have no articles from “Nordik Wire”. Did you mean “Nordic Wire”?")
    assert "Sources: " in line and "Reykjavik Daily (1)" in line
    # One-word names need no commas; a name with spaces among them does.
    assert not bot.commands.sources(ADMIN, "Reuters Nordic").lines[0].startswith("Answers")
    assert bot.channel_sources.of("slack", "C1") == ()


def test_a_scheduled_briefing_keeps_to_its_channels_sources(make_bot: MakeBot) -> None:
    bot = _news(make_bot)
    start = datetime(2024, 5, 10, 23, 30, tzinfo=UTC)
    for channel in ("C1", "C2"):
        bot.subscriptions.subscribe(
            from_words(["23:45", "UTC"], platform="slack", channel=channel, now=start)
        )
    bot.commands.sources(ADMIN, "Sports Desk")
    sent: dict[str, Briefing] = {}
    scheduler = BriefingScheduler(
        bot.subscriptions,
        bot.briefing_service,
        sources=bot.channel_sources,
        senders={"slack": lambda channel, briefing: sent.update({channel: briefing})},
        catch_up=timedelta(hours=6),
        skip_empty=True,
        clock=lambda: start + timedelta(minutes=20),
    )
    assert len(scheduler.run_once()) == 2
    assert _briefed_sources(sent["C1"]) == {"Sports Desk"}
    assert len(_briefed_sources(sent["C2"])) == 5


def test_slack_admins_choose_a_channels_sources_through_the_real_dispatch(
    make_bot: MakeBot, slack: MockSlack
) -> None:
    bot = _news(make_bot)

    async def scenario() -> None:
        adapter = slack_adapter(bot, slack, admins=frozenset({"UADMIN"}))
        async with http_mode(adapter) as client:
            ack = await send_command(client, slack, "sources Nordic Wire", user="USOMEONE")
            assert (await ack.json())["text"].endswith(REFUSAL)
            await send_command(client, slack, "sources Nordic Wire", user="UADMIN")
            [chosen] = await eventually(lambda: slack.responses)
            assert chosen["response_type"] == "in_channel"
            assert chosen["text"] == "Answers and briefings here now quote only Nordic Wire."

            await send_event(client, event_body(mention(LAVA, ts="1700000300.000001")))
            [answer] = await eventually(lambda: slack.posted)
            said = " ".join(texts(answer))
            assert "Nordic Wire" in said
            assert all(name not in said for name in ("Reykjavik Daily", "Atlantic Post"))
            await eventually(idle)

    run_slack(scenario)
    assert bot.channel_sources.of("slack", "C1") == ("Nordic Wire",)


def test_discord_sources_through_the_real_command_tree(make_bot: MakeBot) -> None:
    bot = _news(make_bot)
    manager = discord.Permissions(manage_guild=True)

    async def scenario(adapter: DiscordAdapter, fake: FakeDiscord) -> None:
        [shown] = await invoke(adapter, fake, slash_command("sources"))
        assert "This channel quotes every source: " in shown["content"]
        names = option("names", "Atlantic Post")
        await refused(adapter, fake, slash_command("sources", names))  # at once, privately
        assert bot.channel_sources.of("discord", str(CHANNEL_ID)) == ()
        [chosen] = await invoke(adapter, fake, slash_command("sources", names, permissions=manager))
        assert "now quote only Atlantic Post" in chosen["content"]
        question = option("question", LAVA)
        [answer] = await invoke(adapter, fake, slash_command("ask", question))
        footers = {embed["footer"]["text"].split(" · ")[0] for embed in answer["embeds"]}
        assert footers == {"Atlantic Post"}

    run_discord(discord_adapter(bot), scenario)
