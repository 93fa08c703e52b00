"""Scheduled briefings through the real briefing service, with a fixed clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.scheduler import BriefingScheduler
from bot.services.briefing import Briefing
from bot.subscriptions import SubscriptionError, from_words
from bot.wiring import Briefbot
from tests.conftest import MakeBot
from tests.test_briefing import OTHERS, VOLCANO

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
    bot: Briefbot = make_bot()
    bot.ingest_service.ingest_articles([(a.title, a) for a in VOLCANO[:1]])
    clock = Clock(datetime(2024, 5, 10, 7, 0, tzinfo=BERLIN))
    bot.subscriptions.subscribe(
        from_words(["08:00", "Europe/Berlin"], platform="slack", channel="C1", now=clock.now)
    )
    sent: list[tuple[str, Briefing]] = []

    def scheduler() -> BriefingScheduler:
        """A fresh scheduler is what a restarted bot has: everything else is in SQLite."""
        return BriefingScheduler(
            bot.subscriptions,
            bot.briefing_service,
            senders={"slack": lambda channel, b: sent.append((channel, b))},
            catch_up=timedelta(hours=6),
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


def test_a_channel_that_cannot_be_posted_to_holds_up_no_other(
    make_bot: MakeBot, caplog: pytest.LogCaptureFixture
) -> None:
    bot: Briefbot = make_bot()
    bot.ingest_service.ingest_articles([(a.title, a) for a in VOLCANO[:1]])
    clock = Clock(datetime(2024, 5, 10, 7, 0, tzinfo=BERLIN))
    for channel in ("C-gone", "C-ok"):
        bot.subscriptions.subscribe(
            from_words(["08:00", "Europe/Berlin"], platform="slack", channel=channel, now=clock.now)
        )
    sent: list[str] = []
    gone = True

    def send(channel: str, _: Briefing) -> None:
        if channel == "C-gone" and gone:
            raise RuntimeError("not_in_channel")
        sent.append(channel)

    scheduler = BriefingScheduler(
        bot.subscriptions,
        bot.briefing_service,
        senders={"slack": send},
        catch_up=timedelta(hours=6),
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
