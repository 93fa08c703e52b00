"""A loopback HTTP server for tests that talk HTTP: canned routes, recorded requests."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import IPv4Address
from types import TracebackType
from typing import Any

import pytest

from bot.settings import IngestSettings
from corpus.web import Fetcher, IPAddress


@dataclass(frozen=True, kw_only=True)
class Reply:
    """What a route answers. An iterable body is streamed as it comes, without Content-Length
    unless the headers give one; ``delay`` seconds pass before the status line is sent."""

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | Iterable[bytes] = b""
    delay: float = 0.0


@dataclass(frozen=True)
class Received:
    """One request as the server saw it; header names are lower-cased."""

    path: str
    headers: Mapping[str, str]
    method: str = "GET"
    body: bytes = b""


# A route is a fixed reply or a function of the request (for conditional GET, mock APIs, …).
Route = Reply | Callable[[Received], Reply]


def chunks(size: int, *, chunk: int = 64 * 1024) -> Iterator[bytes]:
    """``size`` bytes in ``chunk``-sized pieces, made lazily so large bodies cost no memory."""
    piece = b"x" * chunk
    for start in range(0, size, chunk):
        yield piece[: min(chunk, size - start)]


class LoopbackServer:
    """A threaded HTTP/1.0 server on 127.0.0.1 with an OS-chosen port.

    Unknown paths answer 404. ``close()`` wakes any delayed reply, so a test that gave up
    on a slow route does not hold up shutdown.
    """

    def __init__(self, routes: Mapping[str, Route] | None = None) -> None:
        self.routes: dict[str, Route] = dict(routes or {})
        self.requests: list[Received] = []
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> LoopbackServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _answer(self, request: Received) -> Reply:
        self.requests.append(request)
        route = self.routes.get(request.path.partition("?")[0])
        if route is None:
            return Reply(status=404, headers={"Content-Type": "text/plain"}, body=b"not found")
        return route if isinstance(route, Reply) else route(request)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                headers = {name.lower(): value for name, value in self.headers.items()}
                length = int(headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                reply = server._answer(Received(self.path, headers, self.command, body))
                if reply.delay and server._stopping.wait(reply.delay):
                    return
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    content = reply.body
                    given = {name.lower() for name in reply.headers}
                    if isinstance(content, bytes) and "content-length" not in given:
                        self.send_header("Content-Length", str(len(content)))
                    self.end_headers()
                    for piece in [content] if isinstance(content, bytes) else content:
                        self.wfile.write(piece)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading, which is what size-limit tests expect

            do_POST = do_GET  # noqa: N815 — the name http.server dispatches POST to

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep pytest output clean

        return Handler


# Named apart from the fixture so that test parameters called ``http_server`` don't shadow it.
@pytest.fixture(name="http_server")
def http_server_fixture() -> Iterator[LoopbackServer]:
    """A running loopback server; set ``routes`` in the test, read ``requests`` after."""
    with LoopbackServer() as server:
        yield server


def loopback_only(ip: IPAddress) -> bool:
    """Lets tests reach their own server while every other private address stays refused."""
    return ip == IPv4Address("127.0.0.1")


def fetcher_settings(**overrides: object) -> dict[str, Any]:
    """A Fetcher's arguments as the default settings give them, with ``overrides``; only the
    test server counts as a public address unless ``address_allowed`` says otherwise."""
    ingest = IngestSettings()
    arguments: dict[str, Any] = {
        "timeout": ingest.timeout_seconds,
        "max_bytes": int(ingest.max_download_mb * 1_000_000),
        "max_redirects": ingest.max_redirects,
        "user_agent": ingest.user_agent,
        "address_allowed": loopback_only,
    }
    return arguments | overrides


def make_fetcher(**overrides: object) -> Fetcher:
    return Fetcher(**fetcher_settings(**overrides))
