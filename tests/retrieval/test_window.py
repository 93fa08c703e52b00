"""Periods asked for by name or date: the days they cover, their bounds across DST, their words."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from retrieval.window import Window, period, period_days, split_period

BERLIN = ZoneInfo("Europe/Berlin")
WEDNESDAY = date(2005, 7, 6)


def test_named_periods_cover_the_right_days() -> None:
    cases = {
        "today": (WEDNESDAY, WEDNESDAY),
        "yesterday": (date(2005, 7, 5), date(2005, 7, 5)),
        "this week": (date(2005, 7, 4), WEDNESDAY),  # Monday to today
        "last week": (date(2005, 6, 27), date(2005, 7, 3)),  # Monday to Sunday
        "2005-07-01": (date(2005, 7, 1), date(2005, 7, 1)),
        "  Last   WEEK ": (date(2005, 6, 27), date(2005, 7, 3)),
    }
    for text, days in cases.items():
        assert period_days(text, today=WEDNESDAY) == days, text
    monday, sunday = date(2005, 7, 4), date(2005, 7, 10)
    assert period_days("this week", today=monday) == (monday, monday)
    assert period_days("this week", today=sunday) == (monday, sunday)
    assert period_days("last week", today=monday) == (date(2005, 6, 27), date(2005, 7, 3))
    for text in ("energy", "tomorrow", "next week", "2005-13-01", "", "this"):
        assert period_days(text, today=WEDNESDAY) is None, text


def test_a_window_of_days_includes_both_ends_and_is_labelled() -> None:
    window = period("last week", today=date(2005, 7, 13), tz=UTC)
    assert window == Window(
        datetime(2005, 7, 4, tzinfo=UTC),
        datetime(2005, 7, 11, tzinfo=UTC),
        "2005-07-04 to 2005-07-10",
    )
    day = period("yesterday", today=date(2005, 7, 13), tz=UTC)
    assert day == Window.day(date(2005, 7, 12), UTC) and day.label == "2005-07-12"
    assert period("sports", today=date(2005, 7, 13), tz=UTC) is None
    with pytest.raises(ValueError):
        Window.days(date(2005, 7, 10), last=date(2005, 7, 4), tz=UTC)


def test_a_week_across_a_dst_change_runs_midnight_to_midnight() -> None:
    """Berlin's clocks went forward on Sunday 2024-03-31: that week is an hour short, and its
    first and last local minutes are both inside it."""
    window = period("last week", today=date(2024, 4, 3), tz=BERLIN)
    assert window is not None and window.label == "2024-03-25 to 2024-03-31"
    assert window.start == datetime(2024, 3, 25, tzinfo=BERLIN)
    assert window.end == datetime(2024, 4, 1, tzinfo=BERLIN)
    assert window.end.astimezone(UTC) - window.start.astimezone(UTC) == timedelta(hours=167)
    for inside in (
        datetime(2024, 3, 25, 0, 0, tzinfo=BERLIN),
        datetime(2024, 3, 31, 23, 59, tzinfo=BERLIN),
    ):
        assert window.start <= inside < window.end
    autumn = Window.days(date(2024, 10, 27), last=date(2024, 10, 27), tz=BERLIN)
    assert autumn.end.astimezone(UTC) - autumn.start.astimezone(UTC) == timedelta(hours=25)


def test_the_first_and_last_representable_days() -> None:
    last = Window.day(date.max, UTC)
    assert last.label == "9999-12-31" and last.end == datetime.max.replace(tzinfo=UTC)
    assert Window.day(date.min, UTC).start == datetime.min.replace(tzinfo=UTC)


def test_leading_words_that_name_a_period_are_split_from_topics() -> None:
    assert split_period(["last", "week", "energy", "policy"]) == ("last week", ["energy", "policy"])
    assert split_period(["This", "Week"]) == ("This Week", [])
    assert split_period(["2005-07-07", "London"]) == ("2005-07-07", ["London"])
    assert split_period(["yesterday"]) == ("yesterday", [])
    assert split_period(["this", "energy"]) == (None, ["this", "energy"])
    assert split_period(["energy"]) == (None, ["energy"])
    assert split_period([]) == (None, [])
