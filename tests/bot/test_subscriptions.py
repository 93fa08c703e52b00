from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.subscriptions import (
    DAILY,
    WEEKDAYS,
    WEEKENDS,
    Slot,
    Subscription,
    SubscriptionError,
    SubscriptionStore,
    describe,
    due,
    fire_at,
    missed,
    next_fire,
    parse_days,
    parse_time_of_day,
    parse_timezone,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
CATCH_UP = timedelta(hours=6)
MINUTE = timedelta(minutes=1)


def make_sub(**changes: Any) -> Subscription:
    fields: dict[str, Any] = {
        "platform": "slack",
        "channel": "C1",
        "time": time(8, 0),
        "timezone": "Europe/Berlin",
        "days": DAILY,
        "topics": ("climate", "energy"),
        "created_by": "U1",
    }
    return Subscription(**(fields | changes))


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def local(
    zone: ZoneInfo, year: int, month: int, day: int, hour: int, minute: int, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=zone)


Delivery = tuple[str, date, datetime]


def simulate(
    path: Path,
    *,
    start: datetime,
    end: datetime,
    restarts: Sequence[datetime] = (),
    catch_up: timedelta = CATCH_UP,
) -> list[Delivery]:
    """Run the scheduler's loop on a clock ticking each minute, the store its only memory; at
    each restart the store is closed and opened afresh, as a new process would."""
    store = SubscriptionStore(path)
    pending = sorted(restarts)
    deliveries: list[Delivery] = []
    # In UTC: arithmetic on datetimes sharing a ZoneInfo is wall-clock arithmetic, which would
    # step through a DST gap or fold wrongly.
    now, end = start.astimezone(UTC), end.astimezone(UTC)
    while now < end:
        if pending and now >= pending[0]:
            pending.pop(0)
            store.close()
            store = SubscriptionStore(path)
        for sub in store.all():
            slot = due(sub, now, catch_up=catch_up)
            if slot is not None:
                deliveries.append((sub.channel, slot.day, now))
                store.record_delivery(sub.platform, sub.channel, day=slot.day, at=now)
        now += MINUTE
    store.close()
    assert not pending, "every restart happened"
    return deliveries


def subscribe(path: Path, *subs: Subscription) -> None:
    store = SubscriptionStore(path)
    for sub in subs:
        store.subscribe(sub)
    store.close()


# Parsing


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("daily", DAILY),
        ("Everyday", DAILY),
        ("every  day", DAILY),
        ("weekdays", frozenset({0, 1, 2, 3, 4})),
        ("WEEKENDS", frozenset({5, 6})),
        ("mon,wed,fri", frozenset({0, 2, 4})),
        ("Monday, wednesday ,FRIDAY", frozenset({0, 2, 4})),
        ("tue thu", frozenset({1, 3})),
        ("sun", frozenset({6})),
        ("sat,saturday", frozenset({5})),
    ],
)
def test_parse_days(text: str, days: frozenset[int]) -> None:
    assert parse_days(text) == days


@pytest.mark.parametrize("text", ["", " , ", "funday", "mon,xyz", "mo", "mon;wed", "daily,mon"])
def test_parse_days_rejects_with_one_sentence(text: str) -> None:
    with pytest.raises(SubscriptionError) as error:
        parse_days(text)
    message = str(error.value)
    assert message.endswith(".")
    assert message.count(". ") == 0
    assert "mon,wed,fri" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [("08:00", time(8, 0)), ("8:00", time(8, 0)), ("7:30", time(7, 30)), (" 23:59 ", time(23, 59))],
)
def test_parse_time_of_day(text: str, expected: time) -> None:
    assert parse_time_of_day(text) == expected


@pytest.mark.parametrize("text", ["24:00", "8:60", "8", "8.30", "08:00:00", "8am", "", "-1:00"])
def test_parse_time_of_day_rejects(text: str) -> None:
    with pytest.raises(SubscriptionError, match="HH:MM"):
        parse_time_of_day(text)


def test_parse_timezone_accepts_iana_names_in_any_case() -> None:
    assert parse_timezone("Europe/Berlin") == BERLIN
    assert parse_timezone(" america/new_york ").key == "America/New_York"
    assert parse_timezone("UTC").key == "UTC"


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "America", "../etc/passwd", "localtime"])
def test_parse_timezone_rejects(name: str) -> None:
    with pytest.raises(SubscriptionError) as error:
        parse_timezone(name)
    assert str(error.value) == (
        f"Unknown timezone '{name}' — use an IANA name such as Europe/Berlin."
    )


def test_parse_timezone_suggests_the_zone_of_a_city() -> None:
    with pytest.raises(SubscriptionError) as error:
        parse_timezone("London")
    assert str(error.value) == "Unknown timezone 'London' — did you mean Europe/London?"


@pytest.mark.parametrize(
    "changes",
    [
        {"platform": "irc"},
        {"days": frozenset()},
        {"days": frozenset({7})},
        {"timezone": "Nowhere/Land"},
        {"timezone": "europe/berlin"},  # ZoneInfo itself would refuse it later
        {"time": time(8, 0, tzinfo=UTC)},
        {"last_delivered_at": datetime(2024, 4, 1, 8, 0)},
    ],
)
def test_subscription_rejects_invalid_fields(changes: dict[str, Any]) -> None:
    with pytest.raises(SubscriptionError):
        make_sub(**changes)


def test_describe() -> None:
    assert describe(make_sub(days=WEEKDAYS)) == (
        "08:00 Europe/Berlin on weekdays — topics: climate, energy"
    )
    assert describe(
        make_sub(time=time(7, 30), timezone="America/New_York", days=DAILY, topics=())
    ) == ("07:30 America/New_York every day — all topics")
    assert describe(make_sub(days=WEEKENDS, topics=("sport",))) == (
        "08:00 Europe/Berlin on weekends — topics: sport"
    )
    assert describe(make_sub(days=frozenset({4, 0, 2}))).startswith(
        "08:00 Europe/Berlin on Mon, Wed, Fri — "
    )


# The store


def test_store_round_trip_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "briefbot.sqlite"
    store = SubscriptionStore(path)
    slack = make_sub(days=frozenset({0, 2, 4}), topics=("ai", "chips, memory"))
    discord = make_sub(
        platform="discord",
        channel="123",
        time=time(7, 30),
        timezone="America/New_York",
        topics=(),
        created_by=None,
        last_delivered_day=date(2024, 4, 1),
        last_delivered_at=utc(2024, 4, 1, 11, 30, 5),
    )
    assert store.subscribe(slack) == slack
    assert store.subscribe(discord) == discord
    assert store.get("slack", "C1") == slack
    assert store.get("slack", "C2") is None
    assert store.all() == [discord, slack]
    store.close()

    reopened = SubscriptionStore(path)
    assert reopened.all() == [discord, slack]
    assert reopened.unsubscribe("slack", "C1") is True
    assert reopened.unsubscribe("slack", "C1") is False
    assert reopened.get("slack", "C1") is None
    assert reopened.all() == [discord]
    reopened.close()


def test_resubscribing_keeps_the_last_delivery(tmp_path: Path) -> None:
    path = tmp_path / "briefbot.sqlite"
    store = SubscriptionStore(path)
    store.subscribe(make_sub())
    delivered_at = local(BERLIN, 2024, 4, 2, 8, 0, 30)
    store.record_delivery("slack", "C1", day=date(2024, 4, 2), at=delivered_at)

    changed = make_sub(time=time(18, 0), days=WEEKDAYS, topics=("sport",), created_by="U2")
    stored = store.subscribe(changed)
    store.close()

    expected = dataclasses.replace(
        changed,
        created_by="U1",
        last_delivered_day=date(2024, 4, 2),
        last_delivered_at=utc(2024, 4, 2, 6, 0, 30),
    )
    assert stored == expected
    assert stored.last_delivered_at is not None
    assert stored.last_delivered_at.utcoffset() == timedelta(0)
    reopened = SubscriptionStore(path)
    assert reopened.get("slack", "C1") == expected
    reopened.close()


def test_record_delivery_never_moves_back_nor_creates(tmp_path: Path) -> None:
    store = SubscriptionStore(tmp_path / "briefbot.sqlite")
    store.subscribe(make_sub())
    store.record_delivery("slack", "C1", day=date(2024, 4, 3), at=utc(2024, 4, 3, 6))
    store.record_delivery("slack", "C1", day=date(2024, 4, 2), at=utc(2024, 4, 3, 7))
    store.record_delivery("slack", "gone", day=date(2024, 4, 3), at=utc(2024, 4, 3, 6))
    sub = store.get("slack", "C1")
    assert sub is not None
    assert (sub.last_delivered_day, sub.last_delivered_at) == (date(2024, 4, 3), utc(2024, 4, 3, 6))
    assert [s.channel for s in store.all()] == ["C1"]
    store.close()


# The schedule


def test_each_scheduled_day_is_delivered_once_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "briefbot.sqlite"
    ny = make_sub(channel="NY", time=time(7, 30), timezone="America/New_York", days=WEEKDAYS)
    subscribe(path, make_sub(channel="BER"), ny)

    # Monday 1 April 2024 to the next Monday, restarting just after a delivery and mid-day.
    deliveries = simulate(
        path,
        start=utc(2024, 4, 1),
        end=utc(2024, 4, 8),
        restarts=[utc(2024, 4, 2, 6, 1), utc(2024, 4, 3, 12, 0), utc(2024, 4, 5, 11, 30)],
    )

    berlin = [(day, at) for channel, day, at in deliveries if channel == "BER"]
    assert berlin == [(date(2024, 4, d), utc(2024, 4, d, 6, 0)) for d in range(1, 8)]
    new_york = [(day, at) for channel, day, at in deliveries if channel == "NY"]
    assert new_york == [(date(2024, 4, d), utc(2024, 4, d, 11, 30)) for d in range(1, 6)]


def test_weekdays_only_skips_the_weekend() -> None:
    sub = make_sub(days=WEEKDAYS, last_delivered_day=date(2024, 4, 5))  # Friday
    saturday_noon = local(BERLIN, 2024, 4, 6, 12, 0)
    assert due(sub, saturday_noon, catch_up=timedelta(days=3)) is None
    assert due(sub, local(BERLIN, 2024, 4, 7, 8, 0), catch_up=CATCH_UP) is None
    assert next_fire(sub, saturday_noon) == local(BERLIN, 2024, 4, 8, 8, 0)
    monday = due(sub, local(BERLIN, 2024, 4, 8, 8, 0), catch_up=CATCH_UP)
    assert monday == Slot(day=date(2024, 4, 8), fire_at=utc(2024, 4, 8, 6, 0))


def test_catch_up_after_downtime_within_the_window(tmp_path: Path) -> None:
    sub = make_sub(last_delivered_day=date(2024, 4, 1))
    eleven = local(BERLIN, 2024, 4, 2, 11, 0)
    assert due(sub, eleven, catch_up=CATCH_UP) == Slot(
        day=date(2024, 4, 2), fire_at=utc(2024, 4, 2, 6, 0)
    )
    assert missed(sub, eleven, catch_up=CATCH_UP) is None

    path = tmp_path / "briefbot.sqlite"
    subscribe(path, sub)
    deliveries = simulate(path, start=eleven, end=local(BERLIN, 2024, 4, 3, 12, 0))
    assert deliveries == [
        ("C1", date(2024, 4, 2), eleven),
        ("C1", date(2024, 4, 3), utc(2024, 4, 3, 6, 0)),
    ]


def test_too_late_is_skipped_and_the_next_day_fires(tmp_path: Path) -> None:
    sub = make_sub(last_delivered_day=date(2024, 4, 1))
    three = local(BERLIN, 2024, 4, 2, 15, 0)
    assert due(sub, three, catch_up=CATCH_UP) is None
    assert missed(sub, three, catch_up=CATCH_UP) == Slot(
        day=date(2024, 4, 2), fire_at=utc(2024, 4, 2, 6, 0)
    )

    path = tmp_path / "briefbot.sqlite"
    subscribe(path, sub)
    deliveries = simulate(path, start=three, end=local(BERLIN, 2024, 4, 3, 12, 0))
    assert deliveries == [("C1", date(2024, 4, 3), utc(2024, 4, 3, 6, 0))]


def test_catch_up_window_is_inclusive() -> None:
    sub = make_sub()
    edge = local(BERLIN, 2024, 4, 2, 14, 0)
    assert due(sub, edge, catch_up=CATCH_UP) is not None
    assert missed(sub, edge, catch_up=CATCH_UP) is None
    assert due(sub, edge + MINUTE, catch_up=CATCH_UP) is None
    assert missed(sub, edge + MINUTE, catch_up=CATCH_UP) is not None


def test_not_due_before_the_time_nor_after_delivery() -> None:
    sub = make_sub(last_delivered_day=date(2024, 4, 1))
    assert due(sub, local(BERLIN, 2024, 4, 2, 7, 59), catch_up=CATCH_UP) is None
    assert due(sub, local(BERLIN, 2024, 4, 2, 8, 0), catch_up=CATCH_UP) is not None
    delivered = dataclasses.replace(sub, last_delivered_day=date(2024, 4, 2))
    assert due(delivered, local(BERLIN, 2024, 4, 2, 8, 1), catch_up=CATCH_UP) is None
    assert missed(delivered, local(BERLIN, 2024, 4, 2, 20, 0), catch_up=CATCH_UP) is None


def test_an_unrecorded_delivery_repeats_after_a_crash(tmp_path: Path) -> None:
    # The documented cost of recording after posting: the store is the only memory.
    path = tmp_path / "briefbot.sqlite"
    subscribe(path, make_sub())
    now = local(BERLIN, 2024, 4, 2, 8, 0)
    store = SubscriptionStore(path)
    first = store.get("slack", "C1")
    assert first is not None
    assert due(first, now, catch_up=CATCH_UP) is not None
    store.close()  # crashed after posting, before record_delivery

    store = SubscriptionStore(path)
    again = store.get("slack", "C1")
    assert again is not None
    slot = due(again, now + MINUTE, catch_up=CATCH_UP)
    assert slot is not None
    store.record_delivery("slack", "C1", day=slot.day, at=now + MINUTE)
    recorded = store.get("slack", "C1")
    assert recorded is not None
    assert due(recorded, now + 2 * MINUTE, catch_up=CATCH_UP) is None
    store.close()


def test_weekly_subscription_looks_a_full_week_back() -> None:
    sub = make_sub(days=frozenset({0}))  # Mondays
    monday_early = local(BERLIN, 2024, 4, 8, 7, 0)
    assert missed(sub, monday_early, catch_up=CATCH_UP) == Slot(
        day=date(2024, 4, 1), fire_at=utc(2024, 4, 1, 6, 0)
    )
    assert due(sub, monday_early, catch_up=timedelta(days=8)) is not None
    assert next_fire(sub, monday_early) == utc(2024, 4, 8, 6, 0)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        due(make_sub(), datetime(2024, 4, 2, 8, 0), catch_up=CATCH_UP)
    with pytest.raises(ValueError, match="timezone-aware"):
        next_fire(make_sub(), datetime(2024, 4, 2, 8, 0))


@pytest.mark.parametrize(
    ("timezone", "at", "day", "fires", "local_time"),
    [
        # Spring forward: 02:30 doesn't exist, so it fires as the clocks jump, at 03:00.
        ("Europe/Berlin", time(2, 30), date(2024, 3, 31), utc(2024, 3, 31, 1, 0), time(3, 0)),
        ("America/New_York", time(2, 30), date(2024, 3, 10), utc(2024, 3, 10, 7, 0), time(3, 0)),
        # Fall back: the time happens twice and fires at the first, still on summer time.
        ("Europe/Berlin", time(2, 30), date(2024, 10, 27), utc(2024, 10, 27, 0, 30), time(2, 30)),
        ("America/New_York", time(1, 30), date(2024, 11, 3), utc(2024, 11, 3, 5, 30), time(1, 30)),
    ],
)
def test_dst_days_fire_once(
    tmp_path: Path, timezone: str, at: time, day: date, fires: datetime, local_time: time
) -> None:
    zone = ZoneInfo(timezone)
    sub = make_sub(timezone=timezone, time=at)
    assert fire_at(sub, day) == fires
    fired_local = fires.astimezone(zone)
    assert (fired_local.time(), fired_local.fold) == (local_time, 0)

    path = tmp_path / "briefbot.sqlite"
    subscribe(path, sub)
    # The whole local day and its neighbours' edges, with a restart inside the odd hour.
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    deliveries = simulate(path, start=start, end=end, restarts=[fires + 30 * MINUTE])
    assert deliveries == [("C1", day, fires)]


@pytest.mark.parametrize(
    ("timezone", "at", "after", "expected"),
    [
        # Berlin 08:00: 23 hours from Saturday to Sunday in spring, 25 in autumn.
        ("Europe/Berlin", time(8, 0), utc(2024, 3, 30, 7, 0), utc(2024, 3, 31, 6, 0)),
        ("Europe/Berlin", time(8, 0), utc(2024, 10, 26, 6, 0), utc(2024, 10, 27, 7, 0)),
        # Strictly after: from the gap day's own firing instant to the next day's.
        ("Europe/Berlin", time(2, 30), utc(2024, 3, 31, 1, 0), utc(2024, 4, 1, 0, 30)),
        ("Europe/Berlin", time(2, 30), utc(2024, 3, 30, 12, 0), utc(2024, 3, 31, 1, 0)),
        ("America/New_York", time(2, 30), utc(2024, 3, 9, 12, 0), utc(2024, 3, 10, 7, 0)),
        ("America/New_York", time(1, 30), utc(2024, 11, 3, 5, 30), utc(2024, 11, 4, 6, 30)),
    ],
)
def test_next_fire_across_dst(timezone: str, at: time, after: datetime, expected: datetime) -> None:
    assert next_fire(make_sub(timezone=timezone, time=at), after) == expected


def test_next_fire_skips_a_day_already_delivered() -> None:
    sub = make_sub(last_delivered_day=date(2024, 4, 2))
    before_eight = local(BERLIN, 2024, 4, 2, 7, 0)
    assert next_fire(make_sub(), before_eight) == utc(2024, 4, 2, 6, 0)
    assert next_fire(sub, before_eight) == utc(2024, 4, 3, 6, 0)
    assert next_fire(sub, before_eight).tzinfo == UTC
