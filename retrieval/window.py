"""Windows: the one type for a publication period, asked about in a question or briefed on."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

PERIODS = "today, yesterday, this week, last week or YYYY-MM-DD"
"""The periods a briefing can be asked for, as help texts and errors name them."""


@dataclass(frozen=True)
class Window:
    """Articles published in ``start <= published_at < end``; ``label`` names it for people."""

    start: datetime
    end: datetime
    label: str = ""

    @classmethod
    def day(cls, day: date, tz: tzinfo) -> Window:
        """A calendar day in ``tz``, midnight to midnight (23 or 25 hours on DST changes)."""
        return cls.days(day, last=day, tz=tz)

    @classmethod
    def days(cls, first: date, *, last: date, tz: tzinfo) -> Window:
        """Calendar days ``first`` to ``last``, both included, in ``tz``: both ends are local
        midnights, so a DST change inside adds or drops the hour it should."""
        if last < first:
            raise ValueError(f"{last} is before {first}")
        start = datetime.combine(first, time(0), tzinfo=tz)
        end = (
            datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz)
            if last < date.max
            else datetime.max.replace(tzinfo=tz)  # the last day ends at the last instant
        )
        label = str(first) if first == last else f"{first} to {last}"
        return cls(start, end, label)

    @classmethod
    def since(cls, start: datetime, now: datetime) -> Window:
        return cls(start, now, f"since {start.astimezone(now.tzinfo):%Y-%m-%d %H:%M}")

    @classmethod
    def last_24h(cls, now: datetime) -> Window:
        return cls(now - timedelta(hours=24), now, "the last 24 hours")


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


# Each named period's first and last day, from today's date; weeks run Monday to Sunday (ISO 8601).
_NAMED: dict[str, Callable[[date], tuple[date, date]]] = {
    "today": lambda today: (today, today),
    "yesterday": lambda today: (today - timedelta(days=1), today - timedelta(days=1)),
    "this week": lambda today: (_monday(today), today),
    "last week": lambda today: (
        _monday(today) - timedelta(days=7),
        _monday(today) - timedelta(days=1),
    ),
}


def _span(text: str) -> Callable[[date], tuple[date, date]] | None:
    """How to find the days ``text`` names from today's date; None when it names no period."""
    words = " ".join(text.lower().split())
    if words in _NAMED:
        return _NAMED[words]
    try:
        day = date.fromisoformat(words)
    except ValueError:
        return None
    return lambda _: (day, day)


def period_days(text: str, *, today: date) -> tuple[date, date] | None:
    """The first and last day of the period ``text`` names (one of :data:`PERIODS`; "this
    week" runs Monday to ``today``), or None when it names none."""
    span = _span(text)
    return None if span is None else span(today)


def period(text: str, *, today: date, tz: tzinfo) -> Window | None:
    """The window of the period ``text`` names, in ``tz``; None when it names none. The one
    reading of these words, for the ``brief`` command and chat alike."""
    days = period_days(text, today=today)
    return None if days is None else Window.days(days[0], last=days[1], tz=tz)


def split_period(words: Sequence[str]) -> tuple[str | None, list[str]]:
    """The leading words that name a period, and the words after them ("last week energy" →
    "last week", ["energy"]); None and every word when they start with no period."""
    for count in (2, 1):
        head = " ".join(words[:count])
        if len(words) >= count and _span(head) is not None:
            return head, list(words[count:])
    return None, list(words)
