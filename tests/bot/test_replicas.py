"""Several bots on one store, on both backends: each scheduled briefing is posted by exactly one
of them, day after day, through restarts — as bots in one process and as ``briefbot run``
processes; an article one of them ingests, the other finds."""

from __future__ import annotations

import signal
import threading
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from functools import partial
from pathlib import Path

import pytest

from bot.scheduler import BriefingScheduler
from bot.services.briefing import Briefing
from bot.subscriptions import DAILY, Subscription
from bot.wiring import Briefbot
from corpus.samples import SAMPLES_DIR
from retrieval.embedding import Embedder
from tests.articles import KIM
from tests.cli_harness import BriefbotProcess, wait_for
from tests.conftest import Where, isolated_settings
from tests.slack_harness import SECRET
from tests.slack_mock import TOKEN, MockSlack, free_port

Backend = Callable[[], Where]
DAYS = 20
TASS = "tass-2023-09-19-russia-dprk-cooperation.md"


class Clock:
    """The simulated time every replica reads."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def replica(backend: Backend, embedder: Embedder, clock: Clock, data_dir: Path) -> Briefbot:
    """A bot as one ``briefbot run`` process opens it: its own connection(s) to the store."""
    settings = isolated_settings(data_dir=data_dir, briefing={"skip_empty": False})
    bot = Briefbot(settings, embedder=embedder, clock=clock)
    where = backend()
    if not isinstance(where, Path):
        bot.__dict__["database"] = where  # the PostgreSQL pool this "process" opened
    return bot


def test_two_replicas_post_each_days_briefing_once_across_restarts(
    backend: Backend, embedder: Embedder, tmp_path: Path
) -> None:
    clock = Clock(datetime(2026, 3, 2, 7, 0, tzinfo=UTC))
    posts: list[tuple[str, str, str]] = []
    lock = threading.Lock()

    def sender(name: str) -> Callable[[str, Briefing], None]:
        def send(channel: str, briefing: Briefing) -> None:
            with lock:
                posts.append((name, channel, clock().date().isoformat()))

        return send

    bots = [replica(backend, embedder, clock, tmp_path) for _ in range(2)]
    bots[0].subscriptions.subscribe(
        Subscription(platform="slack", channel="C1", time=time(8), timezone="UTC", days=DAILY)
    )
    for day in range(DAYS):
        if day % 5 == 4:  # both restart: new connections, nothing kept in memory
            bots = [replica(backend, embedder, clock, tmp_path) for _ in range(2)]
        schedulers = [
            bot.scheduler(senders={"slack": sender(f"replica {n}")}) for n, bot in enumerate(bots)
        ]
        clock.now = datetime(2026, 3, 2, 8, 0, 30, tzinfo=UTC) + timedelta(days=day)
        start = threading.Barrier(len(schedulers))

        def cycle(scheduler: BriefingScheduler, start: threading.Barrier) -> None:
            start.wait()
            for _ in range(3):  # several cycles of each replica within the same minute
                scheduler.run_once()

        threads = [threading.Thread(target=cycle, args=(s, start)) for s in schedulers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    days = [day for _, _, day in posts]
    assert len(days) == DAYS and len(set(days)) == DAYS, posts
    assert {channel for _, channel, _ in posts} == {"C1"}


def test_an_article_one_replica_ingests_the_other_finds_at_once(
    backend: Backend, embedder: Embedder, tmp_path: Path
) -> None:
    clock = Clock(datetime(2023, 9, 20, tzinfo=UTC))
    first, second = (replica(backend, embedder, clock, tmp_path) for _ in range(2))
    assert not second.ask_service.ask(KIM).found  # warm: the second has searched before
    report = first.ingest_service.ingest_paths([SAMPLES_DIR / TASS])
    assert len(report.added) == 1
    answer = second.ask_service.ask(KIM)
    assert answer.found and answer.quotes[0].source == "TASS"


def _posted(slack: MockSlack, count: int) -> bool:
    return len(slack.posted) >= count


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


@pytest.mark.own_backend
@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_two_run_processes_post_each_days_briefing_once(
    engine: str, request: pytest.FixtureRequest, slack: MockSlack, tmp_path: Path
) -> None:
    """``briefbot run`` twice on one store, both restarted every simulated day (``--now``):
    the subscription due each day is posted to Slack once between them."""
    env = {
        "BRIEFBOT_SLACK__BOT_TOKEN": TOKEN,
        "BRIEFBOT_SLACK__SIGNING_SECRET": SECRET,
        "BRIEFBOT_SLACK__API_URL": slack.api_url,
        "BRIEFBOT_BRIEFING__SKIP_EMPTY": "false",
    }
    settings = isolated_settings(data_dir=tmp_path)
    if engine == "postgresql":
        env["BRIEFBOT_DATABASE_URL"] = request.getfixturevalue("postgres_url")
        settings = isolated_settings(data_dir=tmp_path, database_url=env["BRIEFBOT_DATABASE_URL"])
    Briefbot(settings).subscriptions.subscribe(
        Subscription(platform="slack", channel="C1", time=time(8), timezone="UTC", days=DAILY)
    )
    for day in range(DAYS):
        now = datetime(2026, 3, 2, 8, 0, 5, tzinfo=UTC) + timedelta(days=day)
        ports = [free_port() for _ in range(2)]
        runs = [
            BriefbotProcess(
                *("run", "--slack-http", "--host", "127.0.0.1", "--port", str(port)),
                *("--now", now.isoformat()),
                data_dir=tmp_path,
                env=env,
            )
            for port in ports
        ]
        try:
            # Both serve, so both have begun their first scheduler cycle (it runs at start and
            # is let finish on SIGTERM), and one of them has posted the day's briefing.
            for port in ports:
                wait_for(partial(_healthy, port), timeout=120, what="briefbot run to serve")
            wait_for(partial(_posted, slack, day + 1), timeout=120, what=f"day {day}'s post")
        finally:
            for run in runs:
                run.send_signal(signal.SIGTERM)
            stopped = [run.finish(timeout=60) for run in runs]
        assert all(ran.returncode == 0 for ran in stopped), [ran.stderr for ran in stopped]
    assert len(slack.posted) == DAYS
    assert {post["channel"] for post in slack.posted} == {"C1"}
