"""The scheduler: the background work `briefbot run` keeps going — feed polling and scheduled
briefings — each in its own thread so that it never holds up answers."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta

from bot.services.briefing import Briefing, BriefingService
from bot.services.feeds import FeedService, PollResult
from bot.subscriptions import Subscription, SubscriptionStore, due, missed
from corpus.model import utcnow
from retrieval.window import Window

log = logging.getLogger(__name__)

Sender = Callable[[str, Briefing], None]
"""Posts a briefing to a channel of one platform."""


class Periodic:
    """Runs ``work`` now and then every ``interval`` seconds until stopped."""

    def __init__(self, name: str, work: Callable[[], object], *, interval: float) -> None:
        self.work = work
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.work()
            except Exception:  # one bad cycle must not end the loop for good
                log.exception("%s failed", self._thread.name)
            self._stop.wait(self.interval)


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
        senders: Mapping[str, Sender],
        catch_up: timedelta,
        stories: int = 8,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.subscriptions = subscriptions
        self.briefing = briefing
        self.senders = senders
        self.catch_up = catch_up
        self.stories = stories
        self.clock = clock
        self._skips_logged: set[tuple[str, str, date]] = set()
        self._failures_logged: set[tuple[str, str, date]] = set()

    def run_once(self) -> list[Subscription]:
        """Deliver whatever is due now; returns the subscriptions delivered to."""
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
            try:
                self._deliver(sub, send, slot.day, now)
            except Exception as exc:  # one unreachable channel must not hold up the others
                self._log_failure(sub, slot.day, exc)
                continue
            delivered.append(sub)
        return delivered

    def _deliver(self, sub: Subscription, send: Sender, day: date, now: datetime) -> None:
        window = (
            Window.since(sub.last_delivered_at, now)
            if sub.last_delivered_at
            else Window.last_24h(now)
        )
        channel = (sub.platform, sub.channel)
        briefing = self.briefing.brief(
            window, topics=sub.topics, limit=self.stories, channel=channel
        )
        send(sub.channel, briefing)
        # Recorded after posting: a crash in between repeats this briefing, never skips it.
        self.briefing.deliveries.record(*channel, briefing, at=now)
        self.subscriptions.record_delivery(*channel, day=day, at=now)

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
