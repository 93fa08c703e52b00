"""The feed service: follow RSS/Atom feeds and ingest their new entries on every poll."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bot.services.ingest import IngestReport, IngestService
from corpus.feeds import Feed, FeedEntry, FeedError, FeedStore, parse_feed
from corpus.loaders import LoadError, LoadFailure, article_from_fragment
from corpus.model import Article, canonical_url, utcnow
from corpus.web import FEED_TYPES, Fetcher, FetchError

log = logging.getLogger(__name__)


class FollowError(Exception):
    """A feed that cannot be followed; the message is one sentence for the person who asked."""


@dataclass
class PollResult:
    """One feed's poll. Entries of a feed's first poll are ingested but not ``announce``-d."""

    feed: Feed
    report: IngestReport = field(default_factory=IngestReport)
    not_modified: bool = False
    error: str | None = None
    announce: bool = True


class FeedService:
    def __init__(
        self, feeds: FeedStore, *, ingest: IngestService, fetcher: Fetcher, max_entries: int = 50
    ) -> None:
        self.feeds = feeds
        self.ingest = ingest
        self.fetcher = fetcher
        self.max_entries = max_entries

    def follow(self, url: str) -> PollResult:
        """Follow a feed and ingest its current entries at once, so questions work right away."""
        key = canonical_url(url)
        if self.feeds.get(key) is not None:
            raise FollowError("I already follow that feed.")
        try:
            page = self.fetcher.fetch(key, accept=FEED_TYPES)
            parsed = parse_feed(page.body, url=page.url)
        except (FetchError, FeedError) as exc:
            raise FollowError(str(exc)) from None
        feed, _ = self.feeds.add(key, title=parsed.title)
        return self.poll(feed)

    def unfollow(self, url: str) -> bool:
        return self.feeds.remove(canonical_url(url))

    def followed(self) -> list[Feed]:
        return self.feeds.list()

    def poll_all(self) -> list[PollResult]:
        """One poll cycle of every feed; the same code runs on ``briefbot run``'s interval."""
        return [self.poll(feed) for feed in self.feeds.list()]

    def poll(self, feed: Feed) -> PollResult:
        """Conditional GET, then fetch and ingest the entries not seen before."""
        result = PollResult(feed=feed, announce=feed.polls > 0)
        try:
            page = self.fetcher.fetch(
                feed.url, accept=FEED_TYPES, etag=feed.etag, last_modified=feed.last_modified
            )
            parsed = None if page.not_modified else parse_feed(page.body, url=page.url)
        except (FetchError, FeedError) as exc:
            log.warning("polling %s failed: %s", feed.url, exc)
            result.error = str(exc)
            return result
        title = parsed.title if parsed else None
        if parsed is None:
            result.not_modified = True
        else:
            entries = {entry.key: entry for entry in parsed.entries[: self.max_entries]}
            fresh = [entries[key] for key in self.feeds.unseen(feed.id, list(entries))]
            source = parsed.title or feed.title or urlsplit(feed.url).hostname
            items = [(entry.link or entry.title, self._article(entry, source)) for entry in fresh]
            result.report = self.ingest.ingest_articles(
                [(origin, article) for origin, article in items if article is not None]
            )
            result.report.failures.extend(
                LoadFailure(origin, "neither the entry nor its page has article text")
                for origin, article in items
                if article is None
            )
            # Entries that yielded nothing are marked seen too, so a broken one is not retried.
            self.feeds.mark_seen(feed.id, [entry.key for entry in fresh])
        self.feeds.record_poll(
            feed.id,
            etag=page.etag,
            last_modified=page.last_modified,
            title=title,
            at=utcnow(),
        )
        return result

    def _article(self, entry: FeedEntry, source: str | None) -> Article | None:
        """The entry's page, extracted like any URL; the feed's own content when that fails."""
        article = None
        if entry.link:
            try:
                article = self.ingest.fetch_article(entry.link)
            except (FetchError, LoadError) as exc:
                log.info("entry page %s not used (%s); using the feed's content", entry.link, exc)
        if article is None and entry.content_html:
            try:
                article = article_from_fragment(entry.content_html, title=entry.title)
            except LoadError:
                article = None
        if article is None:
            log.warning("feed entry %r has no usable text", entry.title)
            return None
        return Article(
            title=entry.title or article.title,
            text=article.text,
            url=entry.link or article.url,
            source=source or article.source,
            author=entry.author or article.author,
            published_at=entry.published_at or article.published_at,
        )
