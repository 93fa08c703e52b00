"""The Discord adapter: slash commands and @mentions in, rendered embeds out, over discord.py.

Every slash command is deferred first (Discord allows 3 seconds), then the service runs in a
worker thread, so one slow answer never holds up anyone else's.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import Awaitable, Callable

import discord
from discord import app_commands

from bot.commands import CHANGING, Caller, Commands, Notice, Reply, refused
from bot.rendering.discord import Message, briefing_messages, notice_message, reply_messages
from bot.services.briefing import Briefing
from bot.settings import DiscordSettings
from bot.subscriptions import split_topics, zone_names

log = logging.getLogger(__name__)

APOLOGY = "Sorry — something went wrong while answering; please try again."
# Quoted articles and questions may contain @everyone or <@id>; the bot never pings anyone.
NO_MENTIONS = discord.AllowedMentions.none()
# briefbot never joins voice, so discord.py's start-up warnings about voice libraries are noise.
discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False

Work = Callable[[Caller], Awaitable[Reply]]


def _embeds(message: Message) -> list[discord.Embed]:
    return [discord.Embed.from_dict(embed) for embed in message["embeds"]]


class _Client(discord.Client):
    """The gateway connection; it hands its two events to the adapter."""

    def __init__(self, adapter: DiscordAdapter, *, intents: discord.Intents) -> None:
        super().__init__(intents=intents, allowed_mentions=NO_MENTIONS)
        self.adapter = adapter

    async def setup_hook(self) -> None:
        # Runs once after login and before the gateway connects: commands exist before use.
        await self.adapter.sync_commands()

    async def on_message(self, message: discord.Message) -> None:
        await self.adapter.on_message(message)


class DiscordAdapter:
    """Discord in front of :class:`Commands`: slash commands, @mentions and scheduled posts."""

    def __init__(
        self,
        commands: Commands,
        *,
        settings: DiscordSettings,
        admins: frozenset[str],
    ) -> None:
        if settings.token is None:
            raise ValueError("the Discord adapter needs a bot token")
        self.commands = commands
        self.settings = settings
        self.admins = admins
        intents = discord.Intents.default()
        # Privileged, and not needed for @mentions: Discord delivers the content of messages that
        # mention the app without it. Only asked for when the settings say so.
        intents.message_content = settings.message_content
        self.client = _Client(self, intents=intents)
        self.tree = app_commands.CommandTree(self.client)
        self.tree.error(self._on_tree_error)
        self._register_commands()

    async def start(self) -> None:
        """Log in, sync the slash commands and stay connected until :meth:`close`."""
        assert self.settings.token is not None  # checked in __init__
        await self.client.start(self.settings.token.get_secret_value())

    async def close(self) -> None:
        await self.client.close()

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

    async def post_briefing(self, channel_id: str, briefing: Briefing) -> None:
        """A scheduled briefing, posted to a channel (or thread) the bot can write in."""
        channel = self.client.get_partial_messageable(int(channel_id))
        for message in briefing_messages(briefing):
            await channel.send(
                message["content"], embeds=_embeds(message), allowed_mentions=NO_MENTIONS
            )

    def trusted(self, user_id: int, permissions: discord.Permissions) -> bool:
        """The configured admins when there are any; otherwise members with Manage Server.

        Outside a server (DMs) ``permissions`` are empty, so only admins are trusted there.
        """
        if self.admins:
            return str(user_id) in self.admins
        return permissions.manage_guild

    # --- slash commands ----------------------------------------------------------------------

    def _register_commands(self) -> None:
        tree, commands = self.tree, self.commands

        def threaded(work: Callable[[Caller], Reply]) -> Work:
            return lambda caller: asyncio.to_thread(work, caller)

        @tree.command(description="Answer a question with quotes from the articles")
        @app_commands.describe(question="e.g. What did Kim Jong Un inspect in Vladivostok?")
        async def ask(interaction: discord.Interaction, question: str) -> None:
            work = threaded(lambda _: commands.ask(question))
            await self._respond(interaction, work, restate=True)

        async def day_briefing(
            interaction: discord.Interaction, date: str | None, topic: str | None
        ) -> None:
            topics = split_topics((topic or "").split())
            work = threaded(lambda caller: commands.briefing(caller, date, topics))
            await self._respond(interaction, work)

        @tree.command(description="Today's briefing")
        @app_commands.describe(topic="Only stories about this, e.g. energy")
        async def today(interaction: discord.Interaction, topic: str | None = None) -> None:
            await day_briefing(interaction, None, topic)

        @tree.command(description="The briefing of a day")
        @app_commands.describe(
            date="today, yesterday or YYYY-MM-DD (default today)",
            topic="Only stories about this, e.g. energy",
        )
        async def briefing(
            interaction: discord.Interaction, date: str | None = None, topic: str | None = None
        ) -> None:
            await day_briefing(interaction, date, topic)

        @tree.command(description="Post a briefing to this channel on a schedule")
        @app_commands.describe(
            time="24-hour local time, e.g. 08:00",
            timezone="Area/City, e.g. Europe/Berlin",
            days="daily (default), weekdays, weekends or mon,wed,fri",
            topics="Only stories about these, comma-separated, e.g. climate, energy",
        )
        async def subscribe(
            interaction: discord.Interaction,
            time: str,
            timezone: str,
            days: str | None = None,
            topics: str | None = None,
        ) -> None:
            # The words of Slack's "subscribe 08:00 Europe/Berlin weekdays climate, energy";
            # a day list is one word there, so "mon, wed" loses its spaces.
            words = [time, timezone, *(["".join(days.split())] if days else [])]
            words += (topics or "").split()
            work = threaded(lambda c: commands.subscribe(c, words))
            await self._respond(interaction, work)

        @subscribe.autocomplete("timezone")
        async def timezone_names(
            interaction: discord.Interaction, current: str
        ) -> list[app_commands.Choice[str]]:
            typed = current.strip().lower().replace(" ", "_")
            names = sorted(name for key, name in zone_names().items() if typed in key)
            return [app_commands.Choice(name=name, value=name) for name in names[:25]]

        @tree.command(description="Stop this channel's scheduled briefings")
        async def unsubscribe(interaction: discord.Interaction) -> None:
            await self._respond(interaction, threaded(commands.unsubscribe))

        @tree.command(description="Show this channel's briefing schedule")
        async def subscriptions(interaction: discord.Interaction) -> None:
            await self._respond(interaction, threaded(commands.subscriptions))

        @tree.command(description="Add an article: a web address, pasted text or a file")
        @app_commands.describe(
            url="The article's web address",
            title="The title of the pasted text",
            text="The article's text (pasted text needs a title too)",
            attachment="A file: PDF, HTML, Markdown, plain text or JSON",
        )
        async def add(
            interaction: discord.Interaction,
            url: str | None = None,
            title: str | None = None,
            text: str | None = None,
            attachment: discord.Attachment | None = None,
        ) -> None:
            # Discord options are single lines, so the title of pasted text has its own option;
            # the shared command takes pasted text as "title, newline, body".
            content = url or (f"{title}\n{text}" if title and text else text or "")
            work: Work = (
                functools.partial(self._add_file, attachment=attachment)
                if attachment is not None
                else threaded(lambda c: commands.add(c, content))
            )
            await self._respond(interaction, work)

        @tree.command(description="Follow an RSS or Atom feed")
        @app_commands.describe(feed_url="e.g. https://example.com/rss.xml")
        async def follow(interaction: discord.Interaction, feed_url: str) -> None:
            work = threaded(lambda c: commands.follow(c, feed_url))
            await self._respond(interaction, work)

        @tree.command(description="Stop following a feed")
        @app_commands.describe(feed_url="The feed's address, as /feeds lists it")
        async def unfollow(interaction: discord.Interaction, feed_url: str) -> None:
            work = threaded(lambda c: commands.unfollow(c, feed_url))
            await self._respond(interaction, work)

        @tree.command(description="List the followed feeds")
        async def feeds(interaction: discord.Interaction) -> None:
            await self._respond(interaction, threaded(lambda _: commands.feeds()))

        @tree.command(name="help", description="What briefbot can do, with examples")
        async def help_(interaction: discord.Interaction) -> None:
            await self._respond(interaction, threaded(lambda _: commands.help()))

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
        caller = self._caller(interaction)
        command = interaction.command.name if interaction.command else ""
        if command in CHANGING and not caller.trusted:
            await interaction.response.send_message(
                notice_message(refused())["content"], ephemeral=True, allowed_mentions=NO_MENTIONS
            )
            return
        await interaction.response.defer(thinking=True)
        try:
            reply = await work(caller)
            for message in reply_messages(reply, restate=restate):
                await interaction.followup.send(
                    message["content"], embeds=_embeds(message), allowed_mentions=NO_MENTIONS
                )
        except Exception:
            name = interaction.command.name if interaction.command else "?"
            log.exception("the Discord command /%s failed", name)
            await self._apologise(interaction)

    async def _add_file(self, caller: Caller, *, attachment: discord.Attachment) -> Notice:
        if refusal := self.commands.too_large(attachment.filename, attachment.size):
            return refusal
        data = await attachment.read()
        return await asyncio.to_thread(self.commands.add_file, caller, attachment.filename, data)

    def _caller(self, interaction: discord.Interaction) -> Caller:
        return Caller(
            platform="discord",
            channel=str(interaction.channel_id),
            user=str(interaction.user.id),
            trusted=self.trusted(interaction.user.id, interaction.permissions),
        )

    async def _on_tree_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        """Failures outside a command's own work (bad options, a failed defer) still apologise."""
        log.error("a Discord interaction failed", exc_info=error)
        await self._apologise(interaction)

    async def _apologise(self, interaction: discord.Interaction) -> None:
        try:
            if interaction.response.is_done():
                await interaction.followup.send(APOLOGY, allowed_mentions=NO_MENTIONS)
            else:
                await interaction.response.send_message(APOLOGY, allowed_mentions=NO_MENTIONS)
        except discord.HTTPException:
            log.exception("could not apologise for a failed Discord interaction")

    # --- mentions ----------------------------------------------------------------------------

    async def on_message(self, message: discord.Message) -> None:
        """Answer a message that mentions the bot, once, as a reply; other bots are ignored."""
        me = self.client.user
        # ``mentions`` also holds the bot when someone replies to its answer with a ping.
        if me is None or message.author.bot or all(u.id != me.id for u in message.mentions):
            return
        text = " ".join(re.sub(rf"<@!?{me.id}>", " ", message.content).split())
        try:
            reply = await asyncio.to_thread(self.commands.converse, text)
            messages = reply_messages(reply)
        except Exception:
            log.exception("answering a Discord mention failed")
            messages = [{"content": APOLOGY, "embeds": []}]
        first, *rest = messages
        await message.reply(first["content"], embeds=_embeds(first), allowed_mentions=NO_MENTIONS)
        for extra in rest:
            await message.channel.send(
                extra["content"], embeds=_embeds(extra), allowed_mentions=NO_MENTIONS
            )
