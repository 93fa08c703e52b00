"""Windows: the one type for a publication period, asked about in a question or briefed on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo


@dataclass(frozen=True)
class Window:
    """Articles published in ``start <= published_at < end``; ``label`` names it for people."""

    start: datetime
    end: datetime
    label: str = ""

    @classmethod
    def day(cls, day: date, tz: tzinfo) -> Window:
        """A calendar day in ``tz``, midnight to midnight (23 or 25 hours on DST changes)."""
        start = datetime.combine(day, time(0), tzinfo=tz)
        end = (
            datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
            if day < date.max
            else datetime.max.replace(tzinfo=tz)  # the last day ends at the last instant
        )
        return cls(start, end, day.isoformat())

    @classmethod
    def since(cls, start: datetime, now: datetime) -> Window:
        return cls(start, now, f"since {start.astimezone(now.tzinfo):%Y-%m-%d %H:%M}")

    @classmethod
    def last_24h(cls, now: datetime) -> Window:
        return cls(now - timedelta(hours=24), now, "the last 24 hours")
