"""The Discord adapter, driven through discord.py's real gateway parsers and command tree, with
every reply recorded by a stand-in for Discord's HTTP API on loopback."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import discord
import pytest
from discord import app_commands
from pydantic import SecretStr

from bot.adapters.discord import APOLOGY, DiscordAdapter
from bot.commands import PERMISSIONS, REFUSAL, Who
from bot.events import SeenEvents
from bot.feedback import FeedbackStore
from bot.rendering import discord as render
from bot.settings import DiscordSettings
from bot.wiring import Briefbot
from corpus.model import Article
from retrieval.embedding import Embedder
from retrieval.window import Window
from tests.articles import ARTICLE_PAGE, KIM, LONDON, NEXT, VOLCANO
from tests.conftest import MakeBot, chat_file, isolated_settings
from tests.discord_harness import (
    APP_ID,
    BOT_USER,
    CHANNEL_ID,
    GUILD_ID,
    MANAGE_GUILD,
    MEMBER,
    NO_PINGS,
    FakeDiscord,
    attachment,
    button_click,
    channel_message,
    connected,
    followups,
    gateway_event,
    option,
    slash_command,
    user,
)
from tests.http_server import LoopbackServer, Reply

ARTICLE = ARTICLE_PAGE.read_bytes()
HTML = {"Content-Type": "text/html; charset=utf-8"}
# Discord's "ping nobody": no parsed mentions, and replied_user is false unless sent as true.
BOLD = re.compile(r"\*\*[^*]+\*\*")
# What a synced command's default_member_permissions holds when only Manage Server may see it.
MANAGE_SERVER_ONLY = discord.Permissions(manage_guild=True).value
CHANGING = {name for name, who in PERMISSIONS.items() if who is Who.TRUSTED}

Scenario = Callable[[DiscordAdapter, FakeDiscord], Awaitable[None]]


def adapter_for(
    bot: Briefbot,
    *,
    admins: frozenset[str] = frozenset(),
    guild_id: int | None = None,
    feedback: FeedbackStore | None = None,
) -> DiscordAdapter:
    settings = DiscordSettings(token=SecretStr("test-token"), guild_id=guild_id)
    scratch = chat_file()
    return DiscordAdapter(
        bot.commands,
        settings=settings,
        admins=admins,
        seen=SeenEvents(scratch),
        feedback=feedback or FeedbackStore(scratch),
    )


def run(adapter: DiscordAdapter, scenario: Scenario) -> None:
    """Log the adapter in to a fresh fake Discord and play ``scenario`` against it."""

    async def main() -> None:
        async with connected(adapter) as fake:
            await scenario(adapter, fake)

    asyncio.run(main())


async def invoke(
    adapter: DiscordAdapter, fake: FakeDiscord, payload: dict[str, Any]
) -> list[dict[str, Any]]:
    """Run a slash command; check that it was deferred before anything else was sent, and
    return the bodies of its follow-up messages."""
    await gateway_event(adapter, "INTERACTION_CREATE", payload)
    return followups(fake, payload)


async def refused(adapter: DiscordAdapter, fake: FakeDiscord, payload: dict[str, Any]) -> None:
    """Run a slash command the caller may not use: one private refusal, nothing deferred."""
    await gateway_event(adapter, "INTERACTION_CREATE", payload)
    [call] = [c for c in fake.calls if payload["token"] in c.path]
    assert call.path == f"/interactions/{payload['id']}/{payload['token']}/callback"
    assert call.body["type"] == 4  # an immediate message…
    assert call.body["data"]["flags"] == 64  # …that only the caller sees
    assert call.body["data"]["content"] == f"⚠️ {REFUSAL}"


def embed_size(embed: dict[str, Any]) -> int:
    return sum(
        len(text)
        for text in (
            embed.get("title", ""),
            embed.get("description", ""),
            embed.get("footer", {}).get("text", ""),
        )
    )


def assert_within_limits(message: dict[str, Any]) -> None:
    assert len(message["content"] or "") <= render.MAX_CONTENT
    assert len(message["embeds"]) <= render.MAX_EMBEDS
    assert all(len(e["description"]) <= render.MAX_DESCRIPTION for e in message["embeds"])
    assert sum(embed_size(e) for e in message["embeds"]) <= render.MAX_TOTAL


def test_ask_is_deferred_then_answered_with_the_quoted_passage(sample_bot: Briefbot) -> None:
    async def scenario(adapter: DiscordAdapter, fake: FakeDiscord) -> None:
        # Logging in ran setup_hook, which synced every command globally (no guild configured).
        [sync] = fake.sent("PUT", "/applications/")
        assert sync.path == f"/applications/{APP_ID}/commands"
        assert {c["name"] for c in sync.body} == {c.name for c in adapter.tree.get_commands()}

        [message] = await invoke(adapter, fake, slash_command("ask", option("question", KIM)))
        assert message["content"] == f"**Q:** {KIM}"
        top = message["embeds"][0]
        assert top["title"].startswith("Tokyo, Seoul, Washington concerned")
        assert top["footer"]["text"] == "TASS · 2023-09-19"
        assert "url" not in top  # the sample article has no link; see the /add test for one
        lines = top["description"].split("\n")
        assert all(line.startswith("> ") for line in lines)
        assert any("Marshal Shaposhnikov" in bold for bold in BOLD.findall(top["description"]))
        assert_within_limits(message)

    run(adapter_for(sample_bot), scenario)


def test_commands_that_change_things_are_hidden_from_members_by_default(
    make_bot: MakeBot,
) -> None:
    async def scenario(adapter: DiscordAdapter, fake: FakeDiscord) -> None:
        # What Discord is told at sync decides who sees a command in the server's command list.
        [sync] = fake.sent("PUT", "/applications/")
        hidden = {c["name"]: c["default_member_permissions"] for c in sync.body}
        assert {name for name, permissions in hidden.items() if permissions} == CHANGING
        assert {hidden[name] for name in CHANGING} == {MANAGE_SERVER_ONLY}
        assert hidden["help"] is None and hidden["ask"] is None
        assert all(c["dm_permission"] for c in sync.body)  # DMs still offer every command

    run(adapter_for(make_bot()), scenario)


def test_the_adapter_silences_discord_py_s_voice_warnings_when_it_is_made(
    make_bot: MakeBot, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # As on a machine without PyNaCl and davey, where the first discord.py client warns; the
    # adapter, not the import of its module, switches that off.
    monkeypatch.setattr(discord.VoiceClient, "warn_nacl", True)
    monkeypatch.setattr(discord.VoiceClient, "warn_dave", True)
    with caplog.at_level(logging.WARNING, logger="discord"):
        adapter_for(make_bot())
    assert not [r for r in caplog.records if "voice" in r.getMessage()]


def test_outside_text_is_escaped_line_by_line_with_discord_py_s_escapes() -> None:
    text = "@everyone see [x](https://e.vil/a_b) *y*\n\n- item\n  - sub <#123>"
    assert render.escape(text) == (
        # escape_mentions breaks the ping; the brackets and the markdown inside them are escaped
        # one by one; the link is left as it is, underscores and all.
        "@\u200beveryone see \\[x\\](https://e.vil/a_b) \\*y\\*\n"
        # discord.py alone would escape the blank line before the dash, and put the backslash
        # of an indented dash before the indent, where Discord shows it.
        "\n\\- item\n  \\- sub \\<\\#123\\>"
    )


def test_only_members_with_manage_server_add_articles(
    make_bot: MakeBot, http_server: LoopbackServer
) -> None:
    bot = make_bot(ingest={"allow_private_networks": True, "timeout_seconds": 2.0})
    bot.prepare()
    http_server.routes["/news/glacier"] = Reply(headers=HTML, body=ARTICLE)
    url = http_server.url("/news/glacier")

    async def scenario(adapter: DiscordAdapter, fake: FakeDiscord) -> None:
        await refused(adapter, fake, slash_command("add", option("url", url)))
        assert bot.store.count_articles() == 0
        assert http_server.requests == []  # refused before anything was fetched

        add = slash_command("add", option("url", url), permissions=MANAGE_GUILD)
        [added] = await invoke(adapter, fake, add)
        assert added["content"].startswith("Added “Glacier retreat speeds up in the Alps”")
        assert bot.store.count_articles() == 1

        # Discord options are single lines: pasted text comes with a title option of its own.
        pasted = [option("title", "Ferry strike ends"), option("text", "The ferry strike ended.")]
        [typed] = await invoke(
            adapter, fake, slash_command("add", *pasted, permissions=MANAGE_GUILD)
        )
        today = datetime.now(UTC).date()  # pasted text is dated when it is added
        assert typed["content"] == f"Added “Ferry strike ends” (unknown source, {today})"
        assert bot.store.count_articles() == 2

        question = option("question", "How much ice did Swiss glaciers lose?")
        [answer] = await invoke(adapter, fake, slash_command("ask", question))
        top = answer["embeds"][0]
        assert top["url"] == url
        assert top["title"] == "Glacier retreat speeds up in the Alps"
        assert top["footer"]["text"].endswith("2024-08-14")

    run(adapter_for(bot), scenario)


def test_attachments_are_checked_before_they_are_downloaded(make_bot: MakeBot) -> None:
    bot = make_bot(ingest={"max_file_mb": 0.001})
    bot.prepare()
    text = b"Harbour ferry returns\n\nThe harbour ferry is back in service after repairs."

    async def scenario(adapter: DiscordAdapter, fake: FakeDiscord) -> None:
        def payload(name: str, size: int, *, trusted: bool) -> dict[str, Any]:
            file = attachment(name, size, fake.file_url(name, text))
            return slash_command(
                "add",
                option("attachment", file["id"], kind=11),
                resolved={"attachments": {file["id"]: file}},
                permissions=MANAGE_GUILD if trusted else MEMBER,
            )

        async def add(name: str, size: int, *, trusted: bool) -> str:
            [message] = await invoke(adapter, fake, payload(name, size, trusted=trusted))
            return str(message["content"])

        await refused(adapter, fake, payload("ferry.txt", len(text), trusted=False))
        too_big = await add("big.txt", 2_000, trusted=True)
        assert too_big == "⚠️ Couldn't add big.txt: the file is larger than 0.001 MB"
        assert fake.sent("GET", "/attachments/") == []
        assert bot.store.count_articles() == 0

        added = await add("ferry.txt", len(text), trusted=True)
        assert added.startswith("Added “Harbour ferry returns”")
        assert [c.path for c in fake.sent("GET", "/attachments/")] == ["/attachments/ferry.txt"]
        assert bot.store.count_articles() == 1

    run(adapter_for(bot), scenario)


def test_admin_ids_decide_who_is_trusted_when_set(make_bot: MakeBot) -> None:
    bot = make_bot()
    channel = str(CHANNEL_ID)

    async def scenario(adapter: DiscordAdapter, fake: FakeDiscord) -> None:
        # With a server configured, commands are synced to it, where they show up at once —
        # the changing ones still hidden from members without Manage Server.
        [sync] = fake.sent("PUT", "/applications/")
        assert sync.path == f"/applications/{APP_ID}/guilds/{GUILD_ID}/commands"
        hidden = {c["name"] for c in sync.body if c["default_member_permissions"]}
        assert hidden == CHANGING

        schedule = [option("time", "08:00"), option("timezone", "Europe/Berlin")]
        moderator = slash_command("subscribe", *schedule, permissions=MANAGE_GUILD)
        await refused(adapter, fake, moderator)
        assert bot.subscriptions.get("discord", channel) is None

        days_and_topics = [option("days", "mon, wed"), option("topics", "climate, energy")]
        admin = slash_command("subscribe", *schedule, *days_and_topics, user_id=4242)
        [scheduled] = await invoke(adapter, fake, admin)
        assert scheduled["content"].startswith(
            "Scheduled a briefing here: 08:00 Europe/Berlin on Mon, Wed — topics: climate, energy."
        )
        sub = bot.subscriptions.get("discord", channel)
        assert sub is not None and sub.created_by == "4242"

        [listed] = await invoke(adapter, fake, slash_command("subscriptions"))
        assert listed["content"].startswith("Briefings here: 08:00 Europe/Berlin on Mon, Wed")

        # In a DM there is no server to hold permissions: only the admin ids count.
        stranger = slash_command("unsubscribe", user_id=7, guild=False)
        await refused(adapter, fake, stranger)
        admin_dm = slash_command("unsubscribe", user_id=4242, guild=False)
        [nothing] = await invoke(adapter, fake, admin_dm)
        assert nothing["content"] == "⚠️ This channel has no scheduled briefing."
        assert bot.subscriptions.get("discord", channel) is not None

    run(adapter_for(bot, admins=frozenset({"4242"}), guild_id=GUILD_ID), scenario)


def test_timezones_are_suggested_while_typing(make_bot: MakeBot) -> None:
    async def scenario(adapter: DiscordAdapter, fake: FakeDiscord) -> None:
        payload = slash_command(
            "subscribe",
            option("time", "08:00"),
            option("timezone", "berl", focused=True),
            autocomplete=True,
        )
        await gateway_event(adapter, "INTERACTION_CREATE", payload)
        [callback] = [c for c in fake.calls if payload["token"] in c.path]
        assert callback.body["type"] == 8  # autocomplete result
        choices = callback.body["data"]["choices"]
        assert {"name": "Europe/Berlin", "value": "Europe/Berlin"} in choices

    run(adapter_for(make_bot()), scenario)


def long_article(number: int, title: str, answer: str, words: list[list[str]]) -> Article:
    """An article whose one passage is far longer than a Discord embed holds."""
    combos = itertools.islice(itertools.cycle(itertools.product(*words)), 60)
    filler = [
        f"The {vessel} carrying {cargo} passed {place} on day {day} of the month, pilots said."
        for day, (vessel, cargo, place) in enumerate(combos, start=1)
    ]
    return Article(
        title=title,
        source=f"Outlet {number}",
        url=f"https://news.example/canal-{number}",
        published_at=datetime(2024, 2, 1, 12, tzinfo=UTC),
        text=" ".join([*filler[:30], answer, *filler[30:]]),
    )


CANAL = [
    long_article(
        1,
        "Red Sea attacks cut canal traffic",
        "Toll revenue at the canal fell 40 percent in January, the canal authority said.",
        [["container ship", "tanker"], ["grain", "crude oil", "steel"], ["Port Said", "Ismailia"]],
    ),
    long_article(
        2,
        "Egypt's economy feels the shipping slump",
        "Canal toll revenue dropped by about 40 percent in January compared with a year earlier.",
        [["freighter", "LNG vessel", "reefer"], ["fertiliser", "bananas"], ["Suez", "El Ferdan"]],
    ),
    long_article(
        3,
        "Insurers raise war-risk premiums for canal route",
        "In January the canal's toll revenue was down 40 percent, insurers noted.",
        [["feeder ship", "ro-ro ferry"], ["machinery", "coffee", "timber"], ["Kabrit", "Timsah"]],
    ),
]


def test_long_passages_are_trimmed_to_discord_limits_around_the_answer(
    make_bot: MakeBot,
) -> None:
    # Passages of up to 1,000 words, and every match quoted however weak: three long quotes.
    bot = make_bot(retrieval={"chunk_words": 1000, "min_score": 0.0, "follow_ratio": 0.0})
    assert len(bot.ingest_service.ingest_articles([(a.title, a) for a in CANAL]).added) == 3
    question = "How much did canal toll revenue fall in January?"
    quotes = bot.ask_service.ask(question).quotes
    assert len(quotes) == 3
    assert sum(len(q.text) for q in quotes) > render.MAX_TOTAL  # so they must be trimmed

    async def scenario(adapter: DiscordAdapter, fake: FakeDiscord) -> None:
        asked = slash_command("ask", option("question", question))
        [message] = await invoke(adapter, fake, asked)
        embeds = message["embeds"]
        assert len(embeds) == 3
        assert_within_limits(message)
        for embed in embeds:
            [bold] = BOLD.findall(embed["description"])
            assert "40 percent" in bold
            assert "…" in embed["description"]  # cut around the answering sentence
            assert embed["url"].startswith("https://news.example/canal-")

    run(adapter_for(bot), scenario)


def test_a_mention_is_answered_once_in_a_reply_and_bots_are_ignored(
    sample_bot: Briefbot,
) -> None:
    me = f"<@{BOT_USER['id']}>"

    async def scenario(adapter: DiscordAdapter, fake: FakeDiscord) -> None:
        other_bot = channel_message(f"{me} {KIM}", author=user(55, bot=True), mentions=[BOT_USER])
        unaddressed = channel_message(KIM, author=user(42), mentions=[])
        question = channel_message(f"{me} {KIM}", author=user(42), mentions=[BOT_USER])
        help_ = channel_message(f"{me} help", author=user(43), mentions=[BOT_USER])
        for message in (other_bot, unaddressed, question, help_):
            await gateway_event(adapter, "MESSAGE_CREATE", message)

        answer, help_reply = [c.body for c in fake.sent("POST", "/channels/")]
        assert [c.path for c in fake.sent("POST", "/channels/")] == [
            f"/channels/{CHANNEL_ID}/messages"
        ] * 2
        assert str(answer["message_reference"]["message_id"]) == question["id"]
        assert answer["allowed_mentions"] == NO_PINGS
        top = answer["embeds"][0]
        assert any("Marshal Shaposhnikov" in bold for bold in BOLD.findall(top["description"]))
        assert top["footer"]["text"] == "TASS · 2023-09-19"
        assert str(help_reply["message_reference"]["message_id"]) == help_["id"]
        assert "`/ask <question>`" in help_reply["content"]

    run(adapter_for(sample_bot), scenario)


def test_a_reply_to_an_answer_is_read_as_a_follow_up(sample_bot: Briefbot) -> None:
    me = f"<@{BOT_USER['id']}>"

    async def scenario(adapter: DiscordAdapter, fake: FakeDiscord) -> None:
        asked = channel_message(f"{me} {LONDON}", author=user(42), mentions=[BOT_USER])
        await gateway_event(adapter, "MESSAGE_CREATE", asked)
        [answer] = fake.posted
        follow_up = channel_message(
            f"{me} {NEXT}", author=user(42), mentions=[BOT_USER], reply_to=answer["id"]
        )
        await gateway_event(adapter, "MESSAGE_CREATE", follow_up)
        # The same words not replying to an answer have nothing to refer to.
        alone = channel_message(f"{me} {NEXT}", author=user(42), mentions=[BOT_USER])
        await gateway_event(adapter, "MESSAGE_CREATE", alone)
        first, later, lone = (json.dumps(c.body) for c in fake.sent("POST", "/channels/"))
        assert "London" in first and "2005-07-07" in first
        # The story's later developments: about London, published after the first answer's.
        assert "London" in later and "2005-07-07" not in later
        assert re.search(r"2005-07-(?:0[89]|[1-3]\d)", later)
        assert "couldn't find anything" in lone

    run(adapter_for(sample_bot), scenario)


def test_help_lists_exactly_the_registered_commands(make_bot: MakeBot) -> None:
    async def scenario(adapter: DiscordAdapter, fake: FakeDiscord) -> None:
        [message] = await invoke(adapter, fake, slash_command("help"))
        listed = set(re.findall(r"`/(\w+)", message["content"]))
        assert listed == {command.name for command in adapter.tree.get_commands()}
        example = "e.g. `/subscribe 08:00 Europe/Berlin weekdays climate, energy`"
        assert example in message["content"]

    run(adapter_for(make_bot()), scenario)


def test_the_day_s_briefing_on_request_and_on_schedule(sample_bot: Briefbot) -> None:
    day = date(2023, 9, 19)
    briefing = sample_bot.briefing_service.brief(Window.day(day, UTC), topics=[], limit=8)
    assert briefing.stories
    expected = render.briefing_messages(briefing)

    async def scenario(adapter: DiscordAdapter, fake: FakeDiscord) -> None:
        asked = slash_command("briefing", option("date", day.isoformat()))
        messages = await invoke(adapter, fake, asked)
        assert [m["content"] for m in messages] == [m["content"] for m in expected]
        assert messages[0]["content"].startswith("**News briefing")
        titles = [e["title"] for m in messages for e in m["embeds"]]
        assert titles == [e["title"] for m in expected for e in m["embeds"]]
        for message in messages:
            assert_within_limits(message)

        await adapter.post("555", briefing)
        posted = fake.sent("POST", "/channels/")
        assert {c.path for c in posted} == {"/channels/555/messages"}
        assert [c.body["content"] for c in posted] == [m["content"] for m in expected]
        assert all(c.body["allowed_mentions"] == NO_PINGS for c in posted)

    run(adapter_for(sample_bot), scenario)


def test_a_week_s_briefing_from_the_date_option(tmp_path: Path, embedder: Embedder) -> None:
    """The date option takes "last week" and "this week" as typed; an empty week names the
    latest day that has articles."""
    wednesday = datetime(2024, 5, 15, 9, tzinfo=UTC)
    bot = Briefbot(
        isolated_settings(data_dir=tmp_path / "data", load_samples=False),
        embedder=embedder,
        clock=lambda: wednesday,
    )
    bot.ingest_service.ingest_articles([(a.title, a) for a in VOLCANO])

    async def scenario(adapter: DiscordAdapter, fake: FakeDiscord) -> None:
        last_week = slash_command("briefing", option("date", "last week"))
        [message] = await invoke(adapter, fake, last_week)
        assert message["content"] == "**News briefing — 2024-05-06 to 2024-05-12**"
        assert "Grindavik" in message["embeds"][0]["title"]
        this_week = slash_command("briefing", option("date", "this week"))
        [empty] = await invoke(adapter, fake, this_week)
        assert empty["content"] == (
            "No articles from 2024-05-13 to 2024-05-15. "
            "The latest are from 2024-05-10 — try: briefing 2024-05-10"
        )
        [command] = [c for c in adapter.tree.get_commands() if c.name == "briefing"]
        assert isinstance(command, app_commands.Command)
        descriptions = {p.name: p.description for p in command.parameters}
        assert descriptions["date"] == (
            "today, yesterday, this week, last week or YYYY-MM-DD (default today)"
        )

    run(adapter_for(bot), scenario)


def test_failures_end_in_an_apology_never_in_silence(
    sample_bot: Briefbot, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(question: str) -> None:
        raise RuntimeError("the index went away")

    async def scenario(adapter: DiscordAdapter, fake: FakeDiscord) -> None:
        monkeypatch.setattr(adapter.commands, "ask", broken)
        [apology] = await invoke(adapter, fake, slash_command("ask", option("question", KIM)))
        assert apology["content"] == APOLOGY

        mention = channel_message(
            f"<@{BOT_USER['id']}> {KIM}", author=user(42), mentions=[BOT_USER]
        )
        await gateway_event(adapter, "MESSAGE_CREATE", mention)
        [reply] = [c.body for c in fake.sent("POST", "/channels/")]
        assert reply["content"] == APOLOGY

        # A command whose options don't match fails in the tree itself, before any defer.
        mismatched = slash_command("ask")
        await gateway_event(adapter, "INTERACTION_CREATE", mismatched)
        [callback] = [c for c in fake.calls if mismatched["token"] in c.path]
        assert callback.body["type"] == 4  # an immediate message rather than a deferral
        assert callback.body["data"]["content"] == APOLOGY

    with caplog.at_level(logging.ERROR, logger="bot.adapters.discord"):
        run(adapter_for(sample_bot), scenario)
    failures = [r for r in caplog.records if r.name == "bot.adapters.discord"]
    assert len(failures) == 3
    assert all(r.exc_info for r in failures)


def test_a_story_timeline_from_the_story_command(tmp_path: Path, embedder: Embedder) -> None:
    """/story words: one embed per article, oldest first, through the real command tree."""
    bot = Briefbot(
        isolated_settings(data_dir=tmp_path / "data", load_samples=False), embedder=embedder
    )
    bot.ingest_service.ingest_articles([(a.title, a) for a in VOLCANO])

    async def scenario(adapter: DiscordAdapter, fake: FakeDiscord) -> None:
        [message] = await invoke(adapter, fake, slash_command("story", option("words", "lava")))
        assert message["content"].startswith("**Story timeline — ")
        assert len(message["embeds"]) == 3
        assert all("2024-05-10 · " in e["title"] for e in message["embeds"])
        [missing] = await invoke(adapter, fake, slash_command("story", option("words", "tennis")))
        assert "couldn't find a story about “tennis”" in missing["content"]

    run(adapter_for(bot), scenario)


def test_a_vote_on_an_answer_is_stored_and_changed_after_a_restart(
    sample_bot: Briefbot, tmp_path: Path
) -> None:
    feedback = FeedbackStore(tmp_path / "feedback.sqlite3")
    answered: list[dict[str, Any]] = []

    async def click(adapter: DiscordAdapter, fake: FakeDiscord, button: int, user: int) -> str:
        [row] = answered[0]["components"]
        custom_id = row["components"][button]["custom_id"]
        message = channel_message("", author=BOT_USER, mentions=[])
        payload = button_click(
            custom_id, message | {"components": answered[0]["components"]}, user_id=user
        )
        await gateway_event(adapter, "INTERACTION_CREATE", payload)
        [call] = [c for c in fake.calls if payload["token"] in c.path]
        assert call.body["type"] == 4 and call.body["data"]["flags"] == 64  # private thanks
        return str(call.body["data"]["content"])

    async def ask_and_vote(adapter: DiscordAdapter, fake: FakeDiscord) -> None:
        [message] = await invoke(adapter, fake, slash_command("ask", option("question", KIM)))
        labels = [b["emoji"]["name"] for b in message["components"][0]["components"]]
        assert labels == ["👍", "👎"]
        answered.append(message)
        assert await click(adapter, fake, 0, user=42) == (
            "Thanks — you rated this answer 👍. Click the other to change it."
        )
        assert feedback.counts() == {"up": 1, "down": 0}

    async def change_after_restart(adapter: DiscordAdapter, fake: FakeDiscord) -> None:
        await click(adapter, fake, 1, user=42)
        assert feedback.counts() == {"up": 0, "down": 1}

    run(adapter_for(sample_bot, feedback=feedback), ask_and_vote)
    run(adapter_for(sample_bot, feedback=feedback), change_after_restart)  # a new process
    [rated] = feedback.export()
    assert rated["question"] == KIM and rated["wrong_urls"] == [] and rated["urls"] == []
