"""Chat events already handled, kept in the store: Slack re-sends an event it thinks went
unanswered, possibly to another replica, and each must be answered once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import ClassVar

from corpus.database import Tables

_SCHEMA = """
CREATE TABLE IF NOT EXISTS seen_events (
    key TEXT PRIMARY KEY,
    seen_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS seen_events_at ON seen_events(seen_at)
"""

# Slack retries an event three times within minutes; a day covers that with room to spare.
KEEP = timedelta(days=1)


class SeenEvents(Tables):
    COMPONENT = "seen_events"
    MIGRATIONS: ClassVar[Mapping[str, Sequence[str]]] = {
        "sqlite": [_SCHEMA],
        "postgresql": [_SCHEMA],
    }

    def first_time(self, key: str) -> bool:
        """Whether ``key`` is new: true for exactly one caller among all processes."""
        now = self.clock()
        with self.transaction() as conn:
            conn.execute("DELETE FROM seen_events WHERE seen_at < ?", ((now - KEEP).isoformat(),))
            row = conn.execute(
                "INSERT INTO seen_events (key, seen_at) VALUES (?, ?)"
                " ON CONFLICT (key) DO NOTHING RETURNING key",
                (key, now.isoformat()),
            ).fetchone()
        return row is not None
