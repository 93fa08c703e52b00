"""A stand-in for Discord on loopback, and the one place that uses discord.py's private API.

:class:`FakeDiscord` answers the REST calls briefbot makes (login, command sync, interaction
callbacks, follow-ups, channel messages, attachment downloads) over real HTTP and records them.
It is also a minimal gateway: a websocket that says HELLO, answers heartbeats, takes IDENTIFY
with READY and then sends whatever events a test pushes (:meth:`FakeDiscord.dispatch`).

:func:`fake_discord` points every discord.py client in the process at a fresh one, REST and
gateway, so a client started for real (``Client.start``, as ``briefbot run`` does) logs in,
syncs its commands and connects to it. :func:`connected` also logs the adapter's client in
without connecting to the gateway, and :func:`gateway_event` feeds a raw event straight to the
client's own parser and waits for the handlers it starts.

Private discord.py API used here, all of it pinned to discord.py 2.7.x:
``discord.http.Route.BASE`` (the API base URL), ``discord.gateway.DiscordWebSocket`` and its
``DEFAULT_GATEWAY`` (where ``Client.connect`` opens the websocket; it never asks
``GET /gateway/bot``) and ``ConnectionState.parsers`` (the gateway event parsers, reached
through ``Client._connection``).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import discord
import yarl
from aiohttp import WSMsgType, web
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.adapters.discord import DiscordAdapter

APP_ID = 900
# What every reply sends Discord: nobody is pinged, whatever the quoted text says.
NO_PINGS: dict[str, Any] = {"parse": []}
BOT_ID = 901
GUILD_ID = 700
CHANNEL_ID = 701
MANAGE_GUILD = discord.Permissions(manage_guild=True, view_channel=True, send_messages=True)
MEMBER = discord.Permissions(view_channel=True, send_messages=True)

BOT_USER = {
    "id": str(BOT_ID),
    "username": "briefbot",
    "discriminator": "0",
    "global_name": None,
    "avatar": None,
    "bot": True,
}
_APPLICATION = {
    "id": str(APP_ID),
    "name": "briefbot",
    "description": "",
    "icon": None,
    "bot_public": False,
    "bot_require_code_grant": False,
    "owner": {"id": "1", "username": "owner", "discriminator": "0", "avatar": None},
    "verify_key": "0" * 64,
    "flags": 0,
}
_TIMESTAMP = "2024-01-01T00:00:00+00:00"
_ids = itertools.count(10_000)

# Gateway opcodes (https://discord.com/developers/docs/topics/opcodes-and-status-codes).
DISPATCH, HEARTBEAT, IDENTIFY, HELLO, HEARTBEAT_ACK = 0, 1, 2, 10, 11
# Long enough that no heartbeat falls due within a test; the fake answers one if it does.
HEARTBEAT_INTERVAL_MS = 45_000

Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Call:
    """One request to the fake API; ``path`` is relative to the API base, without the query."""

    method: str
    path: str
    body: Any


def user(user_id: int, *, bot: bool = False) -> dict[str, Any]:
    return {
        "id": str(user_id),
        "username": f"user{user_id}",
        "discriminator": "0",
        "global_name": None,
        "avatar": None,
        "bot": bot,
    }


def option(name: str, value: str, *, kind: int = 3, focused: bool = False) -> dict[str, Any]:
    """A slash command option as Discord sends it (3 is a string, 11 an attachment)."""
    return {"name": name, "type": kind, "value": value} | ({"focused": True} if focused else {})


def slash_command(
    name: str,
    *options: dict[str, Any],
    user_id: int = 42,
    permissions: discord.Permissions = MEMBER,
    guild: bool = True,
    resolved: dict[str, Any] | None = None,
    autocomplete: bool = False,
) -> dict[str, Any]:
    """An INTERACTION_CREATE payload for ``/name``, from a server member or, without ``guild``,
    from a DM."""
    payload: dict[str, Any] = {
        "id": str(next(_ids)),
        "application_id": str(APP_ID),
        "type": 4 if autocomplete else 2,
        "token": f"interaction-token-{next(_ids)}",
        "version": 1,
        "locale": "en-US",
        "app_permissions": str(MEMBER.value),
        "attachment_size_limit": 10 * 1024 * 1024,
        "entitlements": [],
        "data": {
            "id": str(next(_ids)),
            "name": name,
            "type": 1,
            "options": list(options),
            **({"resolved": resolved} if resolved else {}),
        },
    }
    if guild:
        payload |= {
            "guild_id": str(GUILD_ID),
            "guild_locale": "en-US",
            "channel_id": str(CHANNEL_ID),
            "channel": {
                "id": str(CHANNEL_ID),
                "type": 0,
                "guild_id": str(GUILD_ID),
                "name": "news",
                "position": 0,
                "nsfw": False,
                "parent_id": None,
                "permission_overwrites": [],
            },
            "member": {
                "user": user(user_id),
                "roles": [],
                "joined_at": _TIMESTAMP,
                "deaf": False,
                "mute": False,
                "flags": 0,
                "permissions": str(permissions.value),
            },
            "context": 0,
        }
    else:
        dm = 800 + user_id
        payload |= {
            "channel_id": str(dm),
            "channel": {"id": str(dm), "type": 1, "recipients": [user(user_id)]},
            "user": user(user_id),
            "context": 1,
        }
    return payload


def button_click(custom_id: str, message: dict[str, Any], *, user_id: int = 42) -> dict[str, Any]:
    """An INTERACTION_CREATE payload for a click on the button ``custom_id`` of ``message``."""
    click = {"custom_id": custom_id, "component_type": 2}
    return slash_command("-", user_id=user_id) | {"type": 3, "data": click, "message": message}


def attachment(name: str, size: int, url: str) -> dict[str, Any]:
    return {
        "id": str(next(_ids)),
        "filename": name,
        "size": size,
        "url": url,
        "proxy_url": url,
        "content_type": "text/plain",
    }


def channel_message(
    content: str,
    *,
    author: dict[str, Any],
    mentions: list[dict[str, Any]],
    reply_to: str | None = None,
) -> dict[str, Any]:
    """A MESSAGE_CREATE payload posted in the server's channel, replying to ``reply_to``."""
    message = {
        "id": str(next(_ids)),
        "channel_id": str(CHANNEL_ID),
        "guild_id": str(GUILD_ID),
        "type": 0,
        "content": content,
        "author": author,
        "mentions": mentions,
        "mention_roles": [],
        "mention_everyone": False,
        "attachments": [],
        "embeds": [],
        "pinned": False,
        "tts": False,
        "timestamp": _TIMESTAMP,
        "edited_timestamp": None,
        "flags": 0,
    }
    if reply_to is None:
        return message
    reference = {"message_id": reply_to, "channel_id": str(CHANNEL_ID), "guild_id": str(GUILD_ID)}
    return message | {"type": 19, "message_reference": reference}


class FakeDiscord:
    """Discord's REST API and gateway as far as briefbot uses them, on an OS-chosen loopback
    port. One gateway session at a time: ``identify`` holds the client's IDENTIFY, ``ready`` is
    set once READY went out, and ``close_code`` is set once a websocket has closed. (Which code
    varies: ``Client.close()`` asks for 1000, but its own reader may close with 4000 first.)"""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.posted: list[dict[str, Any]] = []
        """Messages the bot created, as Discord returned them (with their ids)."""
        self.files: dict[str, bytes] = {}
        self.identify: dict[str, Any] | None = None
        self.ready = asyncio.Event()
        self.close_code: int | None = None
        self._runner: web.AppRunner | None = None
        self._socket: web.WebSocketResponse | None = None
        self._send: Send | None = None
        self._sequence = 0
        self.port = 0

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    def file_url(self, name: str, data: bytes) -> str:
        """Serve ``data`` the way Discord's CDN serves an attachment."""
        self.files[name] = data
        return f"http://127.0.0.1:{self.port}/attachments/{name}"

    def sent(self, method: str, prefix: str) -> list[Call]:
        """The calls of ``method`` whose path starts with ``prefix``, in order."""
        return [c for c in self.calls if c.method == method and c.path.startswith(prefix)]

    async def dispatch(self, name: str, payload: dict[str, Any]) -> None:
        """Send an event (e.g. ``INTERACTION_CREATE``) down the gateway, as Discord does."""
        if self._send is None:
            raise RuntimeError("no client has identified on the fake gateway")
        self._sequence += 1
        await self._send({"op": DISPATCH, "t": name, "s": self._sequence, "d": payload})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/{path:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def stop(self) -> None:
        # An open websocket would hold up the server's graceful shutdown.
        if self._socket is not None:
            await self._socket.close(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._socket = socket
        send = _sender(socket, compress=request.query.get("compress"))
        await send(
            {"op": HELLO, "s": None, "t": None, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS}}
        )
        async for message in socket:
            if message.type is not WSMsgType.TEXT:
                continue
            frame = json.loads(message.data)
            if frame["op"] == HEARTBEAT:
                await send({"op": HEARTBEAT_ACK, "s": None, "t": None, "d": None})
            elif frame["op"] == IDENTIFY:
                self.identify = frame["d"]
                self._send, self._sequence = send, 0
                await self.dispatch("READY", self._ready_event())
                self.ready.set()
        self._send = self._socket = None
        self.close_code = socket.close_code
        return socket

    def _ready_event(self) -> dict[str, Any]:
        return {
            "v": 10,
            "user": BOT_USER,
            "guilds": [],
            "session_id": f"session-{next(_ids)}",
            "resume_gateway_url": self.gateway_url,
            "shard": [0, 1],
            "application": {"id": str(APP_ID), "flags": 0},
        }

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        if path.startswith("/attachments/"):
            self.calls.append(Call(request.method, path, None))
            data = self.files.get(path.removeprefix("/attachments/"))
            return web.Response(body=data) if data is not None else web.Response(status=404)
        path = path.removeprefix("/api/v10")
        raw = await request.read()
        body = json.loads(raw) if raw else None
        self.calls.append(Call(request.method, path, body))
        # discord.py reads a body as JSON only when the content type is exactly this.
        answer = json.dumps(self._answer(request.method, path, body)).encode()
        return web.Response(body=answer, headers={"Content-Type": "application/json"})

    def _answer(self, method: str, path: str, body: Any) -> Any:
        parts = path.strip("/").split("/")
        if path == "/users/@me":
            return BOT_USER
        if path == "/oauth2/applications/@me":
            return _APPLICATION
        if path == "/gateway/bot":  # asked by AutoShardedClient only
            limit = {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}
            return {"url": self.gateway_url, "shards": 1, "session_start_limit": limit}
        if method == "PUT" and parts[0] == "applications":
            guild = {"guild_id": parts[3]} if "guilds" in parts else {}
            return [
                {**command, "id": str(next(_ids)), "application_id": str(APP_ID), **guild}
                for command in body
            ]
        if parts[0] == "interactions":
            return {
                "interaction": {"id": parts[1], "type": 2},
                "resource": {"type": body["type"]},
            }
        if parts[0] == "webhooks":
            return self._message(body, channel=CHANNEL_ID, webhook=True)
        if parts[0] == "channels" and parts[2:] == ["messages"]:
            return self._message(body, channel=int(parts[1]), webhook=False)
        raise web.HTTPNotFound(text=f"the fake Discord has no {method} {path}")

    def _message(self, body: dict[str, Any], *, channel: int, webhook: bool) -> dict[str, Any]:
        sent = {key: body.get(key) for key in ("content", "embeds")}
        message = channel_message(str(sent["content"] or ""), author=BOT_USER, mentions=[]) | {
            "channel_id": str(channel),
            "embeds": sent["embeds"] or [],
            **({"webhook_id": str(APP_ID)} if webhook else {}),
        }
        self.posted.append(message)
        return message


def _sender(socket: web.WebSocketResponse, *, compress: str | None) -> Send:
    """With ``?compress=zlib-stream`` (what discord.py asks for unless zstd is installed) one
    zlib stream over the connection, each message ending in a sync flush, as Discord sends it;
    otherwise text frames, which discord.py reads whatever compression it asked for."""
    if compress != "zlib-stream":

        async def send_text(frame: dict[str, Any]) -> None:
            await socket.send_str(json.dumps(frame))

        return send_text
    stream = zlib.compressobj()

    async def send_zlib(frame: dict[str, Any]) -> None:
        data = stream.compress(json.dumps(frame).encode()) + stream.flush(zlib.Z_SYNC_FLUSH)
        await socket.send_bytes(data)

    return send_zlib


@asynccontextmanager
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    """A fresh :class:`FakeDiscord` that discord.py's REST calls and gateway connections reach."""
    fake = FakeDiscord()
    await fake.start()
    base, gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    Route.BASE = fake.api_url
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    try:
        yield fake
    finally:
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = base, gateway
        await fake.stop()


@asynccontextmanager
async def connected(adapter: DiscordAdapter) -> AsyncIterator[FakeDiscord]:
    """The adapter's client logged in to a fresh :class:`FakeDiscord` (no gateway connection)."""
    async with fake_discord() as fake:
        try:
            assert adapter.settings.token is not None
            await adapter.client.login(adapter.settings.token.get_secret_value())
            yield fake
        finally:
            await adapter.close()


async def gateway_event(adapter: DiscordAdapter, name: str, payload: dict[str, Any]) -> None:
    """Deliver a gateway dispatch (e.g. ``INTERACTION_CREATE``) and wait until it is handled."""
    before = asyncio.all_tasks()
    adapter.client._connection.parsers[name](payload)
    # The parser schedules the command tree or the event listeners as tasks; wait for them.
    await asyncio.gather(*(asyncio.all_tasks() - before))


def followups(fake: FakeDiscord, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The bodies of a handled slash command's follow-ups, once checked that it was deferred
    before anything else was sent."""
    calls = [c for c in fake.calls if payload["token"] in c.path]
    assert calls, "the command sent nothing"
    first, *replies = calls
    assert first.path == f"/interactions/{payload['id']}/{payload['token']}/callback"
    assert first.body["type"] == 5  # deferred channel message: "briefbot is thinking…"
    assert all(c.path == f"/webhooks/{APP_ID}/{payload['token']}" for c in replies)
    for call in replies:
        assert call.body["allowed_mentions"] == NO_PINGS
    return [c.body for c in replies]
