"""Fault catalogue: bad inputs and faults thrown at the real ``briefbot`` command and Slack server.

Issue 11 asks that no input, however wrong, ends in a traceback, a lost article or a leaked
secret. This script measures that. Every case runs the real code path in a subprocess
(``python -m bot …``), or sends HTTP requests to one real ``briefbot run --slack-http`` that faces
the loopback Slack stand-in of the tests (``tests/slack_mock.py``, requests signed with
``tests/slack_harness.py``); web pages and feeds come from the tests' loopback server
(``tests/http_server.py``). Nothing leaves 127.0.0.1.

A case **holds** when the process did not crash (no "Traceback" anywhere), a refused input got a
clear message (a CLI error is exactly one stderr line starting with ``error:``; a batch ingest
says ``failed <origin>: <reason>`` per item while the good items are still added), no token or
signing secret appears in any output or log, and nothing stored was lost (store counts read
directly from ``briefbot.sqlite3``). A Slack request holds when it gets the right 4xx (400
malformed, 401 unsigned/bad/stale, 413 too large) or a 200 with a proper reply, nothing reaches
Slack for a refused request, and the server's stderr grows by a short line, without a traceback.

One line per case, ``held|FAILED  <category>  <case>  <detail>``, then the summary
``fault catalogue: N tried, M held, K failed``. The exit status is 0 whatever held (it is a
measurement) and 1 only when the catalogue could not run (the sample store or the Slack server
could not be set up).

To keep it within minutes on two cores, one indexed data directory is built once (the TASS sample
and the first Wikinews samples) and copied for every case that opens a store; one Slack server
serves all Slack cases; inputs that the CLI reads as a batch (``ask`` on stdin, ``chat``, one
``ingest`` of a directory or of many URLs) are sent to one process, which is restarted after the
line it crashed on, so a crash still costs only its own case. The packages are copied before
anything runs (from the working tree, or with ``--rev`` from a commit), so edits made meanwhile
do not mix into the measurement.

    .venv/bin/python benchmarks/fault_catalogue.py [--jobs 3] [--only WORD] [--rev HEAD] [--keep]
"""

from __future__ import annotations

import argparse
import codecs
import http.client
import io
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode
from xml.sax.saxutils import escape

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # tests/ is not an installed package

from bot.settings import DEFAULT_MODEL  # noqa: E402
from corpus.feeds import FeedStore  # noqa: E402
from corpus.samples import SAMPLES_DIR  # noqa: E402
from retrieval.chunking import CHARS_PER_WORD  # noqa: E402
from retrieval.vector_index import snapshot_path  # noqa: E402
from tests.articles import synthetic_articles  # noqa: E402
from tests.cli_harness import store_counts  # noqa: E402
from tests.http_server import LoopbackServer, Reply, chunks  # noqa: E402
from tests.slack_harness import signed_headers  # noqa: E402
from tests.slack_mock import TOKEN, MockSlack, free_port  # noqa: E402

T = TypeVar("T")
Verdict = tuple[bool, str]
Arg = str | bytes | Path

# Secrets every CLI run is given, so that a message or log that prints settings is caught.
CANARY_TOKEN = "xoxb-canary-7f3a9c5e"
CANARY_SECRET = "canary-signing-secret-51d0"
SLACK_SECRET = "fault-catalogue-signing-secret"
ADMIN = "UADMIN"
KIM = "What did Kim Jong Un inspect in Vladivostok?"
WIKINEWS_SAMPLES = 15  # with the TASS article: enough to answer KIM, quick to index
CLI_TIMEOUT = 300.0  # a model load takes seconds idle, a minute on a busy machine
HTTP_TIMEOUT = 30.0
STDERR_PER_REQUEST = 4096  # a refused Slack request is logged in one short line, never its body
# The run-on case uses the largest passages allowed: 2 MB then costs ~200 passages to embed
# instead of ~2,000 (minutes on a busy machine); the cap on their length is checked all the same.
RUN_ON_CHUNK_WORDS = 1000  # the most BRIEFBOT_RETRIEVAL__CHUNK_WORDS accepts
MAX_PASSAGE_CHARS = RUN_ON_CHUNK_WORDS * CHARS_PER_WORD


class SetupError(Exception):
    """The catalogue itself could not be set up; nothing about briefbot can be concluded."""


# --- running the command --------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One finished (or killed) ``briefbot`` process; ``code`` is None when it timed out."""

    code: int | None
    out: str
    err: str
    seconds: float
    secrets: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return self.out + self.err

    def faults(self) -> list[str]:
        """What is wrong with any run: a hang, a traceback, a secret in the output."""
        found = []
        if self.code is None:
            found.append(f"timed out after {self.seconds:.0f} s")
        if "Traceback" in self.text:
            found.append(f"traceback: {short(crash_line(self.text), 90)}")
        if any(secret in self.text for secret in self.secrets):
            found.append("a secret appears in the output")
        return found


def crash_line(text: str) -> str:
    """The last line of the first traceback in ``text`` (the exception and its message)."""
    _, _, after = text.partition("Traceback")
    lines = [line for line in after.splitlines() if line.strip()]
    ends = [line for line in lines if not line.startswith((" ", "Traceback"))]
    return (ends or lines or ["?"])[0]


def short(text: str, limit: int = 110) -> str:
    """One printable line of at most ``limit`` characters."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def nonblank(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def secrets_of(env: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(
        value
        for name, value in env.items()
        if name.startswith("BRIEFBOT_") and name.endswith(("TOKEN", "SECRET")) and value
    )


def base_env(source: Path) -> dict[str, str]:
    """The caller's environment without its briefbot settings, plus the canary secrets;
    ``source`` holds the packages to run."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("BRIEFBOT_") and name != "FORCE_COLOR"
    }
    return env | {
        "BRIEFBOT_LOAD_SAMPLES": "false",
        "BRIEFBOT_SLACK__BOT_TOKEN": CANARY_TOKEN,
        "BRIEFBOT_SLACK__SIGNING_SECRET": CANARY_SECRET,
        "COLUMNS": "500",  # rich wraps at 80 columns in a pipe; one item, one line
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PYTHONPATH": str(source),
    }


def spawn(
    args: Sequence[Arg], *, env: Mapping[str, str], cwd: Path, stdin: bool = False
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", *args],
        stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env),
        cwd=cwd,
    )


def finish(
    process: subprocess.Popen[bytes],
    *,
    stdin: bytes | None = None,
    timeout: float = CLI_TIMEOUT,
    secrets: tuple[str, ...] = (),
    started: float | None = None,
) -> Run:
    """Wait for a spawned process (killing it after ``timeout``) and collect what it said."""
    started = time.monotonic() if started is None else started
    code: int | None
    try:
        out, err = process.communicate(stdin, timeout=timeout)
        code = process.returncode
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        code = None
    return Run(
        code=code,
        out=out.decode("utf-8", errors="replace"),
        err=err.decode("utf-8", errors="replace"),
        seconds=time.monotonic() - started,
        secrets=secrets,
    )


# --- judging ---------------------------------------------------------------------------------


def verdict(problems: Sequence[str], detail: str) -> Verdict:
    return (False, "; ".join(problems)) if problems else (True, short(detail))


def error_line(run: Run, *, mentions: Sequence[str] = ()) -> Verdict:
    """A refused command: exit status not 0 and exactly one stderr line, ``error: …``."""
    problems = run.faults()
    lines = nonblank(run.err)
    if run.code == 0:
        problems.append("exit status 0")
    if len(lines) != 1 or not lines[0].startswith("error:"):
        first = f": {short(lines[0], 60)}" if lines else ""
        problems.append(f"{len(lines)} stderr lines, not one 'error:' line{first}")
    elif mentions and not any(m.lower() in lines[0].lower() for m in mentions):
        problems.append(f"the error does not say why: {short(lines[0], 70)}")
    return verdict(problems, lines[0] if lines else "")


def failed_item(run: Run, fragment: str, *, reason: Sequence[str] = ()) -> Verdict:
    """A batch item refused in its own ``failed <origin>: <reason>`` line."""
    problems = run.faults()
    lines = [
        line
        for line in nonblank(run.text)
        if line.startswith("failed ") and fragment in line.partition(": ")[0]
    ]
    if not lines:
        problems.append(f"no 'failed …{fragment}: <reason>' line")
        return verdict(problems, "")
    why = lines[0].partition(": ")[2]
    if not why.strip():
        problems.append("the failure gives no reason")
    elif reason and not any(word.lower() in why.lower() for word in reason):
        problems.append(f"unclear reason: {short(why, 70)}")
    return verdict(problems, why)


def answers_kim(answer: object) -> bool:
    """An answer that quotes the TASS article about Kim's visit."""
    if not isinstance(answer, dict) or not answer.get("found"):
        return False
    quotes = answer.get("quotes") or []
    return any(isinstance(q, dict) and q.get("source") == "TASS" for q in quotes)


# --- the store, read directly ----------------------------------------------------------------


def counts(data_dir: Path) -> dict[str, int] | None:
    """Articles, passages, unembedded passages, keyword rows, duplicates; None if unreadable."""
    try:
        return store_counts(data_dir)
    except sqlite3.Error:
        return None


def query(data_dir: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"file:{data_dir / 'briefbot.sqlite3'}?mode=ro", uri=True, timeout=30)
    try:
        return list(conn.execute(sql).fetchall())
    finally:
        conn.close()


def titles(data_dir: Path) -> set[str]:
    """The stored titles; none when there is no readable store."""
    try:
        return {str(row[0]) for row in query(data_dir, "SELECT title FROM articles")}
    except sqlite3.Error:
        return set()


def intact(
    before: dict[str, int] | None, after: dict[str, int] | None, *, added: int | None = None
) -> list[str]:
    """Nothing lost, every passage embedded and keyword-indexed, no article twice."""
    if before is None or after is None:
        return ["the store could not be read"]
    problems = []
    if after["articles"] < before["articles"]:
        problems.append(f"articles went from {before['articles']} to {after['articles']}")
    if added is not None and after["articles"] != before["articles"] + added:
        problems.append(f"{after['articles'] - before['articles']} articles added, not {added}")
    if after.get("unembedded"):
        problems.append(f"{after['unembedded']} passages without a vector")
    if after.get("keywords") != after.get("passages"):
        problems.append(f"keyword index {after.get('keywords')} of {after.get('passages')}")
    if after.get("duplicated"):
        problems.append(f"{after['duplicated']} articles stored twice")
    return problems


# --- test material ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Story:
    title: str
    text: str

    def txt(self) -> str:
        return f"{self.title}\n{self.text}"

    def html(self) -> bytes:
        paragraphs = "".join(f"<p>{escape(s)}.</p>" for s in self.text.split(". "))
        return (
            "<!doctype html><html><head><meta charset='utf-8'>"
            f"<title>{escape(self.title)}</title></head><body>"
            "<nav><a href='/'>Home</a> <a href='/world'>World</a></nav>"
            f"<article><h1>{escape(self.title)}</h1>{paragraphs}</article>"
            "<footer>Contact us</footer></body></html>"
        ).encode()


# Distinct topics, so that no two of them count as near-duplicates of each other.
STORIES = (
    Story(
        "Quillmere opens a floating library",
        "The harbour town of Quillmere opened a floating library built from three retired fishing"
        " boats on Tuesday. Mayor Orla Penhallow said the library holds 4,000 books and will sail"
        " between the villages of the estuary every summer. Volunteers spent two winters"
        " refitting the hulls and building shelves that stay put in rough water",
    ),
    Story(
        "Valdoria orchard growers test frost-warning drones",
        "Apple growers in the Valdoria valley are testing drones that measure air temperature"
        " above the trees at night. When frost threatens, the drones wake the farmers and start"
        " the wind machines. The cooperative hopes to save a third of the blossom lost to late"
        " frosts in recent springs",
    ),
    Story(
        "Teldor council approves a night-bus network",
        "The city council of Teldor voted 31 to 9 to launch eight night-bus routes in March."
        " Hospital and hotel workers had petitioned for transport after midnight for years."
        " The buses will run every twenty minutes until five in the morning, paid for by a"
        " parking levy in the old town",
    ),
    Story(
        "Marrowfield museum returns a bronze bell to its chapel",
        "The Marrowfield museum handed a fifteenth-century bronze bell back to the chapel of"
        " Ostrel, from which it was taken during the war. Restorers cleaned the bell but left"
        " its dents untouched. Parishioners rang it on Sunday for the first time in eighty"
        " years",
    ),
    Story(
        "Kestrel Bay ferry strike ends after a pay deal",
        "Ferry crews in Kestrel Bay returned to work on Friday after a nine-day strike. The"
        " operator agreed to raise wages by six percent and to hire twelve more deckhands."
        " Islanders had relied on fishing boats to bring in bread, post and medicine while the"
        " ferries stayed in port",
    ),
    Story(
        "Researchers map glacier caves beneath Mount Ilvar",
        "A team of glaciologists spent three weeks mapping meltwater caves under the Ilvar"
        " glacier with laser scanners. The caves have grown by half since the last survey a"
        " decade ago. The data will help the valley's hydropower plant forecast spring floods",
    ),
)
CP1252_STORY = Story(
    "Café Brünnerhof reopens after flood repairs",
    "The Café Brünnerhof in Altbach reopened its doors on Monday after the spring flood. The"
    " owners rebuilt the counter and kept the old crème-brûlée recipe. Regulars queued before"
    " dawn for the first coffee",
)
NAV_ONLY = (
    b"<!doctype html><html><head><title>Home</title></head><body><nav><a href='/'>Home</a>"
    b" <a href='/world'>World</a> <a href='/sport'>Sport</a></nav></body></html>"
)


def rss(title: str, items: Sequence[tuple[str, str, str | None]]) -> bytes:
    """An RSS 2.0 feed of (title, link, description or None) items."""
    entries = "".join(
        f"<item><title>{escape(t)}</title><link>{escape(link)}</link><guid>{escape(link)}</guid>"
        + (f"<description>{escape(d)}</description>" if d else "")
        + "</item>"
        for t, link, d in items
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>http://127.0.0.1/</link>{entries}</channel></rss>"
    ).encode()


def run_on_text(size: int) -> str:
    """A title and ``size`` characters of long words with no punctuation at all."""
    rng = random.Random(5)
    words = sorted(
        {w.strip(".,").lower() for story in STORIES for w in story.text.split() if len(w) > 8}
    )
    body: list[str] = []
    length = 0
    while length < size:
        word = rng.choice(words)
        body.append(word)
        length += len(word) + 1
    return "A page that never ends\n" + " ".join(body)


def _loop_to(target: str) -> Reply:
    return Reply(status=302, headers={"Location": target})


def page(body: bytes, content_type: str = "text/html; charset=utf-8") -> Reply:
    return Reply(headers={"Content-Type": content_type}, body=body)


def web_routes(url: Callable[[str], str]) -> dict[str, Reply]:
    """Everything the loopback web server answers (``url`` makes a path absolute); a path
    nobody routes is a 404."""
    routes = {f"/story/{i}": page(story.html()) for i, story in enumerate(STORIES)}
    poison = b'<?xml version="1.0"?><rss version="2.0"><channel><title>Poison' + bytes(
        random.Random(3).randrange(256) for _ in range(4000)
    )
    routes |= {
        "/private-probe": page(STORIES[0].html()),
        "/admin-probe": page(STORIES[0].html()),
        "/server-error": Reply(status=500, body=b"boom"),
        "/nav-only": page(NAV_ONLY),
        "/image": page(b"\x89PNG\r\n\x1a\n" + bytes(200), "image/png"),
        "/unknown-charset": page(STORIES[5].html(), "text/html; charset=x-nonexistent"),
        "/oversize": Reply(headers={"Content-Type": "text/html"}, body=chunks(60_000)),
        "/loop-a": _loop_to("/loop-b"),
        "/loop-b": _loop_to("/loop-a"),
        "/slow": Reply(headers={"Content-Type": "text/html"}, body=STORIES[1].html(), delay=6),
        "/feed/charset.xml": page(
            rss("Charset Times", [(STORIES[1].title, url("/story/1"), None)]),
            "application/rss+xml; charset=x-nonexistent",
        ),
        "/feed/broken-links.xml": page(
            rss(
                "Broken Links Gazette",
                [
                    (STORIES[3].title, url("/gone/1"), STORIES[3].text),
                    ("An entry with nothing", url("/gone/2"), None),
                ],
            ),
            "application/rss+xml",
        ),
        "/feed/poison.xml": page(poison, "application/rss+xml"),
        "/feed/good.xml": page(
            rss("Good Herald", [(STORIES[4].title, url("/story/4"), None)]), "application/rss+xml"
        ),
    }
    return routes


# --- shared, built once ----------------------------------------------------------------------


class Once(Generic[T]):
    """A value built on first use by one thread; later callers wait for it and share it
    (or share the exception that building it raised)."""

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._done = False
        self._value: T | None = None
        self._error: BaseException | None = None

    def __call__(self) -> T:
        with self._lock:
            if not self._done:
                try:
                    self._value = self._build()
                except Exception as exc:
                    self._error = exc
                self._done = True
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]  # set whenever no error was raised


@dataclass(frozen=True)
class Line:
    """One input line of a batch session and what became of it (``reply`` None: it crashed)."""

    reply: str | None
    run: Run

    def problems(self) -> list[str]:
        if self.reply is not None:
            return []
        why = self.run.faults() or [f"the process ended (exit {self.run.code})"]
        return ["no reply: " + "; ".join(why)]


def chat_replies(out: str) -> list[str]:
    """The chat prints a prompt before reading each line: what lies between two is a reply."""
    return out.split("you ›")[1:-1]


@dataclass(frozen=True)
class HttpResult:
    """Status and body of one request; ``status`` None when the connection was dropped."""

    status: int | None
    body: bytes = b""
    error: str = ""

    def __str__(self) -> str:
        return str(self.status) if self.status is not None else f"dropped ({self.error})"


class SlackServer:
    """``briefbot run --slack-http`` in a subprocess, with the mock Slack Web API it talks to."""

    def __init__(self, root: Path, env: Mapping[str, str]) -> None:
        self.mock_server = LoopbackServer()
        self.mock = MockSlack(self.mock_server)
        self.port = free_port()
        self.log_path = root / "slack-server.log"  # its stdout and stderr
        data_dir = root / "slack-data"
        self.secrets = (TOKEN, SLACK_SECRET)
        self.env = dict(env) | {
            "BRIEFBOT_SLACK__BOT_TOKEN": TOKEN,
            "BRIEFBOT_SLACK__SIGNING_SECRET": SLACK_SECRET,
            "BRIEFBOT_SLACK__API_URL": self.mock.api_url,
            "BRIEFBOT_ADMINS": ADMIN,
            "BRIEFBOT_DATA_DIR": str(data_dir),
            # Lets a link reach the loopback web server, so a refused add proves the admin check.
            "BRIEFBOT_INGEST__ALLOW_PRIVATE_NETWORKS": "true",
        }
        listen = ["run", "--slack-http", "--host", "127.0.0.1", "--port", str(self.port)]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot", *listen],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=root,
            )
        self.ready = Once(self._wait_ready)

    def _wait_ready(self) -> SlackServer:
        deadline = time.monotonic() + 2 * CLI_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = short(self.log_path.read_text(errors="replace")[-300:], 200)
                raise SetupError(f"the Slack server exited ({self.process.returncode}): {tail}")
            if self.request("GET", "/healthz", timeout=2).status == 200:
                return self
            time.sleep(0.3)
        raise SetupError("the Slack server did not come up")

    def request(
        self,
        method: str,
        path: str = "/slack/events",
        body: bytes | Iterable[bytes] = b"",
        headers: Mapping[str, str] | None = None,
        *,
        timeout: float = HTTP_TIMEOUT,
    ) -> HttpResult:
        """One request on a connection of its own; an iterable body is sent chunked."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(
                method,
                path,
                body=body,
                headers={"Connection": "close", **(headers or {})},
                encode_chunked=not isinstance(body, bytes),
            )
            response = conn.getresponse()
            return HttpResult(response.status, response.read())
        except (OSError, http.client.HTTPException) as exc:
            return HttpResult(None, error=type(exc).__name__)
        finally:
            conn.close()

    def respond_url(self, key: str) -> str:
        """A response URL of one case's own, so its replies can be counted apart."""
        path = f"/response/{key}"
        self.mock_server.routes[path] = Reply(body=b"ok")
        return self.mock_server.url(path)

    def responses(self, key: str) -> list[bytes]:
        return [r.body for r in self.mock_server.requests if r.path == f"/response/{key}"]

    def traffic(self) -> int:
        """Messages sent to Slack so far: response URLs and chat.postMessage."""
        return sum(
            1
            for r in self.mock_server.requests
            if r.path.startswith("/response") or r.path == "/api/chat.postMessage"
        )

    def log_size(self) -> int:
        return self.log_path.stat().st_size

    def log_since(self, offset: int) -> str:
        with self.log_path.open("rb") as log:
            log.seek(offset)
            return log.read().decode("utf-8", errors="replace")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        self.mock_server.close()


PACKAGES = ("bot", "corpus", "retrieval")


def copy_source(target: Path, *, rev: str | None) -> Path:
    """A copy of the packages to run, taken once: others may edit the tree while this runs.

    ``rev`` takes them from a commit (``git archive``, which leaves the tree alone) instead of
    the working tree.
    """
    if rev is None:
        for package in PACKAGES:
            ignore = shutil.ignore_patterns("__pycache__")
            shutil.copytree(REPO / package, target / package, ignore=ignore)
        return target
    try:
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", rev, *PACKAGES],
            capture_output=True,
            timeout=60,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise SetupError(f"git archive {rev} failed: {exc}") from None
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target


class Fixtures:
    """Everything the cases share: a scratch directory, the web server, the indexed data
    directory, the Slack server and the batch sessions, each built once on first use."""

    def __init__(self, root: Path, *, with_slack: bool, rev: str | None = None) -> None:
        self.root = root
        self.source = copy_source(root / "src", rev=rev)
        self.env = base_env(self.source)
        self.cwd = root / "cwd"  # no .env here, and no ./data to touch
        self.cwd.mkdir()
        self.web = LoopbackServer()
        self.web.routes.update(web_routes(self.web.url))
        self._names = iter(range(1_000_000))
        self._names_lock = threading.Lock()
        self.base = Once(self._build_base)
        self.base_counts: dict[str, int] | None = None
        self.slack = SlackServer(root, self.env) if with_slack else None
        self.ask_batch = Once(partial(self._session, "ask", ASK_LINES, str.splitlines))
        self.chat = Once(partial(self._session, "chat", CHAT_LINES, chat_replies))
        self.mixed = Once(self._mixed_ingest)
        self.urls_public = Once(self._urls_public)
        self.urls_private = Once(self._urls_private)
        self.killed = Once(self._killed_ingest)

    def close(self) -> None:
        if self.slack is not None:
            self.slack.close()
        self.web.close()

    # -- directories and processes --

    def fresh(self, label: str) -> Path:
        """A new path under the scratch directory (not created)."""
        with self._names_lock:
            number = next(self._names)
        return self.root / f"{number:03d}-{label}"

    def copy_base(self, label: str) -> Path:
        target = self.fresh(label)
        shutil.copytree(self.base(), target)
        return target

    def url(self, path: str) -> str:
        return self.web.url(path)

    def cli(
        self,
        *args: Arg,
        env: Mapping[str, str] | None = None,
        stdin: bytes | None = None,
        cwd: Path | None = None,
        timeout: float = CLI_TIMEOUT,
    ) -> Run:
        full = self.env | dict(env or {})
        started = time.monotonic()
        process = spawn(args, env=full, cwd=cwd or self.cwd, stdin=stdin is not None)
        return finish(
            process, stdin=stdin, timeout=timeout, secrets=secrets_of(full), started=started
        )

    def slack_server(self) -> SlackServer:
        if self.slack is None:
            raise SetupError("the Slack server was not started")
        return self.slack.ready()

    # -- built once --

    def _build_base(self) -> Path:
        samples = self.root / "samples"
        samples.mkdir()
        for md in SAMPLES_DIR.glob("*.md"):
            shutil.copy(md, samples / md.name)
        for jsonl in SAMPLES_DIR.glob("*.jsonl"):
            lines = jsonl.read_text(encoding="utf-8").splitlines()[:WIKINEWS_SAMPLES]
            (samples / jsonl.name).write_text("\n".join(lines) + "\n", encoding="utf-8")
        base = self.root / "base"
        run = self.cli("ingest", samples, "--data-dir", base, timeout=3 * CLI_TIMEOUT)
        stored = counts(base)
        if run.code != 0 or not stored or stored["articles"] < 2:
            raise SetupError(f"indexing the samples failed: {short(run.err[-400:], 200)}")
        self.base_counts = stored
        return base

    def _session(
        self, command: str, lines: Sequence[tuple[str, bytes]], split: Callable[[str], list[str]]
    ) -> dict[str, Line]:
        """Send every line to one process; after a crash, start again after the crashing line."""
        data_dir = self.copy_base(command)
        names = [name for name, _ in lines]
        outcome: dict[str, Line] = {}
        start = 0
        while start < len(lines):
            stdin = b"".join(raw + b"\n" for _, raw in lines[start:])
            run = self.cli(command, "--data-dir", data_dir, stdin=stdin)
            replies = split(run.out)[: len(lines) - start]
            for name, reply in zip(names[start:], replies, strict=False):
                outcome[name] = Line(reply, run)
            start += len(replies)
            if start < len(lines):
                outcome[names[start]] = Line(None, run)
                start += 1
        return outcome

    def _mixed_ingest(self) -> tuple[Run, Path, dict[str, int] | None]:
        data_dir = self.copy_base("mixed")
        before = counts(data_dir)
        folder = self.fresh("mixed-files")
        folder.mkdir()
        explicit = []
        for item in MIXED:
            path = folder / item.name
            if item.data is None:
                path.symlink_to(item.name)  # a link to itself: every open loops
            else:
                path.write_bytes(item.data)
            if item.explicit:
                explicit.append(path)
        run = self.cli(
            "ingest", folder, *explicit, "--data-dir", data_dir,
            env={"BRIEFBOT_INGEST__MAX_FILE_MB": "1"},
        )  # fmt: skip
        return run, data_dir, before

    def _urls_public(self) -> tuple[Run, Path]:
        """URLs that must be refused without private networks allowed, and one good file."""
        data_dir = self.copy_base("urls-public")
        good = self.fresh("good.txt")
        good.write_text(STORIES[0].txt(), encoding="utf-8")
        urls = ["http://[::1", "ftp://x", self.url("/private-probe")]
        return self.cli("ingest", *urls, good, "--data-dir", data_dir), data_dir

    def _urls_private(self) -> tuple[Run, Path]:
        """Broken pages on the loopback server, private networks allowed, tight limits."""
        data_dir = self.copy_base("urls")
        paths = [path for path, _ in URL_FAILURES] + ["/story/2", "/unknown-charset"]
        env = {
            "BRIEFBOT_INGEST__ALLOW_PRIVATE_NETWORKS": "true",
            "BRIEFBOT_INGEST__MAX_DOWNLOAD_MB": "0.01",
            "BRIEFBOT_INGEST__TIMEOUT_SECONDS": "1",
        }
        run = self.cli("ingest", *map(self.url, paths), "--data-dir", data_dir, env=env)
        return run, data_dir

    def _killed_ingest(self) -> tuple[Path, Path, int, int]:
        """An ingest killed with SIGKILL after its first commit: (data dir, source, committed,
        total)."""
        total = 240
        source = self.fresh("kill.jsonl")
        rows = synthetic_articles(total, seed=11, words=14)
        source.write_text("\n".join(json.dumps(row) for row in rows), encoding="utf-8")
        data_dir = self.fresh("killed")
        env = self.env | {"BRIEFBOT_INGEST__COMMIT_EVERY": "16"}
        process = spawn(["ingest", source, "--data-dir", data_dir], env=env, cwd=self.cwd)
        deadline = time.monotonic() + CLI_TIMEOUT
        while process.poll() is None and time.monotonic() < deadline:
            if (counts(data_dir) or {}).get("articles", 0) > 0:
                break
            time.sleep(0.05)
        time.sleep(0.2)
        ended_early = process.poll() is not None
        process.kill()
        finish(process, timeout=60)
        committed = (counts(data_dir) or {}).get("articles", 0)
        if ended_early or not 0 < committed < total:
            raise RuntimeError(f"the ingest was not killed mid-way ({committed} of {total})")
        return data_dir, source, committed, total


# --- questions -------------------------------------------------------------------------------


def question_refused(question: Arg, mentions: Sequence[str], fx: Fixtures) -> Verdict:
    """``briefbot ask`` refuses a question in one line, before any model loads."""
    return error_line(fx.cli("ask", question, "--data-dir", fx.copy_base("ask")), mentions=mentions)


def ask_option_refused(option: Sequence[str], mentions: Sequence[str], fx: Fixtures) -> Verdict:
    run = fx.cli("ask", KIM, *option, "--data-dir", fx.copy_base("ask"))
    return error_line(run, mentions=mentions)


def ask_undecodable_argv(fx: Fixtures) -> Verdict:
    """A question argument in Latin-1 bytes reaches Python as lone surrogates."""
    run = fx.cli(
        "ask", b"What did Kim inspect at the caf\xe9 in Vladivostok?", "--json",
        "--data-dir", fx.copy_base("ask"),
    )  # fmt: skip
    problems = run.faults()
    if run.code == 0:
        try:
            json.loads(run.out)
        except ValueError:
            problems.append("stdout is not the JSON answer")
        return verdict(problems, "answered")
    return error_line(run) if not problems else verdict(problems, "")


def batch_json(line: Line) -> tuple[dict[str, object] | None, list[str]]:
    """The JSON object a batch printed for one input line, or what is wrong with it."""
    if line.reply is None:
        return None, line.problems()
    try:
        parsed = json.loads(line.reply)
    except ValueError:
        return None, [f"not one JSON line: {short(line.reply, 60)}"]
    if not isinstance(parsed, dict):
        return None, ["not a JSON object"]
    return parsed, []


def batch_line(name: str, expect: str, fx: Fixtures) -> Verdict:
    """One line of ``briefbot ask`` reading stdin: an answer or an error object, as expected,
    and the good lines around it still answered."""
    session = fx.ask_batch()
    parsed, problems = batch_json(session[name])
    for good in ("good first", "good last"):
        answer, _ = batch_json(session[good])
        if not answers_kim(answer):
            problems.append(f"the {good} line was not answered")
    if parsed is not None:
        if expect == "error" and not parsed.get("error"):
            problems.append("accepted instead of refused")
        if expect == "answer" and "found" not in parsed:
            problems.append(f"not answered: {short(str(parsed.get('error')), 60)}")
        if any(c in json.dumps(parsed, ensure_ascii=False) for c in "\x1b\x07"):
            problems.append("control characters echoed back")
    detail = str((parsed or {}).get("error") or f"answered, found={(parsed or {}).get('found')}")
    return verdict(problems, detail)


ASK_LINES: tuple[tuple[str, bytes], ...] = (
    ("good first", KIM.encode()),
    ("invalid UTF-8", b"What did Kim \xff\xfe inspect in Vladivostok?"),
    ("lone surrogate (JSON escape)", b'{"question": "What did Kim\\ud800 inspect?"}'),
    ("surrogate as UTF-8 bytes", b"What did Kim \xed\xa0\x80 inspect?"),
    ("ANSI and OSC escapes", b"\x1b]0;pwned\x07What did \x1b[31mKim\x1b[0m inspect?"),
    ("bad now", json.dumps({"question": KIM, "now": "garbage"}).encode()),
    ("malformed JSON", b'{"question": "unterminated'),
    ("JSON without a question", b'{"q": 1}'),
    ("good last", json.dumps({"question": KIM, "now": "2023-09-20T09:00+00:00"}).encode()),
)
BATCH_EXPECT = {
    "invalid UTF-8": "answer",
    "lone surrogate (JSON escape)": "answer",
    "surrogate as UTF-8 bytes": "answer",
    "ANSI and OSC escapes": "answer",
    "bad now": "error",
    "malformed JSON": "error",
    "JSON without a question": "error",
}


# --- ingest: files ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """A file of the mixed directory. ``data`` None makes it a symlink to itself; ``explicit``
    files are named on the command line (a directory walk skips unknown types and broken
    links); ``title`` is what an item that must be added is stored as."""

    label: str
    name: str
    data: bytes | None
    fragment: str = ""
    reason: tuple[str, ...] = ()
    explicit: bool = False
    title: str | None = None


def _record(story: Story) -> dict[str, str]:
    return {"title": story.title, "text": story.text}


MIXED = (
    Item("good .txt", "good.txt", STORIES[0].txt().encode(), title=STORIES[0].title),
    Item(
        "good .md with front matter",
        "good.md",
        f"---\ntitle: {STORIES[1].title}\nsource: Valley Post\n---\n{STORIES[1].text}\n".encode(),
        title=STORIES[1].title,
    ),
    Item(
        "binary junk .html",
        "junk.html",
        bytes(random.Random(1).randrange(256) for _ in range(20_000)),
        "junk.html",
    ),
    Item(
        "broken YAML front matter",
        "broken.md",
        b"---\ntitle: [unclosed\nsource: {a: b\n---\nSome text.\n",
        "broken.md",
        ("front matter", "yaml"),
    ),
    Item("100,000-deep JSON", "deep.json", b"[" * 100_000 + b"]" * 100_000, "deep.json"),
    Item(
        "JSON with a UTF-8 BOM",
        "bom.json",
        codecs.BOM_UTF8 + json.dumps(_record(STORIES[2])).encode(),
        title=STORIES[2].title,
    ),
    Item(
        "Windows-1252 .txt",
        "latin.txt",
        CP1252_STORY.txt().encode("cp1252"),
        title=CP1252_STORY.title,
    ),
    Item("empty .txt", "empty.txt", b"", "empty.txt"),
    Item("a .pdf that is not a PDF", "fake.pdf", b"%PDX this is not a PDF\n" * 20, "fake.pdf"),
    Item(
        "unknown extension",
        "notes.xyz",
        STORIES[3].txt().encode(),
        "notes.xyz",
        ("unsupported", "type"),
        explicit=True,
    ),
    Item("NUL bytes in a .txt", "nul.txt", b"A title\nsome\x00text\x00here", "nul.txt"),
    Item("a symlink loop", "loop.txt", None, "loop.txt", explicit=True),
    Item(
        "file over MAX_FILE_MB",
        "big.txt",
        b"Big file\n" + b"word " * 300_000,
        "big.txt",
        ("larger", "MB"),
    ),
    Item("escape sequence in the name", "evil\x1b[2Jname.txt", b"", "name.txt"),
    Item(
        ".jsonl with bad lines",
        "mixed.jsonl",
        json.dumps(_record(STORIES[4])).encode() + b"\n{not json\n42\n",
        "mixed.jsonl:2",
        ("JSON",),
        title=STORIES[4].title,
    ),
)


def mixed_item(item: Item, fx: Fixtures) -> Verdict:
    run, data_dir, _ = fx.mixed()
    if item.title is not None and not item.fragment:
        problems = run.faults()
        if item.title not in titles(data_dir):
            problems.append(f"“{item.title}” was not stored")
        return verdict(problems, f"stored as “{item.title}”")
    held, detail = failed_item(run, item.fragment, reason=item.reason)
    problems = [] if held else [detail]
    if "\x1b" in run.text:
        problems.append("an escape sequence reached the terminal")
    if item.title is not None and item.title not in titles(data_dir):
        problems.append(f"the good line “{item.title}” was not stored")
    return verdict(problems, detail)


def mixed_good_files(fx: Fixtures) -> Verdict:
    run, data_dir, before = fx.mixed()
    expected = sum(1 for item in MIXED if item.title is not None)
    problems = run.faults() + intact(before, counts(data_dir), added=expected)
    if run.code != 0:
        problems.append(f"exit status {run.code}")
    summary = nonblank(run.out)[-1:] or [""]
    return verdict(problems, summary[0])


def ingest_missing_path(fx: Fixtures) -> Verdict:
    data_dir = fx.copy_base("missing-path")
    before = counts(data_dir)
    run = fx.cli("ingest", fx.root / "no-such-file.txt", "--data-dir", data_dir)
    held, detail = failed_item(run, "no-such-file.txt", reason=("no such",))
    problems = ([] if held else [detail]) + intact(before, counts(data_dir), added=0)
    if run.code == 0:
        problems.append("exit status 0 although nothing was added")
    return verdict(problems, detail)


def ingest_empty_dir(fx: Fixtures) -> Verdict:
    folder = fx.fresh("empty-dir")
    folder.mkdir()
    run = fx.cli("ingest", folder, "--data-dir", fx.copy_base("empty-dir"))
    problems = run.faults()
    said = nonblank(run.text)
    if not said:
        problems.append("nothing said")
    return verdict(problems, said[-1] if said else "")


def ingest_nothing(fx: Fixtures) -> Verdict:
    return error_line(fx.cli("ingest", "--data-dir", fx.fresh("nothing")))


def ingest_run_on(fx: Fixtures) -> Verdict:
    """2 MB on one line without punctuation must still become passages of bounded length."""
    source = fx.fresh("run-on.txt")
    source.write_text(run_on_text(2_000_000), encoding="utf-8")
    data_dir = fx.fresh("run-on")
    env = {"BRIEFBOT_RETRIEVAL__CHUNK_WORDS": str(RUN_ON_CHUNK_WORDS)}
    run = fx.cli("ingest", source, "--data-dir", data_dir, env=env, timeout=2 * CLI_TIMEOUT)
    problems = run.faults()
    if run.code != 0:
        problems.append(f"exit status {run.code}: {short(run.err[-200:], 80)}")
        return verdict(problems, "")
    [(passages, longest)] = query(data_dir, "SELECT COUNT(*), MAX(LENGTH(text)) FROM passages")
    if passages < 100:
        problems.append(f"only {passages} passages")
    if longest > MAX_PASSAGE_CHARS:
        problems.append(f"a passage of {longest:,} characters (limit {MAX_PASSAGE_CHARS:,})")
    problems += intact({"articles": 0}, counts(data_dir), added=1)
    return verdict(problems, f"{passages} passages, longest {longest} characters")


# --- ingest: URLs ----------------------------------------------------------------------------


def url_public(fragment: str, reason: Sequence[str], probe: str | None, fx: Fixtures) -> Verdict:
    run, data_dir = fx.urls_public()
    held, detail = failed_item(run, fragment, reason=reason)
    problems = [] if held else [detail]
    if STORIES[0].title not in titles(data_dir):
        problems.append("the good file in the same batch was not added")
    if probe and any(r.path == probe for r in fx.web.requests):
        problems.append(f"{probe} was fetched")
    return verdict(problems, detail)


# Paths on the loopback server that must fail, and words the reason should contain.
URL_FAILURES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("/missing-page", ("404",)),
    ("/server-error", ("500",)),
    ("/nav-only", ("no article",)),
    ("/image", ("image",)),
    ("/oversize", ("larger", "MB")),
    ("/loop-a", ("redirect",)),
    ("/slow", ("too long", "slow", "time")),
)


def url_private_failure(path: str, reason: Sequence[str], fx: Fixtures) -> Verdict:
    run, data_dir = fx.urls_private()
    held, detail = failed_item(run, path, reason=reason)
    problems = [] if held else [detail]
    if STORIES[2].title not in titles(data_dir):
        problems.append("the good page in the same batch was not added")
    return verdict(problems, detail)


def url_private_added(title: str, fx: Fixtures) -> Verdict:
    run, data_dir = fx.urls_private()
    problems = run.faults()
    if title not in titles(data_dir):
        line = next((x for x in nonblank(run.text) if x.startswith("failed")), "")
        problems.append(f"“{title}” was not stored {short(line, 70)}".strip())
    return verdict(problems, f"stored “{title}”")


# --- feeds -----------------------------------------------------------------------------------

PRIVATE_OK = {"BRIEFBOT_INGEST__ALLOW_PRIVATE_NETWORKS": "true"}


def feed_refused(path_or_url: str, mentions: Sequence[str], fx: Fixtures) -> Verdict:
    url = fx.url(path_or_url) if path_or_url.startswith("/") else path_or_url
    data_dir = fx.copy_base("feed-refused")
    before = counts(data_dir)
    run = fx.cli("feeds", "add", url, "--data-dir", data_dir, env=PRIVATE_OK)
    held, detail = error_line(run, mentions=mentions)
    problems = ([] if held else [detail]) + intact(before, counts(data_dir), added=0)
    return verdict(problems, detail)


def feed_followed(path: str, title: str, fx: Fixtures) -> Verdict:
    """A feed with a flaw in it is still followed and its readable entries are added."""
    data_dir = fx.copy_base("feed")
    before = counts(data_dir)
    run = fx.cli("feeds", "add", fx.url(path), "--data-dir", data_dir, env=PRIVATE_OK)
    problems = run.faults() + intact(before, counts(data_dir))
    if run.code != 0:
        problems.append(f"exit status {run.code}: {short(run.err[-160:], 80)}")
    if title not in titles(data_dir):
        problems.append(f"the entry “{title}” was not stored")
    return verdict(problems, " / ".join(nonblank(run.out)[:2]))


def feeds_poll_poisoned(fx: Fixtures) -> Verdict:
    """One followed feed answers garbage; the one polled after it must still be read."""
    data_dir = fx.copy_base("poll")
    feeds = FeedStore(data_dir / "briefbot.sqlite3")
    for path in ("/feed/poison.xml", "/feed/good.xml"):
        feeds.add(fx.url(path))
    feeds.close()
    before = counts(data_dir)
    run = fx.cli("feeds", "poll", "--data-dir", data_dir, env=PRIVATE_OK)
    problems = run.faults() + intact(before, counts(data_dir))
    if STORIES[4].title not in titles(data_dir):
        problems.append("the good feed's entry was not stored")
    said = " / ".join(nonblank(run.out))
    return verdict(problems, said)


# --- storage ---------------------------------------------------------------------------------


def _file_as_data_dir(fx: Fixtures) -> Path:
    path = fx.fresh("a-file")
    path.write_text("not a directory\n")
    return path


def _garbage_store(fx: Fixtures) -> Path:
    data_dir = fx.fresh("garbage-store")
    data_dir.mkdir()
    (data_dir / "briefbot.sqlite3").write_bytes(random.Random(2).randbytes(64 * 1024))
    return data_dir


def _empty_store(fx: Fixtures) -> Path:
    data_dir = fx.fresh("empty-store")
    data_dir.mkdir()
    (data_dir / "briefbot.sqlite3").write_bytes(b"")
    return data_dir


def _truncated_store(fx: Fixtures) -> Path:
    data_dir = fx.copy_base("truncated")
    store = data_dir / "briefbot.sqlite3"
    for journal in data_dir.glob("briefbot.sqlite3-*"):
        journal.unlink()
    store.write_bytes(store.read_bytes()[: store.stat().st_size // 2])
    return data_dir


def _missing_dir(fx: Fixtures) -> Path:
    return fx.fresh("missing")


def storage_refused(
    make: Callable[[Fixtures], Path], command: Sequence[str], mentions: Sequence[str], fx: Fixtures
) -> Verdict:
    return error_line(fx.cli(*command, "--data-dir", make(fx)), mentions=mentions)


def stats_problems(make: Callable[[Fixtures], Path], fx: Fixtures) -> Verdict:
    """``stats --check`` on a damaged store: exit 1, and every stderr line names a problem."""
    run = fx.cli("stats", "--check", "--data-dir", make(fx))
    problems = run.faults()
    lines = nonblank(run.err)
    if run.code in (0, None) or not lines:
        problems.append(f"exit status {run.code}, {len(lines)} stderr lines")
    if not all(line.startswith(("error:", "problem:")) for line in lines):
        problems.append(f"stray stderr: {short(lines[0] if lines else '', 60)}")
    return verdict(problems, lines[0] if lines else "")


def _plant_garbage_snapshot(data_dir: Path) -> None:
    snapshot = snapshot_path(data_dir / "index", DEFAULT_MODEL)
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    snapshot.write_bytes(b"FAISS? no: " + random.Random(4).randbytes(8192))


def _index_dir_is_a_file(data_dir: Path) -> None:
    shutil.rmtree(data_dir / "index", ignore_errors=True)
    (data_dir / "index").write_text("not a directory\n")


def _drop_vectors(data_dir: Path) -> None:
    conn = sqlite3.connect(data_dir / "briefbot.sqlite3")
    with conn:
        conn.execute(
            "DELETE FROM passage_vectors WHERE rowid IN"
            " (SELECT rowid FROM passage_vectors ORDER BY rowid DESC LIMIT 25)"
        )
    conn.close()


def damaged_ask(damage: Callable[[Path], None], fx: Fixtures) -> Verdict:
    """The store is the source of truth: a damaged cache must not stop a correct answer."""
    data_dir = fx.copy_base("damaged")
    damage(data_dir)
    run = fx.cli("ask", KIM, "--json", "--data-dir", data_dir)
    problems = run.faults()
    try:
        answer: object = json.loads(run.out)
    except ValueError:
        answer = None
    if run.code != 0 or not answers_kim(answer):
        problems.append(f"no correct answer (exit {run.code}): {short(run.err[-160:], 70)}")
    problems += intact(fx.base_counts, counts(data_dir))
    return verdict(problems, "answered from the TASS article")


def damaged_stats(damage: Callable[[Path], None], healthy: bool, fx: Fixtures) -> Verdict:
    data_dir = fx.copy_base("damaged")
    damage(data_dir)
    run = fx.cli("stats", "--check", "--data-dir", data_dir)
    problems = run.faults()
    reported = [line for line in nonblank(run.err) if line.startswith("problem:")]
    if healthy and (run.code != 0 or "healthy" not in run.out):
        problems.append(f"not healthy (exit {run.code}): {short(run.err, 70)}")
    if not healthy and (run.code != 1 or not reported):
        problems.append(f"the damage was not reported (exit {run.code})")
    return verdict(problems, reported[0] if reported else "healthy")


def concurrent_ingests(fx: Fixtures) -> Verdict:
    """Two ingests of overlapping inputs at once store every article exactly once."""
    rows = synthetic_articles(60, seed=7, words=40)
    sources = [fx.fresh("first.jsonl"), fx.fresh("second.jsonl")]
    for source, part in zip(sources, (rows[:40], rows[20:]), strict=True):
        source.write_text("\n".join(json.dumps(row) for row in part), encoding="utf-8")
    data_dir = fx.fresh("concurrent")
    started = time.monotonic()
    processes = [
        spawn(["ingest", source, "--data-dir", data_dir], env=fx.env, cwd=fx.cwd)
        for source in sources
    ]
    runs = [finish(p, started=started, secrets=secrets_of(fx.env)) for p in processes]
    problems = [fault for run in runs for fault in run.faults()]
    added = 0
    for run in runs:
        match = re.search(r"(\d+) added .*?(\d+) skipped as duplicates, (\d+) failed", run.out)
        if run.code != 0 or match is None:
            problems.append(f"exit {run.code}: {short(run.err[-120:], 60)}")
            continue
        stored, skipped, failed = map(int, match.groups())
        added += stored
        if stored + skipped != 40 or failed:
            problems.append(f"{stored} added + {skipped} skipped + {failed} failed of 40")
    problems += intact({"articles": 0}, counts(data_dir), added=60)
    if added != 60:
        problems.append(f"the two runs report {added} added, not 60")
    return verdict(problems, "60 articles, each stored once")


def killed_then_checked(fx: Fixtures) -> Verdict:
    data_dir, _, committed, total = fx.killed()
    run = fx.cli("stats", "--check", "--data-dir", data_dir)
    problems = run.faults() + intact({"articles": 0}, counts(data_dir))
    if run.code != 0 or "healthy" not in run.out:
        problems.append(f"not healthy (exit {run.code}): {short(run.err, 80)}")
    return verdict(problems, f"healthy with {committed} of {total} committed")


def killed_then_rerun(fx: Fixtures) -> Verdict:
    data_dir, source, committed, total = fx.killed()
    run = fx.cli("ingest", source, "--data-dir", data_dir)
    problems = run.faults() + intact({"articles": 0}, counts(data_dir), added=total)
    expected = f"{total - committed} added", f"{committed} skipped as duplicates"
    if run.code != 0 or not all(part in run.out for part in expected):
        problems.append(f"expected {', '.join(expected)}: {short(nonblank(run.out)[-1:][0], 70)}")
    return verdict(problems, ", ".join(expected))


# --- chat commands ---------------------------------------------------------------------------

CHAT_LINES: tuple[tuple[str, bytes], ...] = (
    ("briefing 9999-12-31", b"briefing 9999-12-31"),
    ("briefing 0000-01-01", b"briefing 0000-01-01"),
    ("briefing notadate", b"briefing notadate"),
    ("subscribe 25:99 Mars/Base", b"subscribe 25:99 Mars/Base"),
    ("unknown command word", b"frobnicate"),
    ("add a malformed URL", b"add http://[::1"),
    ("follow a malformed URL", b"follow http://[::1"),
    ("ANSI escapes in a question", b"\x1b]0;pwned\x07What did \x1b[31mKim\x1b[0m inspect?"),
    ("100 KB line", b"why " * 25_000),
)
# What a reply must say (any of the words, case-insensitive); empty: any reply will do.
CHAT_EXPECT: dict[str, tuple[str, ...]] = {
    "subscribe 25:99 Mars/Base": ("25:99", "time", "Mars/Base", "timezone"),
    "unknown command word": ("don't know", "don’t know"),
    "add a malformed URL": ("couldn't", "couldn’t", "address", "not"),
    "follow a malformed URL": ("couldn't", "couldn’t", "address", "not"),
    "100 KB line": ("too long",),
}


def chat_line(name: str, fx: Fixtures) -> Verdict:
    line = fx.chat()[name]
    problems = line.problems()
    reply = line.reply or ""
    if line.reply is not None:
        if not reply.strip():
            problems.append("an empty reply")
        wanted = CHAT_EXPECT.get(name, ())
        if wanted and not any(w.lower() in reply.lower() for w in wanted):
            problems.append(f"unclear reply: {short(reply, 70)}")
        if "\x1b" in reply or "\x07" in reply:
            problems.append("escape sequences echoed to the terminal")
    return verdict(problems, reply)


# --- settings --------------------------------------------------------------------------------


def setting_refused(
    command: Sequence[str], env: Mapping[str, str], mentions: Sequence[str], fx: Fixtures
) -> Verdict:
    run = fx.cli(*command, "--data-dir", fx.fresh("settings"), env=env)
    return error_line(run, mentions=mentions)


def dotenv_undecodable(fx: Fixtures) -> Verdict:
    """A ``.env`` that is not UTF-8 is a setting error, not a crash."""
    cwd = fx.fresh("dotenv")
    cwd.mkdir()
    (cwd / ".env").write_bytes(b"BRIEFBOT_LOG_LEVEL=\xff\xfeINFO\nBRIEFBOT_X=\xe9\n")
    run = fx.cli("stats", "--data-dir", fx.fresh("settings"), cwd=cwd)
    return error_line(run)


# --- Slack HTTP mode -------------------------------------------------------------------------

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
JSON = {"Content-Type": "application/json"}


def command_form(
    text: str, response_url: str, *, user: str = "U1", drop: Collection[str] = ()
) -> str:
    fields = {
        "command": "/brief",
        "text": text,
        "user_id": user,
        "channel_id": "C1",
        "team_id": "T1",
        "response_url": response_url,
        "trigger_id": "1.2.3",
    }
    return urlencode({k: v for k, v in fields.items() if k not in drop})


def signed(body: str | bytes, *, age: float = 0, secret: str = SLACK_SECRET) -> dict[str, str]:
    """Slack's signature headers for ``body``, signed ``age`` seconds ago."""
    return signed_headers(body, secret=secret, age=age)


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


Send = Callable[[SlackServer], HttpResult]


def slack_request(
    send: Send,
    expect: Sequence[int],
    fx: Fixtures,
    *,
    refused: bool = True,
    dropped_ok: bool = False,
    body_has: str = "",
) -> Verdict:
    """One request to the running server: the status expected, nothing sent to Slack when it
    is refused, and at most a short line in the server's log, without secrets or traceback."""
    server = fx.slack_server()
    offset, traffic = server.log_size(), server.traffic()
    result = send(server)
    time.sleep(0.5)
    problems = []
    dropped = result.status is None and dropped_ok
    if result.status not in expect and not dropped:
        problems.append(f"status {result}, expected {'/'.join(map(str, expect))}")
    if body_has and body_has not in result.body.decode("utf-8", errors="replace"):
        said = result.body.decode(errors="replace")
        problems.append(f"the reply lacks {body_has!r}: {short(said, 50)}")
    if refused and server.traffic() != traffic:
        problems.append("a refused request was answered in Slack")
    problems += server_log_problems(server, offset)
    return verdict(problems, f"{result} " + short(result.body.decode(errors="replace"), 60))


def server_log_problems(server: SlackServer, offset: int) -> list[str]:
    problems = []
    if server.process.poll() is not None:
        problems.append(f"the server exited ({server.process.returncode})")
    logged = server.log_since(offset)
    if "Traceback" in logged:
        problems.append(f"traceback in the server log: {short(crash_line(logged), 70)}")
    if len(logged.encode()) > STDERR_PER_REQUEST:
        problems.append(f"the server logged {len(logged.encode()):,} bytes")
    if any(secret in logged for secret in server.secrets):
        problems.append("a secret in the server log")
    if any(SLACK_SECRET.encode() in sent.body for sent in server.mock_server.requests):
        problems.append("the signing secret was sent to Slack")
    return problems


def _post(body: bytes | str, headers: Mapping[str, str]) -> Send:
    raw = body.encode() if isinstance(body, str) else body
    return lambda server: server.request("POST", body=raw, headers=headers)


def _help_form(server: SlackServer, key: str, drop: Collection[str] = ()) -> str:
    return command_form("help", server.respond_url(key), drop=drop)


def slack_signed_form(key: str, drop: Collection[str] = ()) -> Send:
    def send(server: SlackServer) -> HttpResult:
        body = _help_form(server, key, drop)
        return server.request("POST", body=body.encode(), headers=FORM | signed(body))

    return send


def slack_help(fx: Fixtures) -> Verdict:
    """A valid signed ``/brief help``: acknowledged, then the command list at the response
    URL."""
    held, detail = slack_request(slack_signed_form("help"), (200,), fx, refused=False)
    server = fx.slack_server()
    problems = [] if held else [detail]
    if not wait_until(lambda: bool(server.responses("help")), HTTP_TIMEOUT):
        problems.append("no reply at the response URL")
    elif b"subscribe" not in server.responses("help")[0]:
        problems.append("the reply is not the command list")
    return verdict(problems, "200, then the command list")


def slack_replay(fx: Fixtures) -> Verdict:
    """The exact same signed request twice is answered once."""
    server = fx.slack_server()
    offset = server.log_size()
    body = _help_form(server, "replay")
    headers = FORM | signed(body)
    first = server.request("POST", body=body.encode(), headers=headers)
    again = server.request("POST", body=body.encode(), headers=headers)
    wait_until(lambda: bool(server.responses("replay")), HTTP_TIMEOUT)
    time.sleep(2)
    answered = len(server.responses("replay"))
    problems = server_log_problems(server, offset)
    if first.status != 200 or again.status not in (200, 401, 409):
        problems.append(f"statuses {first} and {again}")
    if answered != 1:
        problems.append(f"answered {answered} times")
    return verdict(problems, f"statuses {first}, {again}; answered once")


def slack_retried_mention(fx: Fixtures) -> Verdict:
    """Slack re-sends an event it thinks went unanswered, signed anew: one reply in the
    thread."""
    server = fx.slack_server()
    offset = server.log_size()
    ts = f"{time.time():.6f}"
    event = {
        "type": "event_callback",
        "team_id": "T1",
        "api_app_id": "A1",
        "event_id": "EvRetry",
        "event_time": int(time.time()),
        "event": {
            "type": "app_mention",
            "user": "U1",
            "text": "<@UBRIEFBOT> help",
            "ts": ts,
            "channel": "CRETRY",
            "event_ts": ts,
        },
        "authorizations": [{"team_id": "T1", "user_id": "UBRIEFBOT", "is_bot": True}],
    }
    body = json.dumps(event)

    def posted() -> int:
        return sum(
            1 for p in server.mock.calls("/api/chat.postMessage") if p["channel"] == "CRETRY"
        )

    first = server.request("POST", body=body.encode(), headers=JSON | signed(body))
    wait_until(lambda: posted() > 0, HTTP_TIMEOUT)
    time.sleep(1)
    once = posted()
    retry = JSON | signed(body, age=-1) | {"X-Slack-Retry-Num": "1"}
    again = server.request("POST", body=body.encode(), headers=retry)
    time.sleep(2)
    problems = server_log_problems(server, offset)
    if first.status != 200 or again.status != 200:
        problems.append(f"statuses {first} and {again}")
    if not once or posted() != once:
        problems.append(f"{once} replies, then {posted()} after the retry")
    return verdict(problems, f"{once} reply in the thread, none for the retry")


def slack_non_admin_add(fx: Fixtures) -> Verdict:
    """Someone not in BRIEFBOT_ADMINS asks to add a page: a private refusal, nothing fetched."""
    server = fx.slack_server()
    url = fx.url("/admin-probe")
    body = command_form(f"add {url}", server.respond_url("admin"), user="U1")
    send = _post(body, FORM | signed(body))
    held, detail = slack_request(send, (200,), fx, body_has="admins")
    problems = [] if held else [detail]
    time.sleep(1.5)
    if any(r.path == "/admin-probe" for r in fx.web.requests):
        problems.append("the page was fetched")
    if server.responses("admin"):
        problems.append("something was posted for the refused add")
    return verdict(problems, "200, refused privately, nothing fetched")


def slack_url_verification(fx: Fixtures) -> Verdict:
    body = json.dumps({"token": "x", "challenge": "chal-8d1e", "type": "url_verification"})
    send = _post(body, JSON | signed(body))
    return slack_request(send, (200,), fx, refused=False, body_has="chal-8d1e")


def _unsigned(body: bytes) -> Send:
    return _post(body, FORM)


def _malformed_timestamp(server: SlackServer) -> HttpResult:
    body = _help_form(server, "ts").encode()
    return server.request(
        "POST",
        body=body,
        headers=FORM | signed_headers(body, secret=SLACK_SECRET, timestamp="yesterday"),
    )


def _odd_signature(server: SlackServer) -> HttpResult:
    body = _help_form(server, "sig").encode()
    headers = FORM | {"X-Slack-Request-Timestamp": str(int(time.time()))}
    return server.request("POST", body=body, headers=headers | {"X-Slack-Signature": "v1=zz"})


def _wrong_secret(server: SlackServer) -> HttpResult:
    body = _help_form(server, "wrong")
    return server.request("POST", body=body.encode(), headers=FORM | signed(body, secret="nope"))


def _stale(server: SlackServer) -> HttpResult:
    body = _help_form(server, "stale")
    return server.request("POST", body=body.encode(), headers=FORM | signed(body, age=600))


def _signed_raw(body: bytes, content_type: dict[str, str]) -> Send:
    def send(server: SlackServer) -> HttpResult:
        headers = content_type | signed(body)
        return server.request("POST", body=body, headers=headers)

    return send


def _oversize(chunked: bool) -> Send:
    size = 6 * 1024**2

    def send(server: SlackServer) -> HttpResult:
        body: bytes | Iterable[bytes] = chunks(size) if chunked else b"x" * size
        return server.request("POST", body=body, headers=FORM)

    return send


def _long_text(server: SlackServer) -> HttpResult:
    body = command_form("why " * 10_000, server.respond_url("long"))
    return server.request("POST", body=body.encode(), headers=FORM | signed(body))


def slack_long_question(fx: Fixtures) -> Verdict:
    """A 40,000-character slash command: acknowledged, then a polite refusal."""
    held, detail = slack_request(_long_text, (200,), fx, refused=False)
    server = fx.slack_server()
    problems = [] if held else [detail]
    if not wait_until(lambda: bool(server.responses("long")), HTTP_TIMEOUT):
        problems.append("no reply at the response URL")
    elif b"too long" not in server.responses("long")[0]:
        said = server.responses("long")[0].decode(errors="replace")
        problems.append(f"unclear reply: {short(said, 60)}")
    return verdict(problems, "200, then 'too long'")


# --- the catalogue ---------------------------------------------------------------------------

Check = Callable[[Fixtures], Verdict]


@dataclass(frozen=True)
class Case:
    """One fault. Cases of one ``group`` share a session and run one after another."""

    category: str
    name: str
    check: Check
    group: str = ""
    base: bool = True  # opens a copy of the indexed data directory
    heavy: bool = False  # runs for long, so it starts first

    @property
    def task(self) -> str:
        return self.group or f"{self.category}/{self.name}"


# Specs of the table's uniform cases; the catalogue turns each row into a Case.
QUESTIONS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("empty question", "", ("empty",)),
    ("whitespace question", " \t  ", ("empty",)),
    ("100 KB question", "why " * 25_000, ("too long",)),
    ("only escape sequences", "\x1b[0m\x07", ("empty", "read")),
)
ASK_OPTIONS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("--now garbage", ("--now", "garbage"), ("--now",)),
    ("--k 0", ("--k", "0"), ("--k",)),
)
PUBLIC_URLS: tuple[tuple[str, str, tuple[str, ...], str | None], ...] = (
    ("URL http://[::1", "[::1", ("address",), None),
    ("URL ftp://x", "ftp:", ("http", "address", "url", "scheme"), None),
    ("private network refused", "/private-probe", ("private",), "/private-probe"),
)
NO_ARTICLES = ("no articles",)
STORAGE_REFUSED: tuple[
    tuple[str, Callable[[Fixtures], Path], tuple[str, ...], tuple[str, ...]], ...
] = (
    ("--data-dir is a file: stats", _file_as_data_dir, ("stats",), ("directory",)),
    ("--data-dir is a file: ask", _file_as_data_dir, ("ask", KIM), ("directory",)),
    ("garbage briefbot.sqlite3: stats", _garbage_store, ("stats",), ("damaged",)),
    ("garbage briefbot.sqlite3: ask", _garbage_store, ("ask", KIM), ("damaged",)),
    ("0-byte briefbot.sqlite3: stats", _empty_store, ("stats",), NO_ARTICLES),
    ("missing data dir: ask", _missing_dir, ("ask", KIM), NO_ARTICLES),
)
BRIEF = ("brief", "--date", "2023-09-19")
SETTINGS: tuple[tuple[str, tuple[str, ...], dict[str, str], tuple[str, ...]], ...] = (
    ("RETRIEVAL__TOP_K=many", ("ask", KIM), {"BRIEFBOT_RETRIEVAL__TOP_K": "many"}, ("TOP_K",)),
    (
        "BRIEFING__TIMEZONE=Mars/Base",
        BRIEF,
        {"BRIEFBOT_BRIEFING__TIMEZONE": "Mars/Base"},
        ("Mars",),
    ),
    ("brief --tz Mars/Base", (*BRIEF, "--tz", "Mars/Base"), {}, ("Mars/Base",)),
    ("brief --date 2024-13-45", ("brief", "--date", "2024-13-45"), {}, ("2024-13-45",)),
    (
        "bot token without xoxb-",
        ("stats",),
        {"BRIEFBOT_SLACK__BOT_TOKEN": "canary-8e2b"},
        ("TOKEN",),
    ),
    ("LOG_LEVEL=chatty", ("stats",), {"BRIEFBOT_LOG_LEVEL": "chatty"}, ("LOG_LEVEL",)),
    (
        "INGEST__MAX_DOWNLOAD_MB=-1",
        ("ingest", "x.txt"),
        {"BRIEFBOT_INGEST__MAX_DOWNLOAD_MB": "-1"},
        ("MAX_DOWNLOAD",),
    ),
)
NOT_AN_OBJECT = b'{"type": "event_callback", "event": "x"}'
SLACK_REFUSED: tuple[tuple[str, Send, tuple[int, ...]], ...] = (
    ("unsigned request", _unsigned(b"command=%2Fbrief&text=help"), (401,)),
    ("wrong signature", _wrong_secret, (401,)),
    ("stale timestamp (10 min)", _stale, (401,)),
    ("non-numeric timestamp", _malformed_timestamp, (400, 401)),
    ("malformed signature header", _odd_signature, (400, 401)),
    ("1 MB unsigned body", _unsigned(b"x" * 1024**2), (401, 413)),
    ("signed malformed JSON event", _signed_raw(b'{"type": "event_callback", ', JSON), (400,)),
    ("signed body not UTF-8", _signed_raw(b"command=\xff\xfe&text=\xc3", FORM), (400,)),
    ("signed event that is not an object", _signed_raw(NOT_AN_OBJECT, JSON), (200, 400)),
    ("slash command without channel_id", slack_signed_form("nochan", ("channel_id",)), (400,)),
    ("GET /slack/events", lambda server: server.request("GET"), (404, 405)),
)


def catalogue() -> list[Case]:
    """Every case, in the order they are printed."""
    cases = [
        Case("question", name, partial(question_refused, text, why))
        for name, text, why in QUESTIONS
    ]
    cases += [
        Case("question", name, partial(ask_option_refused, option, why))
        for name, option, why in ASK_OPTIONS
    ]
    cases.append(Case("question", "Latin-1 bytes in the argument", ask_undecodable_argv))
    cases += [
        Case("question", f"stdin batch: {name}", partial(batch_line, name, expect), "ask")
        for name, expect in BATCH_EXPECT.items()
    ]
    cases += [
        Case("ingest", "no sources", ingest_nothing, base=False),
        Case("ingest", "nonexistent path", ingest_missing_path),
        Case("ingest", "empty directory", ingest_empty_dir),
        Case("ingest", "mixed dir: good items still added", mixed_good_files, "mixed"),
    ]
    cases += [
        Case("ingest", f"mixed dir: {item.label}", partial(mixed_item, item), "mixed")
        for item in MIXED
    ]
    cases.append(Case("ingest", "2 MB run-on line", ingest_run_on, base=False, heavy=True))
    cases += [
        Case("ingest", name, partial(url_public, fragment, why, probe), "public")
        for name, fragment, why, probe in PUBLIC_URLS
    ]
    cases += [
        Case("ingest", f"URL {path}", partial(url_private_failure, path, why), "urls")
        for path, why in URL_FAILURES
    ]
    cases += [
        Case("ingest", "URL unknown charset", partial(url_private_added, STORIES[5].title), "urls"),
        Case("ingest", "URL good page", partial(url_private_added, STORIES[2].title), "urls"),
        Case("feeds", "add a malformed URL", partial(feed_refused, "http://[::1", ("address",))),
        Case("feeds", "add an HTML page", partial(feed_refused, "/story/0", ("feed",))),
        Case(
            "feeds",
            "add a feed with an unknown charset",
            partial(feed_followed, "/feed/charset.xml", STORIES[1].title),
        ),
        Case(
            "feeds",
            "add a feed whose links are broken",
            partial(feed_followed, "/feed/broken-links.xml", STORIES[3].title),
        ),
        Case("feeds", "poll: a poisoned feed, then a good one", feeds_poll_poisoned),
    ]
    cases += [
        Case("storage", name, partial(storage_refused, make, command, why), base=False)
        for name, make, command, why in STORAGE_REFUSED
    ]
    snapshot, vectors = _plant_garbage_snapshot, _drop_vectors
    cases += [
        Case(
            "storage",
            "half a briefbot.sqlite3: stats --check",
            partial(stats_problems, _truncated_store),
        ),
        Case("storage", "garbage FAISS snapshot: ask", partial(damaged_ask, snapshot)),
        Case(
            "storage",
            "garbage FAISS snapshot: stats --check",
            partial(damaged_stats, snapshot, True),
        ),
        Case("storage", "index/ is a file: ask", partial(damaged_ask, _index_dir_is_a_file)),
        Case(
            "storage", "vectors deleted: stats reports it", partial(damaged_stats, vectors, False)
        ),
        Case("storage", "vectors deleted: ask re-embeds", partial(damaged_ask, vectors)),
        Case("storage", "two concurrent ingests", concurrent_ingests, base=False, heavy=True),
        Case("storage", "kill -9 mid-ingest: stats --check", killed_then_checked, "killed", False),
        Case("storage", "kill -9 mid-ingest: re-run", killed_then_rerun, "killed", False, True),
    ]
    cases += [Case("chat", name, partial(chat_line, name), "chat") for name, _ in CHAT_LINES]
    cases += [
        Case("settings", name, partial(setting_refused, command, env, why), base=False)
        for name, command, env, why in SETTINGS
    ]
    cases.append(Case("settings", ".env that is not UTF-8", dotenv_undecodable, base=False))
    cases += [
        Case("slack", name, partial(slack_request, send, statuses), "slack", False)
        for name, send, statuses in SLACK_REFUSED
    ]
    cases += [
        Case("slack", name, check, "slack", False)
        for name, check in (
            (
                "6 MB body with Content-Length",
                partial(slack_request, _oversize(False), (413,), dropped_ok=True),
            ),
            ("6 MB chunked body", partial(slack_request, _oversize(True), (413,), dropped_ok=True)),
            ("exact replay answered once", slack_replay),
            ("url_verification challenge", slack_url_verification),
            ("valid /brief help", slack_help),
            ("/brief add by a non-admin", slack_non_admin_add),
            ("retried mention answered once", slack_retried_mention),
            ("40,000-character /brief", slack_long_question),
        )
    ]
    return cases


# --- running it ------------------------------------------------------------------------------


@dataclass
class Outcome:
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    setup_error: str | None = None


def run_task(cases: Sequence[Case], fx: Fixtures) -> Outcome:
    """The cases of one task, in order; a broken harness is reported as the case's failure,
    a failed set-up stops the task."""
    outcome = Outcome()
    for case in cases:
        try:
            outcome.verdicts[case.name] = case.check(fx)
        except SetupError as exc:
            outcome.setup_error = str(exc)
            return outcome
        except Exception as exc:
            outcome.verdicts[case.name] = (False, short(f"harness: {type(exc).__name__}: {exc}"))
    return outcome


def grouped(cases: Sequence[Case]) -> dict[str, list[Case]]:
    tasks: dict[str, list[Case]] = {}
    for case in cases:
        tasks.setdefault(case.task, []).append(case)
    return tasks


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=3, help="cases run at once (default 3)")
    parser.add_argument("--only", default="", help="run the cases whose category/name has this")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    parser.add_argument(
        "--rev", help="measure this commit (read with git archive) instead of the working tree"
    )
    args = parser.parse_args(argv)
    cases = [c for c in catalogue() if args.only.lower() in f"{c.category}/{c.name}".lower()]
    if not cases:
        print(f"no case matches {args.only!r}", file=sys.stderr)
        return 1
    started = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="fault-catalogue-"))
    slack_tasks = {key: group for key, group in grouped(cases).items() if key == "slack"}
    other_tasks = {key: group for key, group in grouped(cases).items() if key != "slack"}
    try:
        fx = Fixtures(root, with_slack=bool(slack_tasks), rev=args.rev)
    except SetupError as exc:
        print(f"could not run briefbot: {exc}", file=sys.stderr)
        shutil.rmtree(root, ignore_errors=True)
        return 1
    futures: dict[str, Future[Outcome]] = {}
    try:
        preflight = fx.cli("--help", timeout=120)
        if preflight.code != 0:
            print(f"could not run briefbot: {short(preflight.err[-300:], 200)}", file=sys.stderr)
            return 1
        with ThreadPoolExecutor(1) as lane, ThreadPoolExecutor(max(1, args.jobs)) as pool:
            for key, group in slack_tasks.items():
                futures[key] = lane.submit(run_task, group, fx)
            if any(case.base for case in cases):
                pool.submit(fx.base)  # start indexing now; cases that need it wait for it
            # Long cases first, then those that need no data directory, while it is built.
            for key, group in sorted(other_tasks.items(), key=order):
                futures[key] = pool.submit(run_task, group, fx)
            summary = report(cases, futures)
    finally:
        fx.close()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"scratch directory kept: {root}", file=sys.stderr)
    print(f"({time.monotonic() - started:.0f} s)", file=sys.stderr)
    return summary


def order(task: tuple[str, list[Case]]) -> tuple[bool, bool]:
    cases = task[1]
    return not any(case.heavy for case in cases), cases[0].base


def report(cases: Sequence[Case], futures: Mapping[str, Future[Outcome]]) -> int:
    """Print each case's line in catalogue order as soon as it is known, then the summary."""
    tried = held = 0
    setup_errors: set[str] = set()
    for case in cases:
        outcome = futures[case.task].result()
        if case.name not in outcome.verdicts:
            setup_errors.add(outcome.setup_error or "unknown")
            continue
        ok, detail = outcome.verdicts[case.name]
        tried, held = tried + 1, held + ok
        print(f"{'held' if ok else 'FAILED':<6}  {case.category:<8}  {case.name}  {detail}")
        sys.stdout.flush()
    print(f"fault catalogue: {tried} tried, {held} held, {tried - held} failed")
    for error in sorted(setup_errors):
        print(f"could not run every case: {error}", file=sys.stderr)
    return 1 if setup_errors else 0


if __name__ == "__main__":
    sys.exit(main())
