"""Per-channel sources: a channel that only wants some outlets' articles gets answers and
briefings from those alone (``sources TASS, Wikinews``; ``sources all`` resets).

One row per chosen source, keyed by platform and channel, in plain columns so the PostgreSQL
backend holds the same table. No rows: every source.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import ClassVar

from corpus.database import Tables
from corpus.errors import BriefbotError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS channel_sources (
    platform TEXT NOT NULL,
    channel TEXT NOT NULL,
    source TEXT NOT NULL,
    chosen_by TEXT,
    chosen_at TEXT NOT NULL,
    PRIMARY KEY (platform, channel, source)
);
"""

# Sources named in a reply that lists them; the rest are counted.
_LISTED = 8


class SourcesError(BriefbotError, ValueError):
    """Names that are not sources of any article, said in words for the person who typed them."""


class ChannelSources(Tables):
    """Which sources each channel reads."""

    COMPONENT = "channel_sources"
    MIGRATIONS: ClassVar[Mapping[str, Sequence[str]]] = {
        "sqlite": [_SCHEMA],
        "postgresql": [_SCHEMA],
    }

    def of(self, platform: str, channel: str) -> tuple[str, ...]:
        """The channel's sources, alphabetically; empty when it reads every source."""
        with self.reading() as conn:
            rows = conn.execute(
                "SELECT source FROM channel_sources WHERE platform = ? AND channel = ?"
                " ORDER BY source",
                (platform, channel),
            ).fetchall()
        return tuple(str(row[0]) for row in rows)

    def choose(self, platform: str, channel: str, sources: Sequence[str], *, by: str) -> None:
        """Make ``sources`` the channel's only ones, replacing any chosen before."""
        at = self.clock().isoformat()
        with self.transaction() as conn:
            conn.execute(
                "DELETE FROM channel_sources WHERE platform = ? AND channel = ?",
                (platform, channel),
            )
            conn.executemany(
                "INSERT INTO channel_sources VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [(platform, channel, source, by, at) for source in sources],
            )

    def reset(self, platform: str, channel: str) -> bool:
        """Let the channel read every source again; the flag says whether it had a choice."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "DELETE FROM channel_sources WHERE platform = ? AND channel = ?",
                (platform, channel),
            )
        return cursor.rowcount > 0


def listing(known: Mapping[str, int]) -> str:
    """The sources there are, largest first: "Wikinews (148), TASS (1)"."""
    names = [f"{name} ({count})" for name, count in list(known.items())[:_LISTED]]
    more = len(known) - _LISTED
    return ", ".join(names) + (f" and {more} more (see articles <source>)" if more > 0 else "")


def pick(text: str, known: Mapping[str, int]) -> list[str]:
    """The sources ``text`` names, spelt as the articles spell them: comma-separated names
    ("BBC News, TASS"), or without commas one name or several one-word names, in any case.

    Raises :class:`SourcesError` naming what is not a source, with the likeliest meant one.
    """
    spelt = {name.casefold(): name for name in known}
    parts = [part.strip(" \"'“”‘’") for part in text.split(",")]
    parts = [part for part in parts if part]
    if len(parts) == 1 and parts[0].casefold() not in spelt:
        words = parts[0].split()
        if all(word.casefold() in spelt for word in words):
            parts = words
    unknown = [part for part in parts if part.casefold() not in spelt]
    if not unknown:
        return sorted({spelt[part.casefold()] for part in parts})
    if not known:
        raise SourcesError("There are no articles yet, so no sources to choose from.")
    named = " or ".join(f"“{part}”" for part in unknown[:3])
    close = difflib.get_close_matches(unknown[0].casefold(), list(spelt), n=1, cutoff=0.6)
    hint = f" Did you mean “{spelt[close[0]]}”?" if close else ""
    raise SourcesError(
        f"I have no articles from {named}.{hint} Sources: {listing(known)}."
        " Separate names that have spaces with commas."
    )
