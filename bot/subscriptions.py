"""Briefing subscriptions: who gets a daily briefing when, their SQLite store, and the schedule."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import ClassVar
from zoneinfo import ZoneInfo

from bot.timezones import UnknownTimezoneError, find_timezone
from corpus.database import Row, Tables
from corpus.errors import BriefbotError

PLATFORMS = frozenset({"slack", "discord", "terminal"})
DAILY = frozenset(range(7))
WEEKDAYS = frozenset(range(5))
WEEKENDS = frozenset({5, 6})

_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_KEYWORDS = {
    "daily": DAILY,
    "everyday": DAILY,
    "every day": DAILY,
    "weekdays": WEEKDAYS,
    "weekends": WEEKENDS,
}
_DAYS_HELP = "use daily, weekdays, weekends or a list such as mon,wed,fri"


class SubscriptionError(BriefbotError, ValueError):
    """A subscription that can't be made; the message is one sentence for the user."""


def parse_days(text: str) -> frozenset[int]:
    """Days of the week (Mon=0) from "daily", "weekdays", "weekends" or "mon,wed,fri"."""
    cleaned = " ".join(text.lower().split())
    if cleaned in _DAY_KEYWORDS:
        return _DAY_KEYWORDS[cleaned]
    days: set[int] = set()
    for word in filter(None, re.split(r"[,\s]+", cleaned)):
        for number, name in enumerate(_DAY_NAMES):
            if word in (name, name[:3]):
                days.add(number)
                break
        else:
            raise SubscriptionError(f"Unknown day '{word}' — {_DAYS_HELP}.")
    if not days:
        raise SubscriptionError(f"No days given — {_DAYS_HELP}.")
    return frozenset(days)


def parse_time_of_day(text: str) -> dt.time:
    """A 24-hour local time such as "08:00" or "7:30"."""
    match = re.fullmatch(r"([0-9]{1,2}):([0-9]{2})", text.strip())
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise SubscriptionError(f"Invalid time '{text}' — use 24-hour HH:MM such as 08:00.")
    return dt.time(int(match[1]), int(match[2]))


def parse_timezone(name: str) -> ZoneInfo:
    """An IANA zone; case is forgiven ("europe/berlin") and the canonical key is kept; a city
    or a typo gets a suggestion ("London": did you mean Europe/London?)."""
    try:
        return find_timezone(name)
    except UnknownTimezoneError as exc:
        message = str(exc)
        end = "" if message.endswith("?") else "."
        raise SubscriptionError(f"{message[0].upper()}{message[1:]}{end}") from None


@dataclass(frozen=True, kw_only=True)
class Subscription:
    """A channel's daily briefing. ``last_delivered_day`` is the local date of the last scheduled
    briefing delivered; ``last_delivered_at`` (UTC) is when, the start of the next one's news."""

    platform: str
    channel: str
    time: dt.time
    timezone: str
    days: frozenset[int]
    topics: tuple[str, ...] = ()
    created_by: str | None = None
    last_delivered_day: date | None = None
    last_delivered_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.platform not in PLATFORMS:
            raise SubscriptionError(f"Unknown platform '{self.platform}'.")
        if not self.days or not self.days <= DAILY:
            raise SubscriptionError(f"No valid days given — {_DAYS_HELP}.")
        if self.time.tzinfo is not None:
            raise SubscriptionError("The time of day must be local, without a timezone.")
        if self.last_delivered_at is not None and self.last_delivered_at.tzinfo is None:
            raise SubscriptionError("The last delivery time must be timezone-aware.")
        key = parse_timezone(self.timezone).key
        if key != self.timezone:  # ZoneInfo itself is case-sensitive; store what it accepts
            raise SubscriptionError(f"Timezone '{self.timezone}' is spelled {key}.")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True, kw_only=True)
class Slot:
    """One scheduled occurrence: the subscriber's local ``day`` and the UTC instant it fires."""

    day: date
    fire_at: datetime


def fire_at(sub: Subscription, day: date) -> datetime:
    """The UTC instant of ``sub.time`` on local ``day``, wherever that day's clocks jumped.

    A time skipped by spring-forward fires when the clocks jump, the first valid local time after
    the gap (02:30 → 03:00); a time repeated by fall-back fires once, at its first occurrence.
    """
    zone = sub.zone
    local = datetime.combine(day, sub.time, tzinfo=zone)  # fold=0: the first of a repeated hour
    instant = local.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == local.replace(tzinfo=None):
        return instant
    # In a gap, fold=0 reads the wall time with the offset before the jump and fold=1 with the
    # one after, so the jump lies between the two readings; find its second by bisection.
    before = int(local.replace(fold=1).astimezone(UTC).timestamp())
    after = int(instant.timestamp())
    offset_after = instant.astimezone(zone).utcoffset()
    while after - before > 1:
        middle = (before + after) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == offset_after:
            after = middle
        else:
            before = middle
    return datetime.fromtimestamp(after, UTC)


def _latest_slot(sub: Subscription, now: datetime) -> Slot | None:
    """The most recent occurrence at or before ``now``, unless that day was delivered already."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC)  # absolute arithmetic, whatever zone the caller's clock is in
    today = now.astimezone(sub.zone).date()
    for back in range(8):  # eight days hold every weekday at least once
        day = today - timedelta(days=back)
        if day.weekday() in sub.days and (at := fire_at(sub, day)) <= now:
            if sub.last_delivered_day is not None and day <= sub.last_delivered_day:
                return None
            return Slot(day=day, fire_at=at)
    return None


def due(sub: Subscription, now: datetime, *, catch_up: timedelta) -> Slot | None:
    """The occurrence to deliver now: the latest one, if not yet delivered and at most
    ``catch_up`` old (a bot that was down at 08:00 still briefs at 11:00, not at 23:00).

    The caller posts the briefing, then calls ``SubscriptionStore.record_delivery`` with
    ``slot.day``; the store is the only state, so each day is delivered once across restarts. A
    crash between posting and recording repeats that one briefing at the next start — the price
    of recording after posting rather than losing a briefing that failed to post.
    """
    slot = _latest_slot(sub, now)
    return slot if slot is not None and now - slot.fire_at <= catch_up else None


def missed(sub: Subscription, now: datetime, *, catch_up: timedelta) -> Slot | None:
    """The latest occurrence if it is undelivered and older than ``catch_up``: it is skipped.

    Nothing is recorded for a skip, so ``last_delivered_at`` still marks the last briefing and
    the next one covers the skipped day's news too. The same slot is reported until the next
    occurrence; a caller that logs skips remembers the last one it logged.
    """
    slot = _latest_slot(sub, now)
    return slot if slot is not None and now - slot.fire_at > catch_up else None


def next_fire(sub: Subscription, after: datetime) -> datetime:
    """The next scheduled UTC instant strictly after ``after`` on a day not yet delivered.

    An undelivered occurrence at or before ``after`` is ``due``'s business, not this one's.
    """
    if after.tzinfo is None:
        raise ValueError("after must be timezone-aware")
    after = after.astimezone(UTC)
    # From the day before: a gap can push a day's instant past midnight into the next day.
    start = after.astimezone(sub.zone).date() - timedelta(days=1)
    if sub.last_delivered_day is not None:
        start = max(start, sub.last_delivered_day + timedelta(days=1))
    for ahead in range(15):
        day = start + timedelta(days=ahead)
        if day.weekday() in sub.days and (at := fire_at(sub, day)) > after:
            return at
    raise AssertionError("a fortnight always holds a scheduled day")  # pragma: no cover


def describe_days(days: frozenset[int]) -> str:
    if days == DAILY:
        return "every day"
    if days == WEEKDAYS:
        return "on weekdays"
    if days == WEEKENDS:
        return "on weekends"
    return "on " + ", ".join(_DAY_NAMES[day][:3].title() for day in sorted(days))


def describe(sub: Subscription) -> str:
    """One line for people, e.g. "08:00 Europe/Berlin on weekdays — topics: climate, energy"."""
    topics = f"topics: {', '.join(sub.topics)}" if sub.topics else "all topics"
    return f"{sub.time:%H:%M} {sub.timezone} {describe_days(sub.days)} — {topics}"


_SCHEMA = """
CREATE TABLE IF NOT EXISTS subscriptions (
    platform TEXT NOT NULL,
    channel TEXT NOT NULL,
    time TEXT NOT NULL,
    timezone TEXT NOT NULL,
    days TEXT NOT NULL,
    topics TEXT NOT NULL,
    created_by TEXT,
    last_delivered_day TEXT,
    last_delivered_at TEXT,
    PRIMARY KEY (platform, channel)
);
"""


# Which process is posting a channel's briefing, until when: with several replicas on one store,
# the one whose claim succeeds posts and the others skip it.
_CLAIMS = "ALTER TABLE subscriptions ADD COLUMN claimed_until TEXT"


def _subscription(row: Row) -> Subscription:
    day, at = row["last_delivered_day"], row["last_delivered_at"]
    return Subscription(
        platform=row["platform"],
        channel=row["channel"],
        time=dt.time.fromisoformat(row["time"]),
        timezone=row["timezone"],
        days=frozenset(int(number) for number in row["days"].split(",")),
        topics=tuple(json.loads(row["topics"])),
        created_by=row["created_by"],
        last_delivered_day=date.fromisoformat(day) if day else None,
        last_delivered_at=datetime.fromisoformat(at) if at else None,
    )


def _utc_text(at: datetime | None) -> str | None:
    return at.astimezone(UTC).isoformat() if at is not None else None


class SubscriptionStore(Tables):
    """Subscriptions (beside the articles), keyed by platform and channel."""

    COMPONENT = "subscriptions"
    MIGRATIONS: ClassVar[Mapping[str, Sequence[str]]] = {
        "sqlite": [_SCHEMA, _CLAIMS],
        "postgresql": [_SCHEMA, _CLAIMS],
    }

    def subscribe(self, sub: Subscription) -> Subscription:
        """Add or reschedule a channel's briefing. Rescheduling keeps the record of the last
        delivery, so changing the time never brings a second briefing on the same day; the
        original ``created_by`` is kept too."""
        with self.transaction() as conn:
            row = conn.execute(
                "INSERT INTO subscriptions (platform, channel, time, timezone, days, topics,"
                " created_by, last_delivered_day, last_delivered_at) VALUES (?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT(platform, channel) DO UPDATE SET time = excluded.time,"
                " timezone = excluded.timezone, days = excluded.days, topics = excluded.topics,"
                " created_by = COALESCE(subscriptions.created_by, excluded.created_by)"
                " RETURNING *",
                (
                    sub.platform,
                    sub.channel,
                    sub.time.isoformat(),
                    sub.timezone,
                    ",".join(str(day) for day in sorted(sub.days)),
                    json.dumps(list(sub.topics)),
                    sub.created_by,
                    sub.last_delivered_day.isoformat() if sub.last_delivered_day else None,
                    _utc_text(sub.last_delivered_at),
                ),
            ).fetchone()
        return _subscription(row)

    def unsubscribe(self, platform: str, channel: str) -> bool:
        """Stop a channel's briefing; the flag says whether there was one."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "DELETE FROM subscriptions WHERE platform = ? AND channel = ?", (platform, channel)
            )
        return cursor.rowcount > 0

    def get(self, platform: str, channel: str) -> Subscription | None:
        with self.reading() as conn:
            row = conn.execute(
                "SELECT * FROM subscriptions WHERE platform = ? AND channel = ?",
                (platform, channel),
            ).fetchone()
        return _subscription(row) if row else None

    def all(self) -> list[Subscription]:
        with self.reading() as conn:
            rows = conn.execute("SELECT * FROM subscriptions ORDER BY platform, channel").fetchall()
        return [_subscription(row) for row in rows]

    def claim(
        self, platform: str, channel: str, *, day: date, now: datetime, lease: timedelta
    ) -> bool:
        """Take the posting of local ``day``'s briefing for ``lease``: true for one caller
        among any number of processes, until the day is recorded as delivered, the claim is
        released, or it lapses (a replica that died mid-post)."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "UPDATE subscriptions SET claimed_until = ? WHERE platform = ? AND channel = ?"
                " AND (last_delivered_day IS NULL OR last_delivered_day < ?)"
                " AND (claimed_until IS NULL OR claimed_until < ?)",
                (_utc_text(now + lease), platform, channel, day.isoformat(), _utc_text(now)),
            )
            return cursor.rowcount == 1

    def release(self, platform: str, channel: str) -> None:
        """Give up a claim (the post failed), so the next cycle of any process retries."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE subscriptions SET claimed_until = NULL WHERE platform = ? AND channel = ?",
                (platform, channel),
            )

    def record_delivery(self, platform: str, channel: str, *, day: date, at: datetime) -> None:
        """Mark local ``day`` delivered at ``at`` (ending any claim). Never moves back to an
        earlier day, so a late caller can't reopen a day; a channel unsubscribed meanwhile is
        left alone."""
        if at.tzinfo is None:
            raise ValueError("at must be timezone-aware")
        with self.transaction() as conn:
            conn.execute(
                "UPDATE subscriptions SET last_delivered_day = ?, last_delivered_at = ?,"
                " claimed_until = NULL WHERE platform = ? AND channel = ?"
                " AND (last_delivered_day IS NULL OR last_delivered_day < ?)",
                (day.isoformat(), _utc_text(at), platform, channel, day.isoformat()),
            )


SUBSCRIBE_USAGE = (
    "Use: subscribe HH:MM Area/City [daily|weekdays|weekends|mon,wed,fri] [topics…] "
    "— e.g. subscribe 08:00 Europe/Berlin weekdays climate, energy"
)


def split_topics(words: Sequence[str]) -> list[str]:
    """Topics separated by commas when there are any ("energy policy, climate"), else one a word."""
    text = " ".join(words)
    parts = text.split(",") if "," in text else words
    return [part.strip() for part in parts if part.strip()]


@dataclass(frozen=True)
class ScheduleWords:
    """A schedule as typed: ``08:00 Europe/Berlin weekdays climate, energy``."""

    time: str
    timezone: str
    days: str | None
    topics: list[str]


def schedule_words(words: Sequence[str]) -> ScheduleWords:
    """Split the words every text adapter's subscribe command takes: a time, a timezone, an
    optional day list, then topics (read by :func:`split_topics`)."""
    if len(words) < 2:
        raise SubscriptionError(SUBSCRIBE_USAGE)
    rest = list(words[2:])
    days = None
    if rest:
        try:
            parse_days(rest[0])
            days, rest = rest[0], rest[1:]
        except SubscriptionError:
            pass  # not a day list: the first topic
    return ScheduleWords(words[0], words[1], days, split_topics(rest))


def schedule(
    *,
    platform: str,
    channel: str,
    time: str,
    timezone: str,
    days: str | None,
    topics: Sequence[str],
    now: datetime,
    created_by: str | None = None,
) -> Subscription:
    """A subscription from its typed parts (Discord's options, or words of a text command).

    A time already past today counts as today's delivery, so subscribing at 09:00 to an 08:00
    briefing starts tomorrow rather than at once.
    """
    zone = parse_timezone(timezone)
    sub = Subscription(
        platform=platform,
        channel=channel,
        time=parse_time_of_day(time),
        timezone=zone.key,
        days=parse_days(days) if days else DAILY,
        topics=tuple(topic.strip() for topic in topics if topic.strip()),
        created_by=created_by,
    )
    today = now.astimezone(zone).date()
    if today.weekday() in sub.days and fire_at(sub, today) <= now:
        return replace(sub, last_delivered_day=today)
    return sub


def from_words(
    words: Sequence[str],
    *,
    platform: str,
    channel: str,
    now: datetime,
    created_by: str | None = None,
) -> Subscription:
    """A subscription from the words of a text command (``briefbot subscriptions add``)."""
    parts = schedule_words(words)
    return schedule(
        platform=platform,
        channel=channel,
        time=parts.time,
        timezone=parts.timezone,
        days=parts.days,
        topics=parts.topics,
        now=now,
        created_by=created_by,
    )
