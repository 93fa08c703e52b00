"""Time expressions become publication windows relative to a fixed, non-UTC reference time."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from retrieval.time_expressions import parse_time

BERLIN = ZoneInfo("Europe/Berlin")
# Friday 1 March 2024, 09:30 in Berlin: the day after a leap day, at a month boundary.
NOW = datetime(2024, 3, 1, 9, 30, tzinfo=BERLIN)


def berlin(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=BERLIN)


@pytest.mark.parametrize(
    ("question", "expression", "start", "end", "text"),
    [
        ("What happened today in Gaza?", "today", berlin(2024, 3, 1), NOW, "What happened Gaza?"),
        (
            "What did the minister say yesterday?",
            "yesterday",
            berlin(2024, 2, 29),
            berlin(2024, 3, 1),
            "What did the minister say?",
        ),
        (
            "Any news this week about inflation?",
            "this week",
            berlin(2024, 2, 26),
            NOW,
            "Any news inflation?",
        ),
        (
            "What happened last week in Iraq?",
            "last week",
            berlin(2024, 2, 19),
            berlin(2024, 2, 26),
            "What happened Iraq?",
        ),
        ("What happened since Monday?", "since Monday", berlin(2024, 2, 26), NOW, "What happened?"),
        (
            "What happened in September 2023 with Kim Jong Un?",
            "September 2023",
            berlin(2023, 9, 1),
            berlin(2023, 10, 1),
            "What happened with Kim Jong Un?",
        ),
        (
            "What was agreed on 19 September?",
            "19 September",
            berlin(2023, 9, 19),
            berlin(2023, 9, 20),
            "What was agreed?",
        ),
        (
            "What happened 2 days ago in London?",
            "2 days ago",
            berlin(2024, 2, 28),
            berlin(2024, 2, 29),
            "What happened London?",
        ),
    ],
)
def test_expressions_become_windows(
    question: str, expression: str, start: datetime, end: datetime, text: str
) -> None:
    parsed = parse_time(question, now=NOW)
    assert parsed.expression == expression
    assert parsed.window is not None
    assert parsed.window.start == start
    assert parsed.window.end == end
    assert parsed.text == text


def test_windows_follow_the_reference_timezone() -> None:
    # 23:30 UTC on 29 February is already 1 March in Tokyo: "yesterday" there is 29 February.
    tokyo = datetime(2024, 2, 29, 23, 30, tzinfo=ZoneInfo("UTC")).astimezone(ZoneInfo("Asia/Tokyo"))
    window = parse_time("What happened yesterday?", now=tokyo).window
    assert window is not None
    assert window.start == datetime(2024, 2, 29, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert window.start.utcoffset() is not None


def test_month_boundary_and_new_year() -> None:
    now = datetime(2024, 1, 2, 8, 0, tzinfo=ZoneInfo("America/New_York"))
    last_week = parse_time("What happened last week?", now=now).window
    assert last_week is not None
    assert last_week.start == datetime(2023, 12, 25, tzinfo=now.tzinfo)
    assert last_week.end == datetime(2024, 1, 1, tzinfo=now.tzinfo)
    two_days = parse_time("What happened 2 days ago?", now=now).window
    assert two_days is not None
    assert two_days.start == datetime(2023, 12, 31, tzinfo=now.tzinfo)


@pytest.mark.parametrize(
    "question",
    [
        "What did Kim Jong Un inspect in Vladivostok?",
        "What did Theresa May say about Brexit?",
        "How many people were evacuated?",
    ],
)
def test_questions_without_time_expressions_are_left_alone(question: str) -> None:
    parsed = parse_time(question, now=NOW)
    assert parsed.window is None
    assert parsed.text == question


def test_a_naive_reference_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        parse_time("What happened today?", now=datetime(2024, 3, 1))
