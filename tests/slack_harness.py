"""Driving the Slack adapter as Slack does: signed requests to its real aiohttp server, event
and command payloads, and checks on what reached the loopback Web API (tests/slack_mock.py)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar
from urllib.parse import urlencode

from aiohttp import ClientResponse, ClientSession, TCPConnector
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from bot.adapters.slack import SlackAdapter
from bot.commands import Commands
from bot.events import SeenEvents
from bot.feedback import FeedbackStore
from bot.settings import SlackSettings
from bot.wiring import Briefbot
from tests.conftest import chat_file
from tests.slack_mock import TOKEN, MockSlack

SECRET = "test-signing-secret"

QUESTION = "Why did Vanuatu ban Fijian biscuits?"
ARTICLE_URL = (
    "https://en.wikinews.org/wiki/"
    "Fiji_%22running_out_of_patience%22_with_Vanuatu_over_ban_on_Fijian_biscuits"
)
T = TypeVar("T")


def adapter_for(
    bot: Briefbot | Commands,
    slack: MockSlack,
    *,
    admins: frozenset[str] = frozenset(),
    seen: SeenEvents | None = None,
    feedback: FeedbackStore | None = None,
) -> SlackAdapter:
    """The adapter over ``bot``'s commands, or over given (fault-injecting) commands. Unless
    ``seen`` is shared (replicas), each adapter remembers events of its own, so that tests on
    the session's sample store never see one another's events."""
    settings = SlackSettings(
        bot_token=SecretStr(TOKEN), signing_secret=SecretStr(SECRET), api_url=slack.api_url
    )
    commands = bot if isinstance(bot, Commands) else bot.commands
    scratch = chat_file()
    seen = seen or SeenEvents(scratch)
    feedback = feedback or FeedbackStore(scratch)
    return SlackAdapter(commands, settings=settings, admins=admins, seen=seen, feedback=feedback)


@asynccontextmanager
async def http_mode(adapter: SlackAdapter) -> AsyncIterator[TestClient[Any, Any]]:
    """The adapter's real aiohttp server on a loopback port, and a client for it.

    The client closes each connection after its response: a kept-alive one holds a server task
    open for 15 s, which the tests waiting for an idle loop would otherwise wait out.
    """
    connector = TCPConnector(force_close=True)
    async with TestClient(TestServer(adapter.web_app()), connector=connector) as client:
        yield client


def signed_headers(
    body: str | bytes, *, secret: str = SECRET, age: float = 0, timestamp: str | None = None
) -> dict[str, str]:
    """Signed as Slack documents it: over the raw bytes, which need not be valid UTF-8."""
    timestamp = timestamp or str(int(time.time() - age))
    raw = body.encode() if isinstance(body, str) else body
    signed = b"v0:" + timestamp.encode() + b":" + raw
    signature = "v0=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def command_body(slack: MockSlack, text: str, *, user: str = "U1", **fields: str) -> str:
    return urlencode(
        {
            "command": "/brief",
            "text": text,
            "user_id": user,
            "channel_id": "C1",
            "team_id": "T1",
            "response_url": slack.response_url,
            "trigger_id": "1.2.3",
        }
        | fields
    )


async def send_command(
    client: TestClient[Any, Any] | ClientSession,
    slack: MockSlack,
    text: str,
    *,
    user: str = "U1",
    secret: str = SECRET,
    age: float = 0,
) -> ClientResponse:
    body = command_body(slack, text, user=user)
    headers = FORM | signed_headers(body, secret=secret, age=age)
    return await client.post("/slack/events", data=body, headers=headers)


def event_body(event: dict[str, Any], *, event_id: str = "Ev1") -> dict[str, Any]:
    return {
        "type": "event_callback",
        "team_id": "T1",
        "api_app_id": "A1",
        "event_id": event_id,
        "event_time": int(time.time()),
        "event": event,
        "authorizations": [{"team_id": "T1", "user_id": "UBRIEFBOT", "is_bot": True}],
    }


def mention(text: str, *, ts: str = "1700000000.000001", user: str = "U1") -> dict[str, Any]:
    return {
        "type": "app_mention",
        "user": user,
        "text": f"<@UBRIEFBOT> {text}",
        "ts": ts,
        "channel": "C1",
        "event_ts": ts,
    }


async def send_event(
    client: TestClient[Any, Any], body: dict[str, Any], *, retry: int = 0
) -> ClientResponse:
    raw = json.dumps(body)
    # Slack signs each retry anew when it sends it, later than the first try.
    headers = {"Content-Type": "application/json"} | signed_headers(raw, age=-retry)
    if retry:
        headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
    return await client.post("/slack/events", data=raw, headers=headers)


async def eventually(check: Callable[[], T], *, timeout: float = 60) -> T:
    """Wait, letting Bolt's background listeners run, until ``check()`` is truthy."""
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the bot")
        await asyncio.sleep(0.05)
    return value


def idle() -> bool:
    """No task but the test's own is left on the loop."""
    return asyncio.all_tasks() == {asyncio.current_task()}


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(test())


def texts(message: dict[str, Any]) -> list[str]:
    """Every mrkdwn text of a message's blocks."""
    found = []
    for block in message.get("blocks", []):
        if "text" in block:
            found.append(block["text"]["text"])
        # Context elements are mrkdwn texts; the buttons of an actions block are not.
        found += [e["text"] for e in block.get("elements", []) if e.get("type") == "mrkdwn"]
    return found


def assert_biscuit_answer(message: dict[str, Any]) -> None:
    parts = texts(message)
    first = next(i for i, part in enumerate(parts) if part.startswith(">"))
    quote, byline = parts[first], parts[first + 1]
    assert quote.startswith(">") and "Flour Mills of Fiji" in quote
    bold = [part for part in quote.split("*")[1::2] if part.strip()]
    assert bold and all("biscuit" in part.lower() for part in bold)
    assert byline.startswith(f"Wikinews · 2005-07-01 · <{ARTICLE_URL}|Fiji")
    assert message["unfurl_links"] is False
    assert message["text"]
