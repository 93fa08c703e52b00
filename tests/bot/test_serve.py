"""`briefbot run` with both platforms: serve() runs Slack's HTTP mode, Discord's gateway and the
scheduler's tasks on one loop, and scheduled briefings post through it — against loopback
stand-ins for both."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import pytest
from aiohttp import ClientSession

from bot.serve import Listen, check, serve
from bot.wiring import Briefbot
from retrieval.embedding import Embedder
from tests.articles import KIM, subscribe_due_now
from tests.cli_harness import copy_data_dir
from tests.conftest import MakeBot, isolated_settings
from tests.discord_harness import FakeDiscord, fake_discord, followups, option, slash_command
from tests.http_server import LoopbackServer
from tests.slack_harness import (
    QUESTION,
    SECRET,
    assert_biscuit_answer,
    eventually,
    idle,
    send_command,
)
from tests.slack_mock import TOKEN, MockSlack, free_port

SLACK_CHANNEL = "C9"
DISCORD_CHANNEL = "555"
NOTHING_NEW = "No articles from the last 24 hours."


def subscribe_due_now_on_both(bot: Briefbot) -> None:
    """A briefing for one channel on each platform, due a minute ago and never delivered."""
    for platform, channel in (("slack", SLACK_CHANNEL), ("discord", DISCORD_CHANNEL)):
        subscribe_due_now(bot, platform=platform, channel=channel)


async def until_up(http: ClientSession, serving: asyncio.Task[None], discord: FakeDiscord) -> None:
    """Slack's health check answers and Discord's client got READY on the fake gateway."""
    deadline = time.monotonic() + 20
    while True:
        if serving.done():
            serving.result()  # raises what stopped it
            raise AssertionError("serve() returned before it was told to stop")
        try:
            async with http.get("/healthz") as health:
                if health.status == 200 and discord.ready.is_set():
                    return
        except OSError:
            pass
        assert time.monotonic() < deadline, "serve() did not come up"
        await asyncio.sleep(0.05)


def test_slack_and_discord_are_served_together_with_scheduled_briefings(
    sample_data_dir: Path, tmp_path: Path, embedder: Embedder
) -> None:
    data_dir = tmp_path / "data"
    copy_data_dir(sample_data_dir, data_dir)
    with LoopbackServer() as server:
        slack = MockSlack(server)
        settings = isolated_settings(
            data_dir=data_dir,
            load_samples=False,
            slack={"bot_token": TOKEN, "signing_secret": SECRET, "api_url": slack.api_url},
            discord={"token": "test-token"},
            briefing={"skip_empty": False},  # the sample corpus has nothing from the last day
        )
        bot = Briefbot(settings, embedder=embedder)
        subscribe_due_now_on_both(bot)
        listen = Listen(host="127.0.0.1", port=free_port())
        check(bot, slack_http=listen)

        async def scenario() -> None:
            async with fake_discord() as discord:
                stop = asyncio.Event()
                serving = asyncio.create_task(serve(bot, slack_http=listen, stop=stop))
                try:
                    async with ClientSession(base_url=f"http://127.0.0.1:{listen.port}") as http:
                        await until_up(http, serving, discord)
                        assert discord.identify is not None
                        assert discord.identify["token"] == "test-token"

                        # Slack: a signed slash command, answered at its response URL.
                        ack = await send_command(http, slack, f"ask {QUESTION}")
                        assert ack.status == 200
                        [reply] = await eventually(lambda: slack.responses, timeout=20)
                        assert_biscuit_answer(reply)

                    # Discord: /ask arrives over the gateway; deferred, then answered.
                    asked = slash_command("ask", option("question", KIM))
                    await discord.dispatch("INTERACTION_CREATE", asked)
                    await eventually(lambda: discord.sent("POST", "/webhooks/"), timeout=20)
                    [answer] = followups(discord, asked)
                    assert answer["content"] == f"**Q:** {KIM}"
                    assert answer["embeds"][0]["footer"]["text"] == "TASS · 2023-09-19"

                    # The scheduler's first cycle posted to both platforms.
                    [briefing] = await eventually(lambda: slack.posted, timeout=20)
                    assert briefing["channel"] == SLACK_CHANNEL
                    assert briefing["text"] == NOTHING_NEW
                    path = f"/channels/{DISCORD_CHANNEL}/messages"
                    [post] = await eventually(lambda: discord.sent("POST", path), timeout=20)
                    assert post.body["content"] == NOTHING_NEW
                finally:
                    stop.set()
                    await asyncio.wait_for(serving, timeout=30)
                assert discord.close_code is not None  # the client closed its websocket
                # Nothing serve() started is left running. (The last to end is discord.py's
                # wait for GUILD_CREATEs, 2 s after READY, which Client.close() leaves be.)
                await eventually(idle, timeout=5)

        asyncio.run(scenario())

    for channel in (("slack", SLACK_CHANNEL), ("discord", DISCORD_CHANNEL)):
        sub = bot.subscriptions.get(*channel)
        assert sub is not None and sub.last_delivered_day is not None


def test_a_platform_that_cannot_start_is_one_clear_line(
    make_bot: MakeBot, slack: MockSlack
) -> None:
    """Refused tokens and a busy port stop serve() with a reason, and nothing is left running."""
    wrong_token = {"bot_token": "xoxb-revoked", "signing_secret": SECRET}
    socket_mode = {"bot_token": TOKEN, "app_token": "xapp-revoked"}
    http = {"bot_token": TOKEN, "signing_secret": SECRET}
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = Listen(host="127.0.0.1", port=busy.getsockname()[1])
        cases = [
            (wrong_token, Listen(host="127.0.0.1", port=free_port()), "refused the bot token"),
            (socket_mode, None, "refused the app token (invalid_auth)"),
            (http, taken, f"cannot listen on 127.0.0.1:{taken.port}"),
        ]
        for number, (tokens, listen, reason) in enumerate(cases):
            bot = make_bot(f"data{number}", slack={**tokens, "api_url": slack.api_url})

            async def scenario(bot: Briefbot = bot, listen: Listen | None = listen) -> str:
                with pytest.raises(ConnectionError) as failure:
                    await serve(bot, slack_http=listen, stop=asyncio.Event())
                await eventually(idle)
                return str(failure.value)

            message = asyncio.run(scenario())
            assert reason in message
            assert "revoked" not in message and "\n" not in message
