"""The feed service: follow RSS/Atom feeds and ingest their new entries on every poll."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit

from bot.services.ingest import IngestReport, IngestService
from corpus.errors import BriefbotError
from corpus.feeds import (
    PAGE_TYPES,
    Feed,
    FeedEntry,
    FeedError,
    FeedStore,
    advertised_feeds,
    parse_feed,
)
from corpus.loaders import LoadError, LoadFailure, article_from_fragment
from corpus.model import Article, Clock, canonical_url
from corpus.opml import OutlineFeed, read_opml, write_opml
from corpus.web import FEED_TYPES, Fetched, Fetcher, FetchError
from retrieval.indexing import Progress

log = logging.getLogger(__name__)

_NOT_A_URL = "That doesn't look like a web address (http or https)."


class FollowError(BriefbotError):
    """A feed that cannot be followed; the message is one sentence for the person who asked."""


class AlreadyFollowingError(FollowError):
    """The feed is followed already: an OPML import counts it as such rather than as a failure."""


@dataclass
class PollResult:
    """One feed's poll. Entries of a feed's first poll are ingested but not ``announce``-d."""

    feed: Feed
    report: IngestReport = field(default_factory=IngestReport)
    not_modified: bool = False
    error: str | None = None
    announce: bool = True
    deferred: int = 0
    """Entries left unseen for the next poll because the poll's time budget ran out."""
    found_on: str | None = None
    """The web page whose advertised feed was followed, when ``follow`` was given a page."""


@dataclass
class OPMLImport:
    """What importing an OPML file did to each of its feeds, in the file's order."""

    followed: list[PollResult] = field(default_factory=list)
    already_followed: list[str] = field(default_factory=list)
    failures: list[LoadFailure] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{len(self.followed)} followed, {len(self.already_followed)} already followed, "
            f"{len(self.failures)} failed"
        )


@contextmanager
def _refusals(url: str, *, advertised: bool = False) -> Iterator[None]:
    """Whatever goes wrong reading the feed at ``url`` becomes one FollowError sentence; an
    ``advertised`` feed is one a web page named, so the message says which."""
    try:
        yield
    except (FetchError, FeedError) as exc:
        message = str(exc)
    except Exception as exc:  # a library's own error: refuse this feed in one sentence
        log.warning("reading feed %s failed: %s: %s", url, type(exc).__name__, exc)
        message = f"I couldn't read that feed ({type(exc).__name__})."
    else:
        return
    if advertised:
        message = f"That page advertises the feed {url}, which failed: {message}"
    raise FollowError(message) from None


class FeedService:
    def __init__(
        self,
        feeds: FeedStore,
        *,
        ingest: IngestService,
        fetcher: Fetcher,
        max_entries: int,
        poll_budget: float,
        clock: Clock,
        observe: Callable[[PollResult], None] | None = None,
    ) -> None:
        self.clock = clock
        # Told of every poll's result (the metrics); a hook, since metrics build on this module.
        self.observe = observe
        self.feeds = feeds
        self.ingest = ingest
        self.fetcher = fetcher
        self.max_entries = max_entries
        # Most seconds one feed's poll may spend downloading, its entries' pages included. Each
        # download has its own timeout, but 50 slow entry pages in a row would hold every other
        # feed up for 12.5 minutes; entries not reached in time stay unseen for the next poll.
        self.poll_budget = poll_budget

    def follow(self, url: str, *, title: str | None = None) -> PollResult:
        """Follow a feed and ingest its current entries at once, so questions work right away.

        ``url`` may also be a web page that advertises its feed (a site's home page): the first
        RSS or Atom feed it advertises is followed, and the result names the page in
        ``found_on``. ``title`` names the feed when the feed names itself nothing.
        """
        key = self._not_followed(url)
        with _refusals(key):
            page = self.fetcher.fetch(key, accept=FEED_TYPES | PAGE_TYPES)
        found_on = None
        if page.content_type in PAGE_TYPES:
            found_on, key = page.url, self._advertised(page)
        with _refusals(key, advertised=found_on is not None):
            if found_on is not None:
                # The same fetcher, so the advertised address is vetted like any other.
                page = self.fetcher.fetch(key, accept=FEED_TYPES)
            parsed = parse_feed(page.body, url=page.url)
        feed, _ = self.feeds.add(key, title=parsed.title or title)
        result = self.poll(feed, fetched=page)
        result.found_on = found_on
        return result

    def _not_followed(self, url: str) -> str:
        """The feed's key (its canonical URL), if it is a URL not followed yet."""
        try:
            key = canonical_url(url)
        except ValueError:
            raise FollowError(_NOT_A_URL) from None
        if self.feeds.get(key) is not None:
            raise AlreadyFollowingError("I already follow that feed.")
        return key

    def _advertised(self, page: Fetched) -> str:
        """The key of the first feed a web page advertises; a page without one is refused."""
        feeds = advertised_feeds(page.body, url=page.url)
        if not feeds:
            raise FollowError(
                "That link points to a web page, not a feed, and the page advertises no feed."
            )
        return self._not_followed(feeds[0])

    def import_opml(self, data: bytes, *, progress: Progress | None = None) -> OPMLImport:
        """Follow every feed an OPML file lists, each on its own: one that fails is reported
        and the others are still followed. A file that is not OPML raises OPMLError before
        anything is followed."""
        outlines = read_opml(data)
        report = OPMLImport()
        if progress is not None:
            progress.start(len(outlines), "Following feeds")
        for outline in outlines:
            try:
                report.followed.append(self.follow(outline.url, title=outline.title))
            except AlreadyFollowingError:
                report.already_followed.append(outline.url)
            except FollowError as exc:
                report.failures.append(LoadFailure(outline.url, str(exc)))
            except Exception as exc:  # a bug tripped by one feed must not stop the import
                log.warning("following %s failed: %s: %s", outline.url, type(exc).__name__, exc)
                failure = LoadFailure(outline.url, f"could not be followed: {type(exc).__name__}")
                report.failures.append(failure)
            if progress is not None:
                progress.advance()
        return report

    def export_opml(self) -> bytes:
        """Every followed feed as an OPML 2.0 file, for another feed reader (or briefbot)."""
        return write_opml(OutlineFeed(url=feed.url, title=feed.title) for feed in self.followed())

    def unfollow(self, url: str) -> bool:
        return self.feeds.remove(url)

    def followed(self) -> list[Feed]:
        return self.feeds.list()

    def poll_all(self) -> list[PollResult]:
        """One poll cycle of every feed; the same code runs on ``briefbot run``'s interval.

        Each feed is polled on its own: whatever goes wrong with one becomes that feed's error,
        and the feeds after it are still polled.
        """
        results = []
        for listed in self.feeds.list():
            # One process at a time per feed: with several replicas, whoever claims it polls.
            feed = self.feeds.claim(listed.id, lease=timedelta(seconds=2 * self.poll_budget))
            if feed is None:
                continue
            try:
                results.append(self.poll(feed))
            finally:
                self.feeds.release(feed.id)
        return results

    def poll(self, feed: Feed, *, fetched: Fetched | None = None) -> PollResult:
        """Conditional GET, then fetch and ingest the entries not seen before. ``fetched`` is
        the feed as ``follow`` has just downloaded it: an import of 200 feeds downloads each once.

        Never raises: an unexpected failure is logged in one line and becomes the result's error,
        so that a feed which trips a bug cannot stop the feeds polled after it.
        """
        try:
            result = self._poll(feed, fetched)
        except Exception as exc:
            log.warning("polling %s failed: %s: %s", feed.url, type(exc).__name__, exc)
            result = PollResult(
                feed=feed,
                announce=feed.polls > 0,
                error=f"Polling this feed failed unexpectedly ({type(exc).__name__}); "
                "it will be tried again at the next poll.",
            )
        if self.observe is not None:
            self.observe(result)
        return result

    def _poll(self, feed: Feed, fetched: Fetched | None) -> PollResult:
        result = PollResult(feed=feed, announce=feed.polls > 0)
        deadline = time.monotonic() + self.poll_budget
        try:
            page = fetched
            if page is None:
                page = self.fetcher.fetch(
                    feed.url,
                    accept=FEED_TYPES,
                    etag=feed.etag,
                    last_modified=feed.last_modified,
                    timeout=self.poll_budget,
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
            done: list[str] = []
            articles: list[tuple[str, Article]] = []
            keys: dict[str, str] = {}  # content hash -> entry key, to record what each became
            for entry in fresh:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                origin = entry.link or entry.title
                outcome = self._article(entry, source, timeout=remaining)
                if isinstance(outcome, Article):
                    articles.append((origin, outcome))
                    keys[outcome.content_hash] = entry.key
                elif time.monotonic() >= deadline:
                    break  # cut off by the budget, not broken: the next poll tries it again
                else:
                    result.report.failures.append(LoadFailure(origin, outcome))
                # Entries that yielded nothing are marked seen too, so a broken one is not
                # retried at every poll.
                done.append(entry.key)
            failures = result.report.failures
            result.report = self.ingest.ingest_articles(articles)
            result.report.failures.extend(failures)
            stored = {
                keys[a.content_hash]: a.id
                for a in result.report.added
                if a.id is not None and a.content_hash in keys
            }
            self.feeds.mark_seen(feed.id, done, articles=stored)
            result.deferred = len(fresh) - len(done)
            if result.deferred:
                log.info(
                    "%s: %d entries left for the next poll (the %g s budget ran out)",
                    feed.url,
                    result.deferred,
                    self.poll_budget,
                )
        # With entries left over, the validators are dropped: a 304 next time would hide them.
        self.feeds.record_poll(
            feed.id,
            etag=None if result.deferred else page.etag,
            last_modified=None if result.deferred else page.last_modified,
            title=title,
            at=self.clock(),
        )
        return result

    def _article(self, entry: FeedEntry, source: str | None, *, timeout: float) -> Article | str:
        """The entry's page, extracted like any URL; the feed's own content when that fails.

        Returns the article, or why there is none: one entry never fails the others.
        """
        article = None
        if entry.link:
            try:
                article = self.ingest.fetch_article(entry.link, timeout=timeout)
            except (FetchError, LoadError) as exc:
                log.info("entry page %s not used (%s); using the feed's content", entry.link, exc)
            except Exception as exc:
                log.warning(
                    "entry page %s not used (%s: %s); using the feed's content",
                    entry.link,
                    type(exc).__name__,
                    exc,
                )
        if article is None and entry.content_html:
            try:
                article = article_from_fragment(entry.content_html, title=entry.title)
            except LoadError:
                article = None
            except Exception as exc:
                log.warning("feed entry %r could not be read: %s", entry.title, type(exc).__name__)
                return f"could not be read: {type(exc).__name__}"
        if article is None:
            log.warning("feed entry %r has no usable text", entry.title)
            return "neither the entry nor its page has article text"
        return Article(
            title=entry.title or article.title,
            text=article.text,
            url=entry.link or article.url,
            source=source or article.source,
            author=entry.author or article.author,
            published_at=entry.published_at or article.published_at,
        )
