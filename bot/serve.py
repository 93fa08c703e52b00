"""Serving: Slack and Discord on one asyncio loop, with feed polling and scheduled briefings as
tasks on the same loop, until the process is told to stop."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from aiohttp import ClientError, web
from prometheus_client import CONTENT_TYPE_LATEST
from slack_sdk.errors import SlackApiError

from bot.adapters.discord import DiscordAdapter
from bot.adapters.slack import SlackAdapter
from bot.replies import Reply, poll_summary
from bot.scheduler import background
from bot.services.feeds import PollResult
from bot.settings import SettingsError, SlackSettings
from bot.watches import Poster
from bot.wiring import Briefbot

log = logging.getLogger(__name__)

Post = Callable[[str, Reply], Coroutine[Any, Any, None]]
Cleanup = Callable[[], Awaitable[None]]


@dataclass(frozen=True, kw_only=True)
class Listen:
    """Where HTTP mode listens for Slack's requests."""

    host: str = "0.0.0.0"
    port: int = 3000


NO_PLATFORM = (
    "no chat platform configured and no terminal to chat in: set BRIEFBOT_SLACK__BOT_TOKEN "
    "(with BRIEFBOT_SLACK__APP_TOKEN, or BRIEFBOT_SLACK__SIGNING_SECRET and --slack-http) or "
    "BRIEFBOT_DISCORD__TOKEN"
)


def check(bot: Briefbot, *, slack_http: Listen | None) -> None:
    """Refuse, before anything loads, a Slack or Discord setup that cannot work — a half-
    configured one included, which would otherwise fall back to the terminal chat unnoticed."""
    slack = bot.settings.slack
    if slack_http is not None and not slack.enabled:
        raise SettingsError("--slack-http needs BRIEFBOT_SLACK__BOT_TOKEN")
    if not slack.enabled:
        for name, value in (
            ("APP_TOKEN", slack.app_token),
            ("SIGNING_SECRET", slack.signing_secret),
        ):
            if value is not None:
                raise SettingsError(
                    f"BRIEFBOT_SLACK__{name} is set but BRIEFBOT_SLACK__BOT_TOKEN (xoxb-) is not"
                )
    if not bot.settings.discord.enabled and bot.settings.discord.guild_id is not None:
        raise SettingsError("BRIEFBOT_DISCORD__GUILD_ID is set but BRIEFBOT_DISCORD__TOKEN is not")
    if not slack.enabled:
        return
    if slack_http is not None and slack.signing_secret is None:
        raise SettingsError("Slack's HTTP mode needs BRIEFBOT_SLACK__SIGNING_SECRET")
    if slack_http is None and slack.app_token is None:
        raise SettingsError(
            "Slack's Socket Mode needs BRIEFBOT_SLACK__APP_TOKEN (an xapp- token); "
            "or run with --slack-http and set BRIEFBOT_SLACK__SIGNING_SECRET"
        )


def _sender(loop: asyncio.AbstractEventLoop, post: Post) -> Poster:
    """The scheduler's cycles run on a thread; posting must happen on the adapters' loop."""

    def send(channel: str, reply: Reply) -> None:
        posting = asyncio.run_coroutine_threadsafe(post(channel, reply), loop)
        try:
            posting.result(timeout=300)
        except TimeoutError:
            posting.cancel()  # else it might still post, and the retry post it again
            raise

    return send


def _announce(result: PollResult) -> None:
    log.info("%s", poll_summary(result))


def _slack_error(exc: SlackApiError) -> str:
    return str(exc.response.get("error") or exc.response.status_code)


Probe = Callable[[], Awaitable[bool]]
"""Whether one platform's connection is up, for the health check."""


class Monitor:
    """``GET /healthz`` and ``GET /metrics``: on Slack's HTTP server in HTTP mode, else on
    ``BRIEFBOT_METRICS__PORT`` when set — so a container's health check works in every mode."""

    def __init__(self, bot: Briefbot) -> None:
        self.bot = bot
        self.platforms: dict[str, Probe] = {}

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/healthz", self.health)
        app.router.add_get("/metrics", self.metrics)

    async def health(self, _: web.Request) -> web.Response:
        """200 when the store and the index can be read and every platform is connected."""
        checks: dict[str, bool] = {}
        loop = asyncio.get_running_loop()
        for name, read in (("store", self.bot.store.count_articles), ("index", self._index)):
            try:
                await loop.run_in_executor(None, read)
                checks[name] = True
            except Exception as exc:
                log.warning("health check: the %s cannot be read: %s", name, exc)
                checks[name] = False
        for name, probe in self.platforms.items():
            checks[name] = await probe()
        healthy = all(checks.values())
        return web.json_response(
            {"status": "ok" if healthy else "unavailable", "checks": checks},
            status=200 if healthy else 503,
        )

    def _index(self) -> None:
        len(self.bot.vectors)
        len(self.bot.lexical)

    async def metrics(self, _: web.Request) -> web.Response:
        loop = asyncio.get_running_loop()
        body = await loop.run_in_executor(None, self.bot.metrics.exposition)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def listen(self, host: str, port: int, cleanups: list[Cleanup]) -> int:
        """Serve the two routes on their own; returns the port (``port`` 0 picks a free one)."""
        app = web.Application()
        self.add_routes(app)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        cleanups.append(runner.cleanup)
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            raise ConnectionError(
                f"the metrics server cannot listen on {host}:{port}: {exc.strerror}"
            ) from None
        bound: int = runner.addresses[0][1]
        log.info("health and metrics: http://%s:%d/healthz and /metrics", host, bound)
        return bound


async def _start_slack(
    slack: SlackAdapter,
    settings: SlackSettings,
    listen: Listen | None,
    cleanups: list[Cleanup],
    monitor: Monitor,
) -> None:
    """Check the bot token, then take Slack's requests over HTTP or a Socket Mode connection.

    Every failure is one sentence naming what to fix; the token itself is never in it.
    """
    try:
        await slack.client.auth_test()
    except SlackApiError as exc:
        raise ConnectionError(f"Slack refused the bot token ({_slack_error(exc)})") from None
    except (ClientError, OSError) as exc:
        raise ConnectionError(
            f"Slack's Web API at {settings.api_url} is unreachable: {exc}"
        ) from None
    if listen is not None:
        app = slack.web_app()
        monitor.add_routes(app)
        runner = web.AppRunner(app)
        await runner.setup()
        cleanups.append(runner.cleanup)
        try:
            await web.TCPSite(runner, listen.host, listen.port).start()
        except OSError as exc:
            raise ConnectionError(
                f"Slack's HTTP mode cannot listen on {listen.host}:{listen.port}: {exc.strerror}"
            ) from None
        log.info("Slack HTTP mode: listening on %s:%d", listen.host, listen.port)
        return
    assert settings.app_token is not None  # see check()
    app_token = settings.app_token.get_secret_value()
    # The Socket Mode client retries a refused token forever; ask once first, to fail fast.
    try:
        await slack.client.apps_connections_open(app_token=app_token)
    except SlackApiError as exc:
        raise ConnectionError(f"Slack refused the app token ({_slack_error(exc)})") from None
    handler = slack.socket_mode(app_token)
    await handler.connect_async()  # type: ignore[no-untyped-call]
    cleanups.append(handler.close_async)
    monitor.platforms["slack"] = handler.client.is_connected
    log.info("Slack Socket Mode: connected")


async def serve(
    bot: Briefbot, *, slack_http: Listen | None = None, stop: asyncio.Event | None = None
) -> None:
    """Run every configured chat platform until ``stop`` is set, by default on SIGINT/SIGTERM.

    A platform that cannot start raises ConnectionError with a one-line reason, after whatever
    had started is shut down again.
    """
    settings = bot.settings
    commands = bot.commands
    loop = asyncio.get_running_loop()
    if stop is None:
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
    # Answers and ingests run on worker threads; ingests queue on the index's writer lock, so
    # the pool is larger than the default (cores + 4) to leave room for questions meanwhile.
    loop.set_default_executor(ThreadPoolExecutor(max_workers=32, thread_name_prefix="briefbot"))
    senders: dict[str, Poster] = {}
    cleanups: list[Cleanup] = []
    connections: list[asyncio.Task[None]] = []
    monitor = Monitor(bot)
    try:
        if settings.metrics.port is not None:
            await monitor.listen(settings.metrics.host, settings.metrics.port, cleanups)
        if settings.slack.enabled:
            slack = SlackAdapter(
                commands,
                settings=settings.slack,
                admins=settings.admins,
                seen=bot.seen_events,
                feedback=bot.feedback,
            )
            await _start_slack(slack, settings.slack, slack_http, cleanups, monitor)
            senders["slack"] = _sender(loop, slack.post)

        if settings.discord.enabled:
            discord = DiscordAdapter(
                commands,
                settings=settings.discord,
                admins=settings.admins,
                seen=bot.seen_events,
                feedback=bot.feedback,
            )
            connection = asyncio.create_task(discord.start())
            connection.add_done_callback(lambda _: stop.set())  # a failed login ends the process
            connections.append(connection)
            cleanups.append(discord.close)
            monitor.platforms["discord"] = discord.connected
            senders["discord"] = _sender(loop, discord.post)

        async with background(bot.background(senders=senders, announce=_announce)):
            await stop.wait()
            log.info("stopping")
    finally:
        for cleanup in reversed(cleanups):
            await cleanup()
    for connection in connections:
        if connection.done() and not connection.cancelled() and connection.exception():
            raise ConnectionError(f"Discord: {connection.exception()}")
