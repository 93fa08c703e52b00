"""A stand-in for Discord on loopback, and the one place that uses discord.py's private API.

:class:`FakeDiscord` answers the REST calls briefbot makes (login, command sync, interaction
callbacks, follow-ups, channel messages, attachment downloads) over real HTTP and records them.
:func:`connected` points discord.py at it and logs the adapter's client in for real, so
``setup_hook`` syncs the command tree against it. :func:`gateway_event` feeds a raw gateway
event to the client's own parser, as the websocket would, and waits for the handlers it starts.

Private discord.py API used here, all of it pinned to discord.py 2.7.x:
``discord.http.Route.BASE`` (the API base URL) and ``ConnectionState.parsers`` (the gateway
event parsers, reached through ``Client._connection``).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import discord
from aiohttp import web
from discord.http import Route

from bot.adapters.discord import DiscordAdapter

APP_ID = 900
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
    content: str, *, author: dict[str, Any], mentions: list[dict[str, Any]]
) -> dict[str, Any]:
    """A MESSAGE_CREATE payload posted in the server's channel."""
    return {
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


class FakeDiscord:
    """Discord's REST API as far as briefbot uses it, on an OS-chosen loopback port."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.files: dict[str, bytes] = {}
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    def file_url(self, name: str, data: bytes) -> str:
        """Serve ``data`` the way Discord's CDN serves an attachment."""
        self.files[name] = data
        return f"http://127.0.0.1:{self.port}/attachments/{name}"

    def sent(self, method: str, prefix: str) -> list[Call]:
        """The calls of ``method`` whose path starts with ``prefix``, in order."""
        return [c for c in self.calls if c.method == method and c.path.startswith(prefix)]

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

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

    @staticmethod
    def _message(body: dict[str, Any], *, channel: int, webhook: bool) -> dict[str, Any]:
        sent = {key: body.get(key) for key in ("content", "embeds")}
        return channel_message(str(sent["content"] or ""), author=BOT_USER, mentions=[]) | {
            "channel_id": str(channel),
            "embeds": sent["embeds"] or [],
            **({"webhook_id": str(APP_ID)} if webhook else {}),
        }


@asynccontextmanager
async def connected(adapter: DiscordAdapter) -> AsyncIterator[FakeDiscord]:
    """The adapter's client logged in to a fresh :class:`FakeDiscord` (no gateway connection)."""
    fake = FakeDiscord()
    await fake.start()
    base = Route.BASE
    Route.BASE = fake.api_url
    try:
        assert adapter.settings.token is not None
        await adapter.client.login(adapter.settings.token.get_secret_value())
        yield fake
    finally:
        await adapter.close()
        Route.BASE = base
        await fake.stop()


async def gateway_event(adapter: DiscordAdapter, name: str, payload: dict[str, Any]) -> None:
    """Deliver a gateway dispatch (e.g. ``INTERACTION_CREATE``) and wait until it is handled."""
    before = asyncio.all_tasks()
    adapter.client._connection.parsers[name](payload)
    # The parser schedules the command tree or the event listeners as tasks; wait for them.
    await asyncio.gather(*(asyncio.all_tasks() - before))
