"""Health and metrics in every serving mode, safe start-up defaults, and structured logs: the
bot served for real (Slack's HTTP mode and Socket Mode against loopback stand-ins, Discord
against its fake gateway) and scraped over HTTP."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, web
from prometheus_client.parser import text_string_to_metric_families

from bot import logs
from bot.serve import Listen, serve
from bot.settings import SettingsError
from bot.wiring import Briefbot, check_device
from retrieval.embedding import Embedder
from tests.cli_harness import briefbot, copy_data_dir, one_line_error
from tests.conftest import isolated_settings
from tests.discord_harness import fake_discord
from tests.http_server import LoopbackServer
from tests.slack_harness import QUESTION, SECRET, eventually, send_command
from tests.slack_mock import TOKEN, MockSlack, free_port

NOTHING_THERE = "How do I bake sourdough pancakes?"
APP_TOKEN = "xapp-1-A1-socket-mode-test"


def samples(sample_data_dir: Path, tmp_path: Path) -> Path:
    data_dir = tmp_path / "data"
    copy_data_dir(sample_data_dir, data_dir)
    return data_dir


def samples_metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the scraped ``text``."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    raise AssertionError(f"{name}{labels} not exported")


async def serving(
    bot: Briefbot, base_url: str, scenario: Callable[[ClientSession], Awaitable[None]], **kw: Any
) -> None:
    """Run ``serve`` until ``scenario`` is done with a client for ``base_url``."""
    stop = asyncio.Event()
    task = asyncio.create_task(serve(bot, stop=stop, **kw))
    try:
        async with ClientSession(base_url=base_url) as http:
            await scenario(http)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


async def healthy(http: ClientSession, *, platform: str) -> dict[str, Any]:
    """The health check's body once it says ``platform`` is connected."""
    deadline = time.monotonic() + 20
    while True:
        try:
            async with http.get("/healthz") as response:
                body: dict[str, Any] = await response.json()
                if response.status == 200 and body["checks"].get(platform):
                    return body
        except OSError:
            pass
        assert time.monotonic() < deadline, "the health check never reported healthy"
        await asyncio.sleep(0.05)


def test_slack_http_mode_serves_metrics_counting_answers_and_nothing_found(
    sample_data_dir: Path, tmp_path: Path, embedder: Embedder
) -> None:
    with LoopbackServer() as server:
        slack = MockSlack(server)
        settings = isolated_settings(
            data_dir=samples(sample_data_dir, tmp_path),
            slack={"bot_token": TOKEN, "signing_secret": SECRET, "api_url": slack.api_url},
        )
        bot = Briefbot(settings, embedder=embedder)
        listen = Listen(host="127.0.0.1", port=free_port())

        async def scenario(http: ClientSession) -> None:
            await healthy(http, platform="store")

            async def ask(question: str, *, replies: int) -> None:
                assert (await send_command(http, slack, f"ask {question}")).status == 200
                await eventually(lambda: len(slack.responses) >= replies, timeout=30)

            await ask(QUESTION, replies=1)
            await ask(NOTHING_THERE, replies=2)
            async with http.get("/metrics") as response:
                assert response.status == 200
                assert response.headers["Content-Type"].startswith("text/plain")
                scraped = await response.text()
            questions = "briefbot_questions_total"
            assert samples_metric(scraped, questions, outcome="answered") == 1
            assert samples_metric(scraped, questions, outcome="nothing_found") == 1
            assert samples_metric(scraped, "briefbot_answer_seconds_count") == 2
            articles = bot.store.count_articles()
            assert samples_metric(scraped, "briefbot_index_articles") == articles > 0
            body = await healthy(http, platform="index")
            assert body == {"status": "ok", "checks": {"store": True, "index": True}}

        asyncio.run(serving(bot, f"http://127.0.0.1:{listen.port}", scenario, slack_http=listen))
    assert "couldn't find anything" not in json.dumps(slack.responses[0])
    assert "couldn't find anything" in json.dumps(slack.responses[1])


def test_discord_mode_serves_health_and_metrics_on_the_metrics_port(
    sample_data_dir: Path, tmp_path: Path, embedder: Embedder
) -> None:
    port = free_port()
    settings = isolated_settings(
        data_dir=samples(sample_data_dir, tmp_path),
        discord={"token": "test-token"},
        metrics={"port": port},
    )
    bot = Briefbot(settings, embedder=embedder)

    async def scenario(http: ClientSession) -> None:
        body = await healthy(http, platform="discord")
        assert body["checks"] == {"store": True, "index": True, "discord": True}
        async with http.get("/metrics") as response:
            scraped = await response.text()
        assert samples_metric(scraped, "briefbot_index_passages") == bot.store.count_passages()

    async def run() -> None:
        async with fake_discord():
            await serving(bot, f"http://127.0.0.1:{port}", scenario)

    asyncio.run(run())


@asynccontextmanager
async def socket_mode_slack() -> AsyncIterator[str]:
    """Slack's Web API and Socket Mode endpoint on loopback: ``auth.test``,
    ``apps.connections.open`` and a websocket that says hello and stays open."""
    port = free_port()
    sockets: list[web.WebSocketResponse] = []

    async def api(request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if method == "apps.connections.open":
            return web.json_response({"ok": True, "url": f"ws://127.0.0.1:{port}/link"})
        return web.json_response({"ok": True, "user_id": "UBRIEFBOT", "team_id": "T1"})

    async def link(request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        sockets.append(socket)
        await socket.send_json({"type": "hello", "num_connections": 1})
        async for _ in socket:  # held open until the client closes it
            pass
        return socket

    app = web.Application()
    app.router.add_post("/api/{method}", api)
    app.router.add_get("/link", link)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}/api/"
    finally:
        for socket in sockets:
            await socket.close()
        await runner.cleanup()


def test_socket_mode_serves_health_on_the_metrics_port(
    sample_data_dir: Path, tmp_path: Path, embedder: Embedder
) -> None:
    port = free_port()

    async def run() -> None:
        async with socket_mode_slack() as api_url:
            settings = isolated_settings(
                data_dir=samples(sample_data_dir, tmp_path),
                slack={"bot_token": TOKEN, "app_token": APP_TOKEN, "api_url": api_url},
                metrics={"port": port},
            )
            bot = Briefbot(settings, embedder=embedder)

            async def scenario(http: ClientSession) -> None:
                body = await healthy(http, platform="slack")
                assert body["checks"] == {"store": True, "index": True, "slack": True}

            await serving(bot, f"http://127.0.0.1:{port}", scenario)

    asyncio.run(run())


def test_run_without_a_terminal_or_a_platform_exits_with_one_line(tmp_path: Path) -> None:
    result = briefbot("run", env={"BRIEFBOT_DATA_DIR": str(tmp_path / "data")})
    assert result.returncode == 2
    line = one_line_error(result)
    assert "BRIEFBOT_SLACK__BOT_TOKEN" in line and "BRIEFBOT_DISCORD__TOKEN" in line
    assert not (tmp_path / "data").exists()  # nothing loaded, nothing created


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("BRIEFBOT_SLACK__APP_TOKEN", APP_TOKEN, "BRIEFBOT_SLACK__BOT_TOKEN"),
        ("BRIEFBOT_SLACK__SIGNING_SECRET", "0123456789abcdef", "BRIEFBOT_SLACK__BOT_TOKEN"),
        ("BRIEFBOT_DISCORD__GUILD_ID", "1234", "BRIEFBOT_DISCORD__TOKEN"),
    ],
)
def test_half_configured_platforms_stop_start_up_naming_the_setting(
    tmp_path: Path, variable: str, value: str, named: str
) -> None:
    result = briefbot("run", env={"BRIEFBOT_DATA_DIR": str(tmp_path / "data"), variable: value})
    line = one_line_error(result)
    assert named in line and variable in line
    assert value not in result.stderr + result.stdout


def test_an_unusable_device_stops_start_up_naming_the_setting(sample_data_dir: Path) -> None:
    with pytest.raises(SettingsError, match=r"BRIEFBOT_EMBEDDING__DEVICE='cuda'.*use cpu"):
        check_device("cuda")
    check_device("cpu")
    on_gpu = {"BRIEFBOT_DATA_DIR": str(sample_data_dir), "BRIEFBOT_EMBEDDING__DEVICE": "cuda"}
    result = briefbot("ask", "What did Kim inspect?", env=on_gpu)
    assert (
        "BRIEFBOT_EMBEDDING__DEVICE='cuda' needs BRIEFBOT_EMBEDDING__BACKEND=torch"
        in one_line_error(result)
    )
    result = briefbot(
        "ask", "What did Kim inspect?", env=on_gpu | {"BRIEFBOT_EMBEDDING__BACKEND": "torch"}
    )
    assert "BRIEFBOT_EMBEDDING__DEVICE='cuda' cannot be used here" in one_line_error(result)


def test_samples_are_loaded_for_the_terminal_chat_only_unless_asked(
    tmp_path: Path, embedder: Embedder
) -> None:
    default = Briefbot(isolated_settings(data_dir=tmp_path / "a"), embedder=embedder)
    assert default.load_samples_if_empty(terminal=False) is None
    assert default.store.count_articles() == 0
    refused = Briefbot(
        isolated_settings(data_dir=tmp_path / "b", load_samples=False), embedder=embedder
    )
    assert refused.load_samples_if_empty(terminal=True) is None
    assert refused.store.count_articles() == 0


def test_json_logs_carry_the_request_and_never_a_secret(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    discord_token = "MTIzNDU2.discord-token-value"
    try:
        logs.configure(level="INFO", json_lines=True, secrets=[discord_token], force=True)
        log = logging.getLogger("briefbot.test")

        async def handle() -> None:
            with logs.request_context(platform="slack", channel="C1", request="1.2.3"):
                await asyncio.to_thread(
                    log.warning, "calling with %s and %s", f"{TOKEN}", discord_token
                )
            log.info("after the request")

        asyncio.run(handle())
    finally:
        root.handlers[:] = saved
        root.setLevel(level)
    first, second = (json.loads(line) for line in capsys.readouterr().err.splitlines())
    assert first["level"] == "WARNING" and first["logger"] == "briefbot.test"
    assert (first["platform"], first["channel"], first["request"]) == ("slack", "C1", "1.2.3")
    assert first["message"] == "calling with [redacted] and [redacted]"
    assert "request" not in second and second["message"] == "after the request"
