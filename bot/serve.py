"""Serving: Slack and Discord on one asyncio loop, with feed polling and scheduled briefings on
background threads, until the process is told to stop."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from functools import partial
from typing import Any

from aiohttp import web

from bot.adapters.discord import DiscordAdapter
from bot.adapters.slack import SlackAdapter
from bot.commands import Commands
from bot.rendering.terminal import render_poll
from bot.scheduler import Periodic, Sender, poll_feeds
from bot.services.briefing import Briefing
from bot.services.feeds import PollResult
from bot.settings import SettingsError
from bot.wiring import Briefbot

log = logging.getLogger(__name__)

Post = Callable[[str, Briefing], Coroutine[Any, Any, None]]


@dataclass(frozen=True, kw_only=True)
class Listen:
    """Where HTTP mode listens for Slack's requests."""

    host: str = "0.0.0.0"
    port: int = 3000


def check(bot: Briefbot, *, slack_http: Listen | None) -> None:
    """Refuse, before anything loads, a Slack or Discord setup that cannot work."""
    slack = bot.settings.slack
    if slack_http is not None and not slack.enabled:
        raise SettingsError("--slack-http needs BRIEFBOT_SLACK__BOT_TOKEN")
    if not slack.enabled:
        return
    if slack_http is not None and slack.signing_secret is None:
        raise SettingsError("Slack's HTTP mode needs BRIEFBOT_SLACK__SIGNING_SECRET")
    if slack_http is None and slack.app_token is None:
        raise SettingsError(
            "Slack's Socket Mode needs BRIEFBOT_SLACK__APP_TOKEN (an xapp- token); "
            "or run with --slack-http and set BRIEFBOT_SLACK__SIGNING_SECRET"
        )


def _sender(loop: asyncio.AbstractEventLoop, post: Post) -> Sender:
    """The scheduler runs on a thread; posting must happen on the adapters' loop."""

    def send(channel: str, briefing: Briefing) -> None:
        asyncio.run_coroutine_threadsafe(post(channel, briefing), loop).result(timeout=300)

    return send


def _announce(result: PollResult) -> None:
    log.info("%s", render_poll(result))


async def serve(
    bot: Briefbot, *, slack_http: Listen | None = None, stop: asyncio.Event | None = None
) -> None:
    """Run every configured chat platform until ``stop`` is set, by default on SIGINT/SIGTERM."""
    settings = bot.settings
    commands = Commands(bot)
    loop = asyncio.get_running_loop()
    if stop is None:
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
    max_file_bytes = int(settings.ingest.max_file_mb * 1_000_000)
    senders: dict[str, Sender] = {}
    cleanups: list[Callable[[], Awaitable[None]]] = []
    connections: list[asyncio.Task[None]] = []

    if settings.slack.enabled:
        slack = SlackAdapter(
            commands, settings=settings.slack, admins=settings.admins, max_file_bytes=max_file_bytes
        )
        if slack_http is not None:
            runner = web.AppRunner(slack.web_app())
            await runner.setup()
            await web.TCPSite(runner, slack_http.host, slack_http.port).start()
            cleanups.append(runner.cleanup)
            log.info("Slack HTTP mode: listening on %s:%d", slack_http.host, slack_http.port)
        else:
            assert settings.slack.app_token is not None  # see check()
            handler = slack.socket_mode(settings.slack.app_token.get_secret_value())
            await handler.connect_async()  # type: ignore[no-untyped-call]
            cleanups.append(handler.close_async)
            log.info("Slack Socket Mode: connected")
        senders["slack"] = _sender(loop, slack.post_briefing)

    if settings.discord.enabled:
        discord = DiscordAdapter(
            commands,
            settings=settings.discord,
            admins=settings.admins,
            max_file_bytes=max_file_bytes,
        )
        connection = asyncio.create_task(discord.start())
        connection.add_done_callback(lambda _: stop.set())  # a failed login ends the process
        connections.append(connection)
        cleanups.append(discord.close)
        senders["discord"] = _sender(loop, discord.post_briefing)

    loops = [
        Periodic(
            "feed-poller",
            partial(poll_feeds, bot.feed_service, _announce),
            interval=settings.ingest.feed_interval_minutes * 60,
        ),
        Periodic("briefing-scheduler", bot.scheduler(senders=senders).run_once, interval=30),
    ]
    for periodic in loops:
        periodic.start()
    try:
        await stop.wait()
        log.info("stopping")
    finally:
        for periodic in loops:
            await asyncio.to_thread(periodic.stop)
        for cleanup in reversed(cleanups):
            await cleanup()
    for connection in connections:
        if connection.done() and not connection.cancelled() and connection.exception():
            raise ConnectionError(f"Discord: {connection.exception()}")
