"""Slack latency benchmark: how long a person waits for the ack and for the answer of ``/brief``.

Everything runs in this process, on loopback, through the real code path:

1. a data directory holding the bundled sample corpus (ingested into a temp directory, or
   ``--data-dir`` reused; an empty one is filled first), opened by a fresh :class:`Briefbot` as
   ``briefbot run`` would open it;
2. a mock Slack Web API (stdlib ``http.server`` on a thread) that answers ``auth.test``,
   ``chat.postMessage`` and one response URL per request, stamping the time each arrives;
3. :class:`SlackAdapter` in HTTP mode (its aiohttp app on an ``AppRunner``, on a loopback port
   and on its own thread and event loop, like the server process it stands in for);
4. signed slash commands (``/brief What happened: <title>?``, titles of the Wikinews samples),
   first one at a time, then from ``--concurrency`` clients at once, each sending its next
   question when its previous answer arrived.

Two figures per request: **ack**, from sending ``POST /slack/events`` until its HTTP 200 has been
read (Slack gives up after 3 s), and **answer**, from the same send until the reply reaches the
request's response URL. In the concurrent run an ack that stays fast while other answers are
still being worked on shows that slow answers do not hold up acknowledgement. The first request
after start (Bolt's ``auth.test``, first search) is reported apart and left out of the figures.
Nothing is asserted; the script only prints figures.

    .venv/bin/python benchmarks/chat_latency.py [--requests 50] [--concurrency 8] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import ClientSession, ClientTimeout, web
from pydantic import SecretStr
from slack_sdk.signature import SignatureVerifier

from bot.adapters.slack import SlackAdapter
from bot.settings import SlackSettings, load_settings
from bot.wiring import Briefbot
from corpus.samples import SAMPLES_DIR

TOKEN = "xoxb-bench-token"
SECRET = "bench-signing-secret"
SLACK_DEADLINE = 3.0
WIKINEWS = SAMPLES_DIR / "wikinews-2005-07.jsonl"

# --- the mock Slack Web API ----------------------------------------------------------------

Arrival = tuple[float, dict[str, Any]]


class MockSlack:
    """Slack's side on loopback: ``auth.test``, ``chat.postMessage`` and ``/response/<key>``.

    :meth:`expect` returns a future, on the caller's loop, that gets the arrival time
    (``time.perf_counter()``, stamped on the server thread) and payload of the first message
    sent to that key's response URL.
    """

    def __init__(self) -> None:
        self.posted: list[dict[str, Any]] = []
        self.responses: dict[str, list[Arrival]] = {}
        self._waiting: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Future[Arrival]]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def api_url(self) -> str:
        return self.url("/api/")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def response_url(self, key: str) -> str:
        return self.url(f"/response/{key}")

    def expect(self, key: str) -> asyncio.Future[Arrival]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Arrival] = loop.create_future()
        with self._lock:
            self._waiting[key] = (loop, future)
        return future

    def __enter__(self) -> MockSlack:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def _answer(self, path: str, body: bytes) -> dict[str, Any]:
        arrived = time.perf_counter()
        payload: dict[str, Any] = json.loads(body) if body.startswith(b"{") else {}
        if path == "/api/auth.test":
            return {"ok": True, "user_id": "UBRIEFBOT", "bot_id": "BBRIEFBOT", "team_id": "T1"}
        if path == "/api/chat.postMessage":
            with self._lock:
                self.posted.append(payload)
            return {"ok": True, "channel": payload.get("channel"), "ts": f"{time.time():.6f}"}
        key = path.removeprefix("/response/")
        with self._lock:
            self.responses.setdefault(key, []).append((arrived, payload))
            waiting = self._waiting.pop(key, None)
        if waiting is not None:
            loop, future = waiting
            loop.call_soon_threadsafe(_settle, future, (arrived, payload))
        return {"ok": True}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        mock = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = self.path.partition("?")[0]
                known = path.startswith(("/api/auth.test", "/api/chat.postMessage", "/response/"))
                reply = json.dumps(mock._answer(path, body) if known else {"ok": False}).encode()
                self.send_response(200 if known else 404)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


def _settle(future: asyncio.Future[Arrival], arrival: Arrival) -> None:
    if not future.done():
        future.set_result(arrival)


# --- the adapter, served like `briefbot run --slack-http` ------------------------------------


@contextmanager
def serving(adapter: SlackAdapter) -> Iterator[str]:
    """The adapter's aiohttp app on a loopback port, on a thread with its own event loop, so
    the clients' clocks are not held up by the server's loop. Yields the events URL."""
    loop = asyncio.new_event_loop()

    def run_loop() -> None:
        asyncio.set_event_loop(loop)
        loop.run_forever()
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()

    thread = threading.Thread(target=run_loop, name="slack-http", daemon=True)
    thread.start()
    runner = web.AppRunner(adapter.web_app())

    async def start() -> int:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        port: int = runner.addresses[0][1]
        return port

    port = asyncio.run_coroutine_threadsafe(start(), loop).result()
    try:
        yield f"http://127.0.0.1:{port}/slack/events"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()


# --- the clients ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    ack: float  # seconds from send to the HTTP 200 having been read
    answer: float | None  # seconds from send to the reply at the response URL; None: none came
    status: int
    answered: bool  # an in-channel answer with quotes rather than an ephemeral notice
    pending: int  # other answers still outstanding when this request was acked


def slack_escape(text: str) -> str:
    """Slack sends slash-command text with &, < and > as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def questions(count: int, *, skip: int = 0) -> list[str]:
    titles = [
        json.loads(line)["title"]
        for line in WIKINEWS.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    chosen = itertools.islice(itertools.cycle(titles), skip, skip + count)
    return [f"What happened: {title.strip().rstrip('.?!')}?" for title in chosen]


class Client:
    """Sends signed ``/brief`` commands and times them; ``outstanding`` counts unanswered ones."""

    def __init__(self, session: ClientSession, *, events_url: str, slack: MockSlack) -> None:
        self.session = session
        self.events_url = events_url
        self.slack = slack
        self.timeout = 60.0
        self.outstanding = 0
        self._keys = itertools.count()
        self._verifier = SignatureVerifier(SECRET)

    async def ask(self, question: str) -> Timing:
        key = str(next(self._keys))
        body = urlencode(
            {
                "command": "/brief",
                "text": slack_escape(question),
                "user_id": "U1",
                "channel_id": "C1",
                "team_id": "T1",
                "response_url": self.slack.response_url(key),
                "trigger_id": f"1.2.{key}",
            }
        )
        timestamp = str(int(time.time()))
        signature = self._verifier.generate_signature(timestamp=timestamp, body=body)
        assert signature is not None
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": signature,
        }
        reply = self.slack.expect(key)
        self.outstanding += 1
        try:
            started = time.perf_counter()
            async with self.session.post(self.events_url, data=body, headers=headers) as response:
                await response.read()
                acked = time.perf_counter()
            pending = self.outstanding - 1
            try:
                arrived, payload = await asyncio.wait_for(reply, self.timeout)
            except TimeoutError:
                return Timing(acked - started, None, response.status, False, pending)
        finally:
            self.outstanding -= 1
        answered = payload.get("response_type") == "in_channel"
        return Timing(acked - started, arrived - started, response.status, answered, pending)


async def sequential(client: Client, asked: Sequence[str]) -> list[Timing]:
    return [await client.ask(question) for question in asked]


async def concurrent(client: Client, asked: Sequence[str], *, clients: int) -> list[Timing]:
    """``clients`` people at once, each asking again as soon as their answer arrives."""
    queue = iter(asked)
    timings: list[Timing] = []

    async def person() -> None:
        for question in queue:
            timings.append(await client.ask(question))

    await asyncio.gather(*(person() for _ in range(clients)))
    return timings


async def measure(
    events_url: str, slack: MockSlack, *, requests: int, clients: int, timeout: float
) -> tuple[Timing, list[Timing], list[Timing], float]:
    async with ClientSession(timeout=ClientTimeout(total=timeout)) as session:
        client = Client(session, events_url=events_url, slack=slack)
        client.timeout = timeout
        [first] = await sequential(client, questions(1, skip=2 * requests))
        one_by_one = await sequential(client, questions(requests))
        started = time.perf_counter()
        together = await concurrent(client, questions(requests, skip=requests), clients=clients)
        return first, one_by_one, together, time.perf_counter() - started


# --- figures -------------------------------------------------------------------------------


def p95(values: Sequence[float]) -> float:
    return sorted(values)[int(0.95 * (len(values) - 1))]


def summary(label: str, timings: Sequence[Timing]) -> list[str]:
    acks = [t.ack * 1000 for t in timings]
    answers = [t.answer * 1000 for t in timings if t.answer is not None]
    late = sum(t.ack > SLACK_DEADLINE for t in timings)
    failed = sum(t.status != 200 for t in timings)
    lines = [
        f"{label}: {len(timings)} requests, {sum(t.answered for t in timings)} answered with"
        f" quotes, {len(timings) - len(answers)} without a reply, {failed} not HTTP 200",
        f"  ack     median {statistics.median(acks):7.1f} ms   p95 {p95(acks):7.1f} ms"
        f"   max {max(acks):7.1f} ms   over {SLACK_DEADLINE:g} s: {late}",
    ]
    if answers:
        lines.append(
            f"  answer  median {statistics.median(answers):7.1f} ms   p95 {p95(answers):7.1f} ms"
            f"   max {max(answers):7.1f} ms"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", "-n", type=int, default=50, help="requests per run")
    parser.add_argument("--concurrency", "-c", type=int, default=8, help="clients at once")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for a reply")
    parser.add_argument(
        "--data-dir", type=Path, help="use this data directory (filled with the samples if empty)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"CPUs: {os.cpu_count()} (usable by this process: {usable})")
    with tempfile.TemporaryDirectory() as tmp:
        data_dir: Path = args.data_dir or Path(tmp)
        loader = Briefbot(load_settings(data_dir=data_dir))
        if not loader.store_path.exists() or loader.store.count_articles() == 0:
            started = time.perf_counter()
            report = loader.ingest_service.ingest_paths([SAMPLES_DIR])
            print(
                f"ingested the sample corpus ({report.summary()})"
                f" in {time.perf_counter() - started:.0f} s"
            )
        del loader
        # A fresh Briefbot, opened as `briefbot run` opens it (prepare, then serve).
        bot = Briefbot(load_settings(data_dir=data_dir))
        bot.prepare()
        bot.require_articles()
        print(f"corpus: {bot.store.count_articles()} articles in {data_dir}")
        with MockSlack() as slack:
            settings = SlackSettings(
                bot_token=SecretStr(TOKEN), signing_secret=SecretStr(SECRET), api_url=slack.api_url
            )
            adapter = SlackAdapter(
                bot.commands,
                settings=settings,
                admins=frozenset(),
                seen=bot.seen_events,
                feedback=bot.feedback,
            )
            with serving(adapter) as events_url:
                first, one_by_one, together, wall = asyncio.run(
                    measure(
                        events_url,
                        slack,
                        requests=args.requests,
                        clients=args.concurrency,
                        timeout=args.timeout,
                    )
                )

    answer = f"{first.answer * 1000:.0f} ms" if first.answer is not None else "none"
    print(f"\nfirst request after start: ack {first.ack * 1000:.0f} ms, answer {answer}")
    for line in summary("\none at a time", one_by_one):
        print(line)
    for line in summary(f"\n{args.concurrency} clients at once", together):
        print(line)
    pending = [t.pending for t in together]
    print(
        f"  other answers outstanding at each ack: median {statistics.median(pending):g},"
        f" max {max(pending)}; {len(together) / wall:.1f} answers/s"
    )


if __name__ == "__main__":
    main()
