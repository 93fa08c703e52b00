"""RSS/Atom feeds: finding them on web pages, parsing entries and remembering which were seen."""

from __future__ import annotations

import builtins
import calendar
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urljoin

import feedparser
import lxml.etree
import lxml.html

from corpus.database import IDENTITY, Row, Tables
from corpus.errors import BriefbotError
from corpus.model import canonical_url, clean_text, normalise_text

_NOT_A_FEED = "That address doesn't serve an RSS or Atom feed."

PAGE_TYPES = frozenset({"text/html", "application/xhtml+xml"})
"""Web pages, which may advertise their feeds (see ``advertised_feeds``)."""
# The feed formats briefbot reads; a page's JSON Feed (application/feed+json) is not one of them.
_ADVERTISED_TYPES = frozenset({"application/rss+xml", "application/atom+xml"})


class FeedError(BriefbotError):
    """A document that is not a usable feed; the message is one sentence for the user."""


@dataclass(frozen=True, kw_only=True)
class FeedEntry:
    """One item of a feed. ``key`` identifies it across polls, even when the feed repeats it."""

    key: str
    link: str | None
    title: str
    published_at: datetime | None
    author: str | None
    content_html: str | None


@dataclass(frozen=True, kw_only=True)
class ParsedFeed:
    """A feed's channel and its entries, each key once (first wins: feeds do repeat items)."""

    title: str | None
    link: str | None
    entries: list[FeedEntry]


def parse_feed(data: bytes, *, url: str) -> ParsedFeed:
    """Parse a fetched feed; ``url`` is where it came from, the base for relative links."""
    # Telling feedparser where the document lives makes it resolve relative links (and xml:base)
    # in entry links and content; application/xml lets the XML declaration choose the encoding.
    headers = {"content-location": url, "content-type": "application/xml"}
    parsed = feedparser.parse(data, response_headers=headers)
    feed = parsed.get("feed", {})
    if not parsed.entries and (
        not parsed.get("version") or (parsed.bozo and not feed.get("title"))
    ):
        raise FeedError(_NOT_A_FEED)
    entries: dict[str, FeedEntry] = {}
    for raw in parsed.entries:
        entry = _entry(raw)
        entries.setdefault(entry.key, entry)
    return ParsedFeed(
        # The feed's title is printed as it is ("Following …"), so it is cleaned here.
        title=normalise_text(clean_text(feed.get("title") or "")) or None,
        link=feed.get("link") or None,
        entries=list(entries.values()),
    )


def advertised_feeds(page: bytes, *, url: str) -> list[str]:
    """The RSS and Atom feeds a web page advertises with ``<link rel="alternate">``, in the
    page's order, as absolute URLs: relative ones are resolved against the page's ``<base>``
    and ``url``, where the page came from. A page that is not HTML advertises nothing."""
    try:
        root = lxml.html.document_fromstring(page)
    except (ValueError, lxml.etree.ParserError):
        return []
    first_base = next(root.iter("base"), None)
    base = url if first_base is None else urljoin(url, first_base.get("href", "").strip())
    feeds = []
    for link in root.iter("link"):
        rel = link.get("rel", "").lower().split()
        media_type = link.get("type", "").partition(";")[0].strip().lower()
        href = link.get("href", "").strip()
        if "alternate" not in rel or media_type not in _ADVERTISED_TYPES or not href:
            continue
        feed = urljoin(base, href)
        # The page is anyone's: an address with control characters (a terminal escape sequence)
        # is no feed's, and must not become a followed feed's address, which is printed as is.
        if feed.isprintable():
            feeds.append(feed)
    return list(dict.fromkeys(feeds))


def _entry(raw: Any) -> FeedEntry:
    title = raw.get("title") or ""
    link = raw.get("link") or None
    published = _utc(raw.get("published_parsed") or raw.get("updated_parsed"))
    if raw.get("id"):
        key = f"id:{raw['id']}"
    elif link:
        key = f"link:{link}"
    else:
        key = f"title:{title}|{published.isoformat() if published else ''}"
    content = raw.get("content") or []
    return FeedEntry(
        key=key,
        link=link,
        title=title,
        published_at=published,
        author=raw.get("author") or None,
        content_html=(content[0].get("value") if content else None) or raw.get("summary") or None,
    )


def _utc(value: time.struct_time | None) -> datetime | None:
    # feedparser has already converted the date to UTC; its struct_time just doesn't say so.
    return datetime.fromtimestamp(calendar.timegm(value), UTC) if value else None


@dataclass(frozen=True, kw_only=True)
class Feed:
    """A followed feed. ``polls`` counts successful polls; at 0 the first poll ingests quietly."""

    id: int
    url: str
    title: str | None
    etag: str | None
    last_modified: str | None
    added_at: datetime
    last_polled_at: datetime | None
    polls: int


_SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL UNIQUE,
    title TEXT,
    etag TEXT,
    last_modified TEXT,
    added_at TEXT NOT NULL,
    last_polled_at TEXT,
    polls INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS feed_entries (
    feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    seen_at TEXT NOT NULL,
    PRIMARY KEY (feed_id, key)
);
"""


# Which process is polling a feed, until when: one replica at a time polls each feed.
_CLAIMS = "ALTER TABLE feeds ADD COLUMN polling_until TEXT"
# The article an entry became, so a channel can be sent each new article of a feed it follows.
_ENTRY_ARTICLES = "ALTER TABLE feed_entries ADD COLUMN article_id BIGINT"


def _feed(row: Row) -> Feed:
    polled = row["last_polled_at"]
    return Feed(
        id=row["id"],
        url=row["url"],
        title=row["title"],
        etag=row["etag"],
        last_modified=row["last_modified"],
        added_at=datetime.fromisoformat(row["added_at"]),
        last_polled_at=datetime.fromisoformat(polled) if polled else None,
        polls=row["polls"],
    )


class FeedStore(Tables):
    """Followed feeds and the entry keys already seen (beside the articles)."""

    COMPONENT = "feeds"
    MIGRATIONS: ClassVar[Mapping[str, Sequence[str]]] = {
        "sqlite": [_SCHEMA, _CLAIMS, _ENTRY_ARTICLES],
        "postgresql": [_SCHEMA.replace("INTEGER PRIMARY KEY", IDENTITY), _CLAIMS, _ENTRY_ARTICLES],
    }

    def add(self, url: str, *, title: str | None = None) -> tuple[Feed, bool]:
        """Follow ``url``; the flag says whether it is new. Following it again changes nothing."""
        with self.transaction() as conn:
            row = conn.execute(
                "INSERT INTO feeds (url, title, added_at) VALUES (?,?,?)"
                " ON CONFLICT(url) DO NOTHING RETURNING *",
                (url, title, self.clock().isoformat()),
            ).fetchone()
            if row is not None:
                return _feed(row), True
            row = conn.execute("SELECT * FROM feeds WHERE url = ?", (url,)).fetchone()
        return _feed(row), False

    def remove(self, url: str) -> bool:
        """Stop following ``url``, written as it was followed or any way that canonicalises to
        it; its seen entries go with it (ON DELETE CASCADE)."""
        try:
            key = canonical_url(url)
        except ValueError:  # not even a URL, so not a followed feed
            return False
        with self.transaction() as conn:
            return conn.execute("DELETE FROM feeds WHERE url = ?", (key,)).rowcount > 0

    def get(self, url: str) -> Feed | None:
        with self.reading() as conn:
            row = conn.execute("SELECT * FROM feeds WHERE url = ?", (url,)).fetchone()
        return _feed(row) if row else None

    def list(self) -> builtins.list[Feed]:
        with self.reading() as conn:
            rows = conn.execute("SELECT * FROM feeds ORDER BY id").fetchall()
        return [_feed(row) for row in rows]

    def claim(self, feed_id: int, *, lease: timedelta) -> Feed | None:
        """Take the polling of a feed for ``lease``, returning it as it now stands (another
        process may have polled it since it was listed); None while another holds it."""
        now = self.clock()
        with self.transaction() as conn:
            row = conn.execute(
                "UPDATE feeds SET polling_until = ? WHERE id = ?"
                " AND (polling_until IS NULL OR polling_until < ?) RETURNING *",
                ((now + lease).isoformat(), feed_id, now.isoformat()),
            ).fetchone()
        return _feed(row) if row else None

    def release(self, feed_id: int) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE feeds SET polling_until = NULL WHERE id = ?", (feed_id,))

    def unseen(self, feed_id: int, keys: Sequence[str]) -> builtins.list[str]:
        """The keys not yet marked seen, each once, in the order given."""
        with self.reading() as conn:
            rows = conn.execute(
                f"SELECT key FROM feed_entries WHERE feed_id = ? AND {self.db.any_of('key')}",
                (feed_id, self.db.values(keys)),
            ).fetchall()
        seen = {row[0] for row in rows}
        return [key for key in dict.fromkeys(keys) if key not in seen]

    def mark_seen(
        self, feed_id: int, keys: Sequence[str], *, articles: Mapping[str, int] | None = None
    ) -> None:
        """Mark entries seen; ``articles`` names the article each new one was stored as."""
        at = self.clock().isoformat()
        stored = articles or {}
        with self.transaction() as conn:
            conn.executemany(
                "INSERT INTO feed_entries (feed_id, key, seen_at, article_id) VALUES (?,?,?,?)"
                " ON CONFLICT DO NOTHING",
                [(feed_id, key, at, stored.get(key)) for key in keys],
            )

    def articles_after(self, feed_id: int, after: int, *, limit: int) -> builtins.list[int]:
        """The articles a feed's entries became, newer than article ``after``, oldest first."""
        with self.reading() as conn:
            rows = conn.execute(
                "SELECT article_id FROM feed_entries WHERE feed_id = ? AND article_id > ?"
                " ORDER BY article_id LIMIT ?",
                (feed_id, after, limit),
            ).fetchall()
        return [int(row[0]) for row in rows]

    def record_poll(
        self,
        feed_id: int,
        *,
        etag: str | None,
        last_modified: str | None,
        title: str | None,
        at: datetime,
    ) -> None:
        """Count a successful poll. Validators are replaced, so a dropped ETag isn't resent."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE feeds SET etag = ?, last_modified = ?, title = COALESCE(?, title),"
                " last_polled_at = ?, polls = polls + 1 WHERE id = ?",
                (etag, last_modified, title, at.isoformat(), feed_id),
            )
