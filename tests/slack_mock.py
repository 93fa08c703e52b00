"""A stand-in for Slack's Web API on loopback: answers like Slack and records every call."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

import pytest

from tests.http_server import LoopbackServer, Received, Reply

BOT_USER = "UBRIEFBOT"
BOT_ID = "BBRIEFBOT"
TOKEN = "xoxb-test-token"
"""The one bot token this Slack accepts."""


def _ok(payload: dict[str, Any]) -> Reply:
    return Reply(
        headers={"Content-Type": "application/json"},
        body=json.dumps({"ok": True, **payload}).encode(),
    )


def _refused(_: Received) -> Reply:
    return Reply(
        headers={"Content-Type": "application/json"}, body=b'{"ok": false, "error": "invalid_auth"}'
    )


def payload(request: Received) -> dict[str, Any]:
    """A Web API call's arguments, sent as JSON or as a form."""
    if request.headers.get("content-type", "").startswith("application/json"):
        parsed: dict[str, Any] = json.loads(request.body)
        return parsed
    return dict(parse_qsl(request.body.decode()))


class MockSlack:
    """``auth.test``, ``chat.postMessage``, response URLs and private file downloads.

    ``rate_limit`` makes the next that many ``chat.postMessage`` calls answer 429.
    """

    def __init__(self, server: LoopbackServer) -> None:
        self.server = server
        self.rate_limit = 0
        self.posted: list[dict[str, Any]] = []
        """Messages Slack accepted through ``chat.postMessage`` (rate-limited tries excluded)."""
        server.routes["/api/auth.test"] = self._auth_test
        # No app token is valid here: Socket Mode can only be refused.
        server.routes["/api/apps.connections.open"] = _refused
        server.routes["/api/chat.postMessage"] = self._post_message
        server.routes["/response"] = Reply(body=b"ok")

    @property
    def api_url(self) -> str:
        return self.server.url("/api/")

    @property
    def response_url(self) -> str:
        return self.server.url("/response")

    def serve_file(self, name: str, data: bytes) -> str:
        """A private file URL that, like Slack's, needs the bot token."""
        path = f"/files-pri/{name}"

        def download(request: Received) -> Reply:
            if request.headers.get("authorization") != f"Bearer {TOKEN}":
                return Reply(status=403, body=b"no token")
            return Reply(headers={"Content-Type": "application/octet-stream"}, body=data)

        self.server.routes[path] = download
        return self.server.url(path)

    def _auth_test(self, request: Received) -> Reply:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return _refused(request)
        return _ok({"user_id": BOT_USER, "bot_id": BOT_ID, "team_id": "T1", "user": "briefbot"})

    def _post_message(self, request: Received) -> Reply:
        if self.rate_limit:
            self.rate_limit -= 1
            return Reply(
                status=429,
                headers={"Retry-After": "0", "Content-Type": "application/json"},
                body=b'{"ok": false, "error": "ratelimited"}',
            )
        sent = payload(request)
        self.posted.append(sent)
        return _ok({"channel": sent.get("channel"), "ts": "1700000000.000100", "message": sent})

    def calls(self, path: str) -> list[dict[str, Any]]:
        """The arguments of every call to ``path`` (e.g. "/api/chat.postMessage"), in order."""
        return [payload(r) for r in self.server.requests if r.path == path]

    @property
    def responses(self) -> list[dict[str, Any]]:
        """What was sent to the slash command's response URL."""
        return self.calls("/response")


@pytest.fixture(name="slack")
def slack_fixture() -> Iterator[MockSlack]:
    """A mock Slack Web API on a loopback port of its own."""
    with LoopbackServer() as server:
        yield MockSlack(server)


def free_port() -> int:
    """A loopback port nothing listens on, for a server started in another process."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
