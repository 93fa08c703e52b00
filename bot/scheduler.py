"""The scheduler: the background work a running bot keeps going — feed polling and scheduled
briefings — as tasks on an event loop whose blocking cycles run on worker threads, so that they
never hold up answers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial

from bot.channels import ChannelSources
from bot.metrics import Metrics
from bot.services.briefing import Briefing, BriefingService
from bot.services.feeds import FeedService, PollResult
from bot.subscriptions import Subscription, SubscriptionStore, due, missed
from corpus.model import utcnow
from retrieval.window import Window

log = logging.getLogger(__name__)

Sender = Callable[[str, Briefing], None]
"""Posts a briefing to a channel of one platform."""

BRIEFING_CYCLE = 30.0
# Alerts and channel feeds are checked this often for articles stored since (by any process).
WATCH_CYCLE = 60.0
"""Seconds between looks for due briefings: a briefing goes out at most this late."""

CLAIM_LEASE = timedelta(minutes=10)
"""How long a process may take to post a briefing it claimed (a post times out after five)
before another may post it instead."""

GRACE = 30.0
"""Seconds a cycle still running at shutdown (a slow feed, say) may take to finish."""


async def _on_daemon_thread(work: Callable[[], object], *, name: str) -> None:
    """``asyncio.to_thread`` on a thread of its own that is a daemon: the default executor's
    threads are joined at exit, so one slow feed would keep a stopped bot from exiting."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def settle(failure: Exception | None) -> None:
        if done.done():  # cancelled: nobody waits any more
            return
        if failure is None:
            done.set_result(None)
        else:
            done.set_exception(failure)

    def run() -> None:
        failure = None
        try:
            work()
        except Exception as exc:
            failure = exc
        with contextlib.suppress(RuntimeError):  # the loop is closed: left behind at shutdown
            loop.call_soon_threadsafe(settle, failure)

    threading.Thread(target=run, name=name, daemon=True).start()
    await done


async def every(
    interval: float, work: Callable[[], object], *, stop: asyncio.Event, name: str
) -> None:
    """Run the blocking ``work`` on a worker thread now and then every ``interval`` seconds,
    until ``stop`` is set."""
    while not stop.is_set():
        try:
            await _on_daemon_thread(work, name=name)
        except Exception:  # one bad cycle must not end the loop for good
            log.exception("%s failed", name)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)


@dataclass(frozen=True)
class Cycle:
    """Blocking work repeated every ``interval`` seconds while the bot runs."""

    name: str
    interval: float
    work: Callable[[], object]


def cycles(
    *,
    feeds: FeedService,
    feed_interval: float,
    briefings: BriefingScheduler,
    announce: Callable[[PollResult], None],
    watches: Callable[[], object],
) -> list[Cycle]:
    """A running bot's background work: feed polling, whose new entries go to ``announce``,
    scheduled briefings, and the posts of alerts and feeds followed in channels."""
    return [
        Cycle("feed-poller", feed_interval, partial(poll_feeds, feeds, announce)),
        Cycle("briefing-scheduler", BRIEFING_CYCLE, briefings.run_once),
        Cycle("watch-poster", WATCH_CYCLE, watches),
    ]


@contextlib.asynccontextmanager
async def background(work: Sequence[Cycle], *, grace: float = GRACE) -> AsyncIterator[None]:
    """The cycles run as tasks of the running loop for as long as the block runs.

    On leaving, a cycle in progress gets ``grace`` seconds to finish and is then left behind.
    """
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(every(c.interval, c.work, stop=stop, name=c.name), name=c.name)
        for c in work
    ]
    try:
        yield
    finally:
        stop.set()
        _, late = await asyncio.wait(tasks, timeout=grace)
        for task in late:
            log.warning(
                "%s was still running after %g s; leaving it behind", task.get_name(), grace
            )
            task.cancel()


@contextlib.contextmanager
def background_thread(work: Sequence[Cycle], *, grace: float = GRACE) -> Iterator[None]:
    """:func:`background` for a caller whose own thread blocks, as the terminal chat's does in
    ``input()``: the loop runs on a helper thread until the block is left.

    The chat keeps the main thread because Ctrl-C interrupts only the main thread's ``input()``;
    an ``input()`` on a worker thread would keep the process waiting for one more line.
    """
    ready = threading.Event()
    stop = asyncio.Event()
    loop: asyncio.AbstractEventLoop | None = None
    failures: list[BaseException] = []

    async def run() -> None:
        nonlocal loop
        loop = asyncio.get_running_loop()
        async with background(work, grace=grace):
            ready.set()
            await stop.wait()

    def host() -> None:
        try:
            asyncio.run(run())
        except BaseException as exc:  # raised to the caller, not lost on this thread
            failures.append(exc)
        finally:
            ready.set()

    thread = threading.Thread(target=host, name="briefbot-background", daemon=True)
    thread.start()
    ready.wait()
    if failures:
        raise failures[0]
    assert loop is not None
    try:
        yield
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(grace + 5)


def poll_feeds(service: FeedService, on_new: Callable[[PollResult], None]) -> None:
    """One feed poll cycle; new entries of feeds polled before are announced."""
    for result in service.poll_all():
        if result.announce and result.report.added:
            on_new(result)


class BriefingScheduler:
    """Delivers every subscription's briefing once per scheduled day, driven by stored state."""

    def __init__(
        self,
        subscriptions: SubscriptionStore,
        briefing: BriefingService,
        *,
        sources: ChannelSources,
        senders: Mapping[str, Sender],
        catch_up: timedelta,
        skip_empty: bool,
        stories: int = 8,
        clock: Callable[[], datetime] = utcnow,
        metrics: Metrics | None = None,
    ) -> None:
        self.subscriptions = subscriptions
        self.briefing = briefing
        self.sources = sources
        self.senders = senders
        self.catch_up = catch_up
        self.skip_empty = skip_empty
        self.stories = stories
        self.clock = clock
        self.metrics = metrics or Metrics()
        self._skips_logged: set[tuple[str, str, date]] = set()
        self._failures_logged: set[tuple[str, str, date]] = set()

    def run_once(self) -> list[Subscription]:
        """Deliver whatever is due now; returns the subscriptions posted to."""
        now = self.clock()
        delivered = []
        for sub in self.subscriptions.all():
            send = self.senders.get(sub.platform)
            if send is None:
                continue
            slot = due(sub, now, catch_up=self.catch_up)
            if slot is None:
                self._log_skip(sub, now)
                continue
            channel = (sub.platform, sub.channel)
            if not self.subscriptions.claim(*channel, day=slot.day, now=now, lease=CLAIM_LEASE):
                continue  # another process is posting it, or has just done so
            try:
                posted = self._deliver(sub, send, slot.day, now)
            except Exception as exc:  # one unreachable channel must not hold up the others
                self.subscriptions.release(*channel)
                self.metrics.briefing("failed")
                self._log_failure(sub, slot.day, exc)
                continue
            self.metrics.briefing("posted" if posted else "skipped")
            if posted:
                delivered.append(sub)
        return delivered

    def _deliver(self, sub: Subscription, send: Sender, day: date, now: datetime) -> bool:
        """Post the channel's briefing for ``day``, or skip it when it has no stories and
        ``skip_empty`` is set; either way the day is done, so it is not tried again every
        cycle. Returns whether anything was posted."""
        window = (
            Window.since(sub.last_delivered_at, now)
            if sub.last_delivered_at
            else Window.last_24h(now)
        )
        channel = (sub.platform, sub.channel)
        briefing = self.briefing.brief(
            window,
            topics=sub.topics,
            limit=self.stories,
            channel=channel,
            sources=self.sources.of(*channel),
        )
        posted = bool(briefing.stories) or not self.skip_empty
        if posted:
            send(sub.channel, briefing)
        else:
            log.info("nothing new for the %s briefing to %s:%s; skipped it", day, *channel)
        # Recorded after posting: a crash in between repeats this briefing, never skips it.
        self.briefing.deliveries.record(*channel, briefing, at=now)
        self.subscriptions.record_delivery(*channel, day=day, at=now)
        return posted

    def _log_failure(self, sub: Subscription, day: date, exc: Exception) -> None:
        """The first failure of a day's delivery with its traceback; retries in one line."""
        key = (sub.platform, sub.channel, day)
        if key in self._failures_logged:
            log.warning("still cannot post the %s briefing to %s:%s: %s", day, *key[:2], exc)
            return
        self._failures_logged.add(key)
        log.exception(
            "posting the %s briefing to %s:%s failed; retrying every cycle until the catch-up "
            "window closes",
            day,
            sub.platform,
            sub.channel,
        )

    def _log_skip(self, sub: Subscription, now: datetime) -> None:
        slot = missed(sub, now, catch_up=self.catch_up)
        if slot is not None and (sub.platform, sub.channel, slot.day) not in self._skips_logged:
            self._skips_logged.add((sub.platform, sub.channel, slot.day))
            log.info(
                "skipped the %s briefing for %s:%s — the bot was down past the catch-up window",
                slot.day,
                sub.platform,
                sub.channel,
            )
