"""The Discord adapter: slash commands and @mentions in, rendered embeds out, over discord.py.

The slash commands are declared on a cog, one method each. Every one is deferred first (Discord
allows 3 seconds), then the service runs in a worker thread, so one slow answer never holds up
anyone else's.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import discord
from discord import app_commands
from discord.ext.commands import Bot, Cog, when_mentioned
from discord.utils import MISSING

from bot import logs
from bot.adapters import text as text_commands
from bot.commands import Commands
from bot.events import SeenEvents
from bot.feedback import FeedbackStore
from bot.rendering.discord import Message, notice_message, reply_messages
from bot.replies import Caller, Notice, Reply
from bot.services.ask import Answer
from bot.settings import DiscordSettings
from bot.subscriptions import split_topics
from bot.timezones import zone_names
from retrieval.window import PERIODS

log = logging.getLogger(__name__)

APOLOGY = "Sorry — something went wrong while answering; please try again."
# Quoted articles and questions may contain @everyone or <@id>; the bot never pings anyone.
NO_MENTIONS = discord.AllowedMentions.none()
TOPIC = "Only stories about this, e.g. energy"

Work = Callable[[Caller], Awaitable[Reply]]


class VoteButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"briefbot:vote:(?P<vote>up|down):(?P<answer>[A-Za-z0-9_-]{1,40})",
):
    """👍 or 👎 under an answer. The answer's id lives in the button's custom id, so a click
    is understood by any replica, after any restart, however old the message."""

    def __init__(self, answer_id: str, *, up: bool) -> None:
        vote = "up" if up else "down"
        super().__init__(
            discord.ui.Button(
                emoji="👍" if up else "👎",
                style=discord.ButtonStyle.secondary,
                custom_id=f"briefbot:vote:{vote}:{answer_id}",
            )
        )
        self.answer_id = answer_id
        self.up = up

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> VoteButton:
        return cls(match["answer"], up=match["vote"] == "up")

    async def callback(self, interaction: discord.Interaction) -> None:
        client = interaction.client
        if isinstance(client, _Bot):
            await client.adapter.vote(interaction, self.answer_id, up=self.up)


def vote_view(answer_id: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(VoteButton(answer_id, up=True))
    view.add_item(VoteButton(answer_id, up=False))
    return view


def _embeds(message: Message) -> list[discord.Embed]:
    return [discord.Embed.from_dict(embed) for embed in message["embeds"]]


async def _apologise(interaction: discord.Interaction) -> None:
    try:
        if interaction.response.is_done():
            await interaction.followup.send(APOLOGY, allowed_mentions=NO_MENTIONS)
        else:
            await interaction.response.send_message(APOLOGY, allowed_mentions=NO_MENTIONS)
    except discord.HTTPException:
        log.exception("could not apologise for a failed Discord interaction")


class SlashCommands(Cog):
    """The slash commands: each method turns its options into one call of :class:`Commands`.

    Those that change what the bot knows or posts (``Who.TRUSTED`` in ``PERMISSIONS``) are
    hidden by default from
    members without Manage Server; :meth:`_respond` still checks each caller, because
    ``BRIEFBOT_ADMINS``, when set, decides instead, and server admins can change who sees what.
    """

    def __init__(self, adapter: DiscordAdapter) -> None:
        self.adapter = adapter
        self.commands = adapter.commands

    @app_commands.command(description="Answer a question with quotes from the articles")
    @app_commands.describe(question="e.g. What did Kim Jong Un inspect in Vladivostok?")
    async def ask(self, interaction: discord.Interaction, question: str) -> None:
        await self._run(
            interaction, lambda caller: self.commands.ask(question, caller=caller), restate=True
        )

    @app_commands.command(description="Today's briefing")
    @app_commands.describe(topic=TOPIC)
    async def today(self, interaction: discord.Interaction, topic: str | None = None) -> None:
        await self._briefing(interaction, None, topic)

    @app_commands.command(description="The briefing of a day or a week")
    @app_commands.describe(date=f"{PERIODS} (default today)", topic=TOPIC)
    async def briefing(
        self, interaction: discord.Interaction, date: str | None = None, topic: str | None = None
    ) -> None:
        await self._briefing(interaction, date, topic)

    @app_commands.command(description="One story's timeline across days")
    @app_commands.describe(words="which story, e.g. London bombings")
    async def story(self, interaction: discord.Interaction, words: str) -> None:
        await self._run(interaction, lambda caller: self.commands.story(words, caller=caller))

    async def _briefing(
        self, interaction: discord.Interaction, date: str | None, topic: str | None
    ) -> None:
        topics = split_topics((topic or "").split())
        await self._run(
            interaction, lambda caller: self.commands.briefing(caller, day=date, topics=topics)
        )

    @app_commands.command(description="Post a briefing to this channel on a schedule")
    @app_commands.describe(
        time="24-hour local time, e.g. 08:00",
        timezone="Area/City, e.g. Europe/Berlin",
        days="daily (default), weekdays, weekends or mon,wed,fri",
        topics="Only stories about these, comma-separated, e.g. climate, energy",
    )
    @app_commands.default_permissions(manage_guild=True)
    async def subscribe(
        self,
        interaction: discord.Interaction,
        time: str,
        timezone: str,
        days: str | None = None,
        topics: str | None = None,
    ) -> None:
        chosen = split_topics((topics or "").split())
        await self._run(
            interaction,
            lambda caller: self.commands.subscribe(
                caller, time=time, timezone=timezone, days=days, topics=chosen
            ),
        )

    @subscribe.autocomplete("timezone")
    async def timezone_names(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        typed = current.strip().lower().replace(" ", "_")
        names = sorted(name for key, name in zone_names().items() if typed in key)
        return [app_commands.Choice(name=name, value=name) for name in names[:25]]

    @app_commands.command(description="Stop this channel's scheduled briefings")
    @app_commands.default_permissions(manage_guild=True)
    async def unsubscribe(self, interaction: discord.Interaction) -> None:
        await self._run(interaction, self.commands.unsubscribe)

    @app_commands.command(description="Show this channel's briefing schedule")
    async def subscriptions(self, interaction: discord.Interaction) -> None:
        await self._run(interaction, self.commands.subscriptions)

    @app_commands.command(description="Add an article: a web address, pasted text or a file")
    @app_commands.describe(
        url="The article's web address",
        title="The title of the pasted text",
        text="The article's text (pasted text needs a title too)",
        attachment="A file: PDF, HTML, Markdown, plain text or JSON",
    )
    @app_commands.default_permissions(manage_guild=True)
    async def add(
        self,
        interaction: discord.Interaction,
        url: str | None = None,
        title: str | None = None,
        text: str | None = None,
        attachment: discord.Attachment | None = None,
    ) -> None:
        if attachment is not None:
            await self._respond(interaction, functools.partial(self._add_file, attachment))
            return
        # Discord options are single lines, so the title of pasted text has its own option.
        if text and not url:
            await self._run(
                interaction, lambda caller: self.commands.add_text(caller, text=text, title=title)
            )
            return
        await self._run(interaction, lambda caller: self.commands.add_url(caller, url or ""))

    async def _add_file(self, attachment: discord.Attachment, caller: Caller) -> Notice:
        if refusal := self.commands.too_large(attachment.filename, attachment.size):
            return refusal
        data = await attachment.read()
        return await asyncio.to_thread(self.commands.add_file, caller, attachment.filename, data)

    @app_commands.command(description="Follow a feed and post its new entries to a channel")
    @app_commands.describe(
        feed_url="A feed or a site that advertises one, e.g. https://example.com/rss.xml",
        channel="Where to post new entries (default: this channel)",
        about="Only entries about these words, e.g. climate",
    )
    @app_commands.default_permissions(manage_guild=True)
    async def follow(
        self,
        interaction: discord.Interaction,
        feed_url: str,
        channel: discord.TextChannel | None = None,
        about: str | None = None,
    ) -> None:
        target = str(channel.id) if channel else None
        await self._run(
            interaction,
            lambda caller: self.commands.follow(
                caller, feed_url, channel=target, words=about or ""
            ),
        )

    @app_commands.command(description="Post each new article about some words in this channel")
    @app_commands.describe(words="e.g. Valencia floods")
    @app_commands.default_permissions(manage_guild=True)
    async def alert(self, interaction: discord.Interaction, words: str) -> None:
        await self._run(interaction, lambda caller: self.commands.alert(caller, words))

    @app_commands.command(description="This channel's alerts and feeds, with their ids")
    async def alerts(self, interaction: discord.Interaction) -> None:
        await self._run(interaction, self.commands.alerts)

    @app_commands.command(description="Stop an alert or a feed's posts in this channel")
    @app_commands.describe(alert="The id /alerts shows")
    @app_commands.default_permissions(manage_guild=True)
    async def unalert(self, interaction: discord.Interaction, alert: int) -> None:
        await self._run(interaction, lambda caller: self.commands.unalert(caller, str(alert)))

    @app_commands.command(description="Stop following a feed")
    @app_commands.describe(feed_url="The feed's address, as /feeds lists it")
    @app_commands.default_permissions(manage_guild=True)
    async def unfollow(self, interaction: discord.Interaction, feed_url: str) -> None:
        await self._run(interaction, lambda caller: self.commands.unfollow(caller, feed_url))

    @app_commands.command(description="List the followed feeds")
    async def feeds(self, interaction: discord.Interaction) -> None:
        await self._run(interaction, lambda _: self.commands.feeds())

    @app_commands.command(description="The newest articles, with their ids")
    @app_commands.describe(source="Only articles from this source, e.g. TASS")
    async def articles(self, interaction: discord.Interaction, source: str | None = None) -> None:
        await self._run(interaction, lambda _: self.commands.articles(source or ""))

    @app_commands.command(description="Delete an article so it is never quoted again")
    @app_commands.describe(article="The article's id (see /articles) or its web address")
    @app_commands.default_permissions(manage_guild=True)
    async def remove(self, interaction: discord.Interaction, article: str) -> None:
        await self._run(interaction, lambda caller: self.commands.remove(caller, article))

    @app_commands.command(description="Show or choose the only sources quoted in this channel")
    @app_commands.describe(
        names="Sources, comma-separated, e.g. BBC News, TASS; all for every source (admins)"
    )
    async def sources(self, interaction: discord.Interaction, names: str | None = None) -> None:
        await self._run(interaction, lambda caller: self.commands.sources(caller, names or ""))

    @app_commands.command(name="help", description="What briefbot can do, with examples")
    async def help_(self, interaction: discord.Interaction) -> None:
        await self._run(interaction, lambda _: self.commands.help())

    async def _run(
        self,
        interaction: discord.Interaction,
        call: Callable[[Caller], Reply],
        *,
        restate: bool = False,
    ) -> None:
        """Respond with what ``call`` returns, called on a worker thread."""
        await self._respond(
            interaction, lambda caller: asyncio.to_thread(call, caller), restate=restate
        )

    async def _respond(
        self,
        interaction: discord.Interaction,
        work: Work,
        *,
        restate: bool = False,
    ) -> None:
        """Defer, do the work, send the reply as follow-ups — or an apology if anything fails.

        A command that changes what the bot knows or posts is refused at once, privately, when
        the caller may not use it: nothing is deferred, fetched or said in the channel.
        """
        if not self.adapter.seen.first_time(f"discord/interaction/{interaction.id}"):
            return  # another replica on the same token took it
        with logs.request_context(
            platform="discord", channel=str(interaction.channel_id), request=str(interaction.id)
        ):
            caller = self._caller(interaction)
            command = interaction.command.name if interaction.command else ""
            options = " ".join(str(value) for _, value in interaction.namespace if value)
            if refusal := self.commands.refusal(command, caller, options):
                await interaction.response.send_message(
                    notice_message(refusal)["content"], ephemeral=True, allowed_mentions=NO_MENTIONS
                )
                return
            await interaction.response.defer(thinking=True)
            try:
                reply = await work(caller)
                messages = reply_messages(reply, restate=restate)
                view = await self.adapter.rating_view(reply, caller.channel)
                for number, message in enumerate(messages, start=1):
                    await interaction.followup.send(
                        message["content"],
                        embeds=_embeds(message),
                        allowed_mentions=NO_MENTIONS,
                        view=view if view and number == len(messages) else MISSING,
                    )
            except Exception:
                log.exception("the Discord command /%s failed", command or "?")
                await _apologise(interaction)

    def _caller(self, interaction: discord.Interaction) -> Caller:
        return Caller(
            platform="discord",
            channel=str(interaction.channel_id),
            user=str(interaction.user.id),
            trusted=self.adapter.trusted(interaction.user.id, interaction.permissions),
        )


class _Bot(Bot):
    """The gateway connection, with slash commands only: messages go to the adapter's mention
    handler instead of discord.py's prefix commands."""

    def __init__(self, adapter: DiscordAdapter, *, intents: discord.Intents) -> None:
        # briefbot never joins voice, so discord.py's warnings about voice libraries, given once
        # when a client is made, are noise.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        # The prefix is never read (on_message below skips prefix commands); a mention is the
        # one that doesn't make discord.py warn about the Message Content intent.
        super().__init__(
            command_prefix=when_mentioned,
            help_command=None,
            intents=intents,
            allowed_mentions=NO_MENTIONS,
        )
        self.adapter = adapter

    async def setup_hook(self) -> None:
        # Runs once after login and before the gateway connects: commands exist before use.
        await self.add_cog(SlashCommands(self.adapter))
        self.add_dynamic_items(VoteButton)
        await self.adapter.sync_commands()

    async def on_message(self, message: discord.Message, /) -> None:
        await self.adapter.on_message(message)


class DiscordAdapter:
    """Discord in front of :class:`Commands`: slash commands, @mentions and scheduled posts."""

    def __init__(
        self,
        commands: Commands,
        *,
        settings: DiscordSettings,
        admins: frozenset[str],
        seen: SeenEvents,
        feedback: FeedbackStore,
    ) -> None:
        if settings.token is None:
            raise ValueError("the Discord adapter needs a bot token")
        self.commands = commands
        self.seen = seen
        self.feedback = feedback
        self.settings = settings
        self.admins = admins
        intents = discord.Intents.default()
        # Privileged, and not needed for @mentions: Discord delivers the content of messages that
        # mention the app without it. Only asked for when the settings say so.
        intents.message_content = settings.message_content
        self.client = _Bot(self, intents=intents)
        self.tree = self.client.tree
        self.tree.error(self._on_tree_error)

    async def start(self) -> None:
        """Log in, sync the slash commands and stay connected until :meth:`close`."""
        assert self.settings.token is not None  # checked in __init__
        await self.client.start(self.settings.token.get_secret_value())

    async def close(self) -> None:
        await self.client.close()

    async def connected(self) -> bool:
        """Logged in and on the gateway: what the health check reports."""
        return self.client.is_ready() and not self.client.is_closed()

    async def sync_commands(self) -> None:
        """Guild commands update at once (for development); global ones reach every server."""
        if self.settings.guild_id is None:
            synced = await self.tree.sync()
            log.info("synced %d Discord slash commands globally", len(synced))
            return
        guild = discord.Object(id=self.settings.guild_id)
        self.tree.copy_global_to(guild=guild)
        synced = await self.tree.sync(guild=guild)
        log.info("synced %d Discord slash commands to server %s", len(synced), guild.id)

    async def post(self, channel_id: str, reply: Reply) -> None:
        """A scheduled briefing or an alert, posted to a channel (or thread) the bot can
        write in."""
        channel = self.client.get_partial_messageable(int(channel_id))
        for message in reply_messages(reply):
            await channel.send(
                message["content"], embeds=_embeds(message), allowed_mentions=NO_MENTIONS
            )

    async def rating_view(self, reply: Reply, channel: str) -> discord.ui.View | None:
        """The 👍 / 👎 buttons for an answer that quotes something, once it is recorded."""
        if not (isinstance(reply, Answer) and reply.found):
            return None
        answer_id = await asyncio.to_thread(
            self.feedback.record, reply, platform="discord", channel=channel
        )
        return vote_view(answer_id)

    async def vote(self, interaction: discord.Interaction, answer_id: str, *, up: bool) -> None:
        """A click on 👍 or 👎: the person's vote, replacing an earlier one; thanked privately."""
        counted = await asyncio.to_thread(
            self.feedback.vote, answer_id, user=str(interaction.user.id), up=up
        )
        text = (
            f"Thanks — you rated this answer {'👍' if up else '👎'}. Click the other to change it."
            if counted
            else "That answer can no longer be rated."
        )
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    def trusted(self, user_id: int, permissions: discord.Permissions) -> bool:
        """The configured admins when there are any; otherwise members with Manage Server.

        Outside a server (DMs) ``permissions`` are empty, so only admins are trusted there.
        """
        if self.admins:
            return str(user_id) in self.admins
        return permissions.manage_guild

    async def _on_tree_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        """Failures outside a command's own work (bad options, a failed defer) still apologise."""
        log.error("a Discord interaction failed", exc_info=error)
        await _apologise(interaction)

    async def on_message(self, message: discord.Message) -> None:
        """Answer a message that mentions the bot, once, as a reply; other bots are ignored."""
        me = self.client.user
        # ``mentions`` also holds the bot when someone replies to its answer with a ping.
        if me is None or message.author.bot or all(u.id != me.id for u in message.mentions):
            return
        if not self.seen.first_time(f"discord/message/{message.id}"):
            return  # every replica on the same token gets the message; one answers
        with logs.request_context(
            platform="discord", channel=str(message.channel.id), request=str(message.id)
        ):
            text = " ".join(re.sub(rf"<@!?{me.id}>", " ", message.content).split())
            # A reply to one of the bot's answers continues that answer's conversation.
            replied_to = message.reference.message_id if message.reference else None
            conversation = ("discord", str(replied_to)) if replied_to else None
            reply: Reply | None = None
            view = None
            try:
                caller = Caller(
                    platform="discord",
                    channel=str(message.channel.id),
                    user=str(message.author.id),
                    trusted=False,  # a mention only asks; changes are slash commands
                )
                reply = await asyncio.to_thread(
                    text_commands.converse, self.commands, text, caller, conversation=conversation
                )
                messages = reply_messages(reply)
                view = await self.rating_view(reply, str(message.channel.id))
            except Exception:
                log.exception("answering a Discord mention failed")
                messages = [{"content": APOLOGY, "embeds": []}]
            first, *rest = messages
            sent = await message.reply(
                first["content"],
                embeds=_embeds(first),
                allowed_mentions=NO_MENTIONS,
                view=view if view and not rest else MISSING,
            )
            if reply is not None:
                await asyncio.to_thread(self.commands.remember, ("discord", str(sent.id)), reply)
            for extra in rest:
                await message.channel.send(
                    extra["content"], embeds=_embeds(extra), allowed_mentions=NO_MENTIONS
                )
