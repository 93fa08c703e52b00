"""Scheduled briefings through the real briefing service, with a fixed clock; the background
tasks that drive them on an event loop."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.replies import Reply
from bot.scheduler import BriefingScheduler, background, background_thread, every
from bot.services.briefing import Briefing
from bot.subscriptions import SubscriptionError, from_words
from bot.wiring import Briefbot
from tests.articles import OTHERS, VOLCANO, subscribe_due_now
from tests.cli_harness import briefbot
from tests.conftest import MakeBot

BERLIN = ZoneInfo("Europe/Berlin")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_subscribe_words() -> None:
    now = datetime(2024, 5, 10, 7, tzinfo=BERLIN)
    sub = from_words(
        ["8:00", "europe/berlin", "weekdays", "volcanic", "eruption,", "interest rates"],
        platform="slack",
        channel="C1",
        now=now,
    )
    assert (sub.time.hour, sub.timezone, sub.days) == (8, "Europe/Berlin", frozenset(range(5)))
    assert sub.topics == ("volcanic eruption", "interest rates")
    assert sub.last_delivered_day is None
    late = from_words(["06:00", "Europe/Berlin"], platform="slack", channel="C1", now=now)
    assert late.last_delivered_day == now.date()  # today's 06:00 has passed: starts tomorrow
    for bad in [["8:00"], ["25:00", "UTC"], ["08:00", "Mars/Olympus"]]:
        try:
            from_words(bad, platform="slack", channel="C1", now=now)
        except SubscriptionError as exc:
            assert str(exc)
        else:
            raise AssertionError(f"{bad} was accepted")


def test_a_scheduled_briefing_is_delivered_once_a_day(make_bot: MakeBot) -> None:
    bot, clock = _one_article_and_8am_briefings(make_bot, "C1")
    sent: list[tuple[str, Briefing]] = []

    def scheduler() -> BriefingScheduler:
        """A fresh scheduler is what a restarted bot has: everything else is in SQLite."""
        return BriefingScheduler(
            bot.subscriptions,
            bot.briefing_service,
            sources=bot.channel_sources,
            senders={"slack": lambda channel, b: sent.append((channel, b))},
            catch_up=timedelta(hours=6),
            skip_empty=True,
            clock=clock,
        )

    assert scheduler().run_once() == []
    clock.now = datetime(2024, 5, 10, 8, 0, 30, tzinfo=BERLIN)
    assert len(scheduler().run_once()) == 1
    assert scheduler().run_once() == []
    [(channel, first)] = sent
    assert channel == "C1"
    assert [len(s.sources) for s in first.stories] == [1]

    # Overnight: two more articles on the volcano and two unrelated ones.
    bot.ingest_service.ingest_articles([(a.title, a) for a in VOLCANO[1:] + OTHERS])
    clock.now = datetime(2024, 5, 11, 8, 1, tzinfo=BERLIN)
    assert len(scheduler().run_once()) == 1
    second = sent[-1][1]
    volcano = [s for s in second.stories if "Grindavik" in s.headline or "eruption" in s.headline]
    assert volcano and volcano[0].update
    assert all(a.title != VOLCANO[0].title for s in second.stories for a in s.sources)
    assert scheduler().run_once() == []
    assert len(sent) == 2


def _one_article_and_8am_briefings(make_bot: MakeBot, *channels: str) -> tuple[Briefbot, Clock]:
    """A store with one article of 10 May, and Slack ``channels`` briefed daily at 08:00 in
    Berlin; the clock stands at 07:00 that day."""
    bot: Briefbot = make_bot()
    bot.ingest_service.ingest_articles([(a.title, a) for a in VOLCANO[:1]])
    clock = Clock(datetime(2024, 5, 10, 7, 0, tzinfo=BERLIN))
    for channel in channels:
        bot.subscriptions.subscribe(
            from_words(["08:00", "Europe/Berlin"], platform="slack", channel=channel, now=clock.now)
        )
    return bot, clock


def test_a_channel_that_cannot_be_posted_to_holds_up_no_other(
    make_bot: MakeBot, caplog: pytest.LogCaptureFixture
) -> None:
    bot, clock = _one_article_and_8am_briefings(make_bot, "C-gone", "C-ok")
    sent: list[str] = []
    gone = True

    def send(channel: str, _: Briefing) -> None:
        if channel == "C-gone" and gone:
            raise RuntimeError("not_in_channel")
        sent.append(channel)

    scheduler = BriefingScheduler(
        bot.subscriptions,
        bot.briefing_service,
        sources=bot.channel_sources,
        senders={"slack": send},
        catch_up=timedelta(hours=6),
        skip_empty=True,
        clock=clock,
    )
    clock.now = datetime(2024, 5, 10, 8, 0, 30, tzinfo=BERLIN)
    assert [s.channel for s in scheduler.run_once()] == ["C-ok"]
    assert [s.channel for s in scheduler.run_once()] == []  # the failed one is retried …
    assert "posting the 2024-05-10 briefing to slack:C-gone failed" in caplog.text
    assert "still cannot post the 2024-05-10 briefing to slack:C-gone" in caplog.text
    gone = False
    assert [s.channel for s in scheduler.run_once()] == ["C-gone"]  # … until it works
    assert sent == ["C-ok", "C-gone"]


def test_a_scheduled_briefing_with_nothing_new_is_skipped_for_the_day(
    make_bot: MakeBot, caplog: pytest.LogCaptureFixture
) -> None:
    bot, clock = _one_article_and_8am_briefings(make_bot, "C1")
    sent: list[Briefing] = []

    def scheduler(*, skip_empty: bool) -> BriefingScheduler:
        return BriefingScheduler(
            bot.subscriptions,
            bot.briefing_service,
            sources=bot.channel_sources,
            senders={"slack": lambda _, b: sent.append(b)},
            catch_up=timedelta(hours=6),
            skip_empty=skip_empty,
            clock=clock,
        )

    clock.now = datetime(2024, 5, 10, 8, 0, 30, tzinfo=BERLIN)
    assert len(scheduler(skip_empty=True).run_once()) == 1  # a briefing with a story is posted
    assert [len(b.stories) for b in sent] == [1]

    # Nothing new overnight: the next morning's briefing is skipped, and the day counts as done.
    clock.now = datetime(2024, 5, 11, 8, 1, tzinfo=BERLIN)
    with caplog.at_level(logging.INFO, logger="bot.scheduler"):
        assert scheduler(skip_empty=True).run_once() == []
        clock.now = datetime(2024, 5, 11, 9, 30, tzinfo=BERLIN)
        assert scheduler(skip_empty=True).run_once() == []
    assert len(sent) == 1
    assert caplog.text.count("nothing new for the 2024-05-11 briefing to slack:C1") == 1
    sub = bot.subscriptions.get("slack", "C1")
    assert sub is not None and sub.last_delivered_day == date(2024, 5, 11)

    # Configured not to skip, the empty briefing is posted, saying so.
    clock.now = datetime(2024, 5, 12, 8, 1, tzinfo=BERLIN)
    assert len(scheduler(skip_empty=False).run_once()) == 1
    assert sent[-1].stories == []
    assert sent[-1].empty_note.startswith("No new articles since 2024-05-11 08:01")


def test_a_failing_cycle_is_logged_and_the_next_one_runs(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[str] = []

    def flaky() -> None:
        calls.append(threading.current_thread().name)
        if len(calls) == 1:
            raise RuntimeError("feed server said 500")

    async def scenario() -> None:
        stop = asyncio.Event()
        looping = asyncio.create_task(every(0.01, flaky, stop=stop, name="flaky"))
        deadline = time.monotonic() + 5
        while len(calls) < 3:
            assert not looping.done(), "the loop ended after a failing cycle"
            assert time.monotonic() < deadline, "no cycle after the failing one"
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(looping, timeout=1)

    with caplog.at_level(logging.ERROR, logger="bot.scheduler"):
        asyncio.run(scenario())
    [failure] = [r for r in caplog.records if r.getMessage() == "flaky failed"]
    assert failure.exc_info is not None and "feed server said 500" in str(failure.exc_info[1])
    assert set(calls) == {"flaky"}  # each cycle on a thread of its own, off the loop's


def test_stopping_wakes_a_loop_that_waits_for_its_next_cycle() -> None:
    cycles: list[float] = []

    async def scenario() -> float:
        stop = asyncio.Event()
        looping = asyncio.create_task(
            every(3600, lambda: cycles.append(time.monotonic()), stop=stop, name="hourly")
        )
        while not cycles:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # now in the hour-long wait
        stop.set()
        stopped_at = time.monotonic()
        await asyncio.wait_for(looping, timeout=5)
        return time.monotonic() - stopped_at

    assert asyncio.run(scenario()) < 1
    assert len(cycles) == 1


def test_background_delivers_a_due_briefing_and_stops_promptly(make_bot: MakeBot) -> None:
    bot: Briefbot = make_bot()
    fresh = replace(VOLCANO[0], published_at=datetime.now(UTC) - timedelta(hours=1))
    bot.ingest_service.ingest_articles([(fresh.title, fresh)])
    subscribe_due_now(bot, platform="terminal", channel="terminal")
    sent: list[tuple[str, Briefing]] = []

    async def scenario() -> float:
        record = {"terminal": lambda channel, b: sent.append((channel, b))}
        async with background(bot.background(senders=record, announce=print)):
            deadline = time.monotonic() + 20
            while not sent:
                assert time.monotonic() < deadline, "the due briefing was not delivered"
                await asyncio.sleep(0.01)
            leaving = time.monotonic()
        return time.monotonic() - leaving

    # Leaving does not wait out the 30-second briefing cycle or the feed interval.
    assert asyncio.run(scenario()) < 1
    [(channel, briefing)] = sent
    assert channel == "terminal"
    assert [a.title for s in briefing.stories for a in s.sources] == [fresh.title]
    sub = bot.subscriptions.get("terminal", "terminal")
    assert sub is not None and sub.last_delivered_day is not None


def test_a_cycle_stuck_at_shutdown_is_left_behind_after_the_grace(
    make_bot: MakeBot, caplog: pytest.LogCaptureFixture
) -> None:
    """A channel that never answers must not keep a stopped bot from exiting."""
    bot: Briefbot = make_bot(briefing={"skip_empty": False})
    subscribe_due_now(bot, platform="slack", channel="C1")
    posting = threading.Event()
    release = threading.Event()

    def hang(channel: str, briefing: Reply) -> None:
        posting.set()
        release.wait(10)

    async def scenario() -> float:
        async with background(bot.background(senders={"slack": hang}, announce=print), grace=0.2):
            await asyncio.to_thread(posting.wait, 10)
            leaving = time.monotonic()
        return time.monotonic() - leaving

    try:
        assert asyncio.run(scenario()) < 2
        [stuck] = [t for t in threading.enumerate() if t.name == "briefing-scheduler"]
        assert stuck.daemon  # so the interpreter may exit without it
        assert "briefing-scheduler was still running after 0.2 s" in caplog.text
    finally:
        release.set()


def test_the_terminal_chat_prints_a_due_briefing(make_bot: MakeBot, tmp_path: Path) -> None:
    """`briefbot chat` runs the same background tasks: a briefing due at start is printed even
    when the person quits at once, and nothing is left running."""
    bot: Briefbot = make_bot()
    bot.ingest_service.ingest_articles([(a.title, a) for a in VOLCANO[:1]])
    subscribe_due_now(bot, platform="terminal", channel="terminal")
    post_empty = {"BRIEFBOT_BRIEFING__SKIP_EMPTY": "false"}
    result = briefbot("chat", "--data-dir", str(tmp_path / "data"), stdin="quit\n", env=post_empty)
    assert result.returncode == 0, result.stderr
    assert "No articles from the last 24 hours." in result.stdout
    sub = bot.subscriptions.get("terminal", "terminal")
    assert sub is not None and sub.last_delivered_day is not None
    assert not [t for t in threading.enumerate() if t.name == "briefbot-background"]


def test_leaving_the_background_thread_by_ctrl_c_stops_it(make_bot: MakeBot) -> None:
    bot: Briefbot = make_bot(briefing={"skip_empty": False})
    subscribe_due_now(bot, platform="terminal", channel="terminal")
    sent: list[str] = []
    with (
        pytest.raises(KeyboardInterrupt),
        background_thread(
            bot.background(
                senders={"terminal": lambda channel, _: sent.append(channel)}, announce=print
            )
        ),
    ):
        deadline = time.monotonic() + 20
        while not sent:  # delivered from the helper thread while this one is busy
            assert time.monotonic() < deadline, "the due briefing was not delivered"
            time.sleep(0.01)
        raise KeyboardInterrupt
    assert sent == ["terminal"]
    assert not [t for t in threading.enumerate() if t.name == "briefbot-background"]
