"""Time expressions: find "yesterday", "last week", "in September 2023"… in a question and turn
them into a publication-date window relative to a reference time."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from dateparser.date import DateDataParser
from dateparser.search import search_dates

from retrieval.window import Window

# Words dateparser's search sometimes swallows around an expression ("today in", "this week
# about"); they belong to the question, not to the date.
_EDGE = r"(?:on|in|at|of|about|for|from|during)"
_EDGE_WORDS = re.compile(rf"^(?:{_EDGE}\s+)+|(?:\s+{_EDGE})+$", re.IGNORECASE)
_SINCE = re.compile(r"\b(?:since|after)\s*$", re.IGNORECASE)
# dateparser reads bare numbers and some words as dates ("1 million", "a second term"); only
# expressions with a calendar word or a relative marker are taken as time filters.
_TIME_WORDS = re.compile(
    r"\b(?:today|tonight|yesterday|week|weekend|month|year|ago|monday|tuesday|wednesday|thursday"
    r"|friday|saturday|sunday|january|february|march|april|may|june|july|august|september"
    r"|october|november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|\d{4}"
    r"|\d{1,2}[/.-]\d{1,2})\b",
    re.IGNORECASE,
)
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([?.!,;:])")
_AMBIGUOUS_MONTH = re.compile(r"^(?:may|march)$", re.IGNORECASE)


@dataclass(frozen=True)
class TimeQuery:
    """A question split into the words to match and the publication window it asks about."""

    text: str
    window: Window | None = None
    expression: str | None = None

    def label(self) -> str:
        return f"“{self.expression}”" if self.expression else "that period"


def _settings(now: datetime) -> dict[str, object]:
    return {
        "RELATIVE_BASE": now.replace(tzinfo=None),
        "PREFER_DATES_FROM": "past",
        "RETURN_AS_TIMEZONE_AWARE": False,
    }


def _period_window(value: datetime, period: str, now: datetime) -> Window:
    """The calendar period (day, week, month, year) holding ``value``, in ``now``'s timezone."""
    day = datetime.combine(value.date(), time(0), tzinfo=now.tzinfo)
    if period == "week":
        start = day - timedelta(days=day.weekday())
        return Window(start, start + timedelta(days=7))
    if period == "month":
        start = day.replace(day=1)
        return Window(start, (start + timedelta(days=32)).replace(day=1))
    if period == "year":
        start = day.replace(month=1, day=1)
        return Window(start, start.replace(year=start.year + 1))
    return Window(day, day + timedelta(days=1))


def parse_time(question: str, *, now: datetime) -> TimeQuery:
    """Find the first time expression in ``question`` and the window it means relative to ``now``.

    ``now`` must carry a timezone: "yesterday" in Tokyo is not yesterday in New York. The window
    never reaches past ``now``, since nothing newer than the reference time can be asked about.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if not _TIME_WORDS.search(question):
        return TimeQuery(question)
    settings = _settings(now)
    parser = DateDataParser(languages=["en"], settings=settings)
    for raw, _ in search_dates(question, languages=["en"], settings=settings) or []:
        expression = _EDGE_WORDS.sub("", raw.strip()).strip()
        if not _TIME_WORDS.search(expression):
            continue
        if _AMBIGUOUS_MONTH.match(expression) and expression == raw.strip():
            continue  # "May" alone is more often Theresa May than the month
        data = parser.get_date_data(expression)
        if data.date_obj is None:
            continue
        window = _period_window(data.date_obj, data.period or "day", now)
        position = question.find(raw)
        before, after = question[:position], question[position + len(raw) :]
        since = _SINCE.search(before)
        if since:
            window = Window(window.start, now)
            expression = f"{since.group().strip()} {expression}"
            before = before[: since.start()]
        end = min(window.end, now)
        text = _SPACE_BEFORE_PUNCT.sub(r"\1", " ".join(f"{before} {after}".split()))
        return TimeQuery(text or question, Window(window.start, end), expression)
    return TimeQuery(question)
