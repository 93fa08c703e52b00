"""The ingest service: URLs, pasted text, files and records in; articles stored and indexed; every
outcome reported to the person who asked."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from corpus.errors import BriefbotError
from corpus.loaders import (
    Loaded,
    LoadError,
    LoadFailure,
    article_from_html,
    article_from_text,
    load_bytes,
    load_paths,
)
from corpus.model import Article
from corpus.web import ARTICLE_TYPES, Fetcher, FetchError
from retrieval.indexing import Indexed, Indexer, Progress

log = logging.getLogger(__name__)


class ArticleNotFoundError(BriefbotError, LookupError):
    """No stored article has the id or URL someone gave; the message says so politely."""


@dataclass(frozen=True)
class Duplicate:
    origin: str
    article: Article
    of: Article


@dataclass
class IngestReport:
    added: list[Article] = field(default_factory=list)
    passages: int = 0
    duplicates: list[Duplicate] = field(default_factory=list)
    failures: list[LoadFailure] = field(default_factory=list)

    def extend(self, other: IngestReport) -> None:
        self.added += other.added
        self.passages += other.passages
        self.duplicates += other.duplicates
        self.failures += other.failures

    @property
    def items(self) -> int:
        return len(self.added) + len(self.duplicates) + len(self.failures)

    def summary(self) -> str:
        return (
            f"{len(self.added)} added ({self.passages} passages), "
            f"{len(self.duplicates)} skipped as duplicates, {len(self.failures)} failed"
        )


def is_url(value: str) -> bool:
    return value.lower().startswith(("http://", "https://"))


class IngestService:
    """Every way of adding articles ends in ``ingest_articles``; one failure never stops a batch."""

    def __init__(self, indexer: Indexer, *, fetcher: Fetcher, max_file_bytes: int) -> None:
        self.indexer = indexer
        self.fetcher = fetcher
        self.max_file_bytes = max_file_bytes

    def fetch_article(self, url: str, *, timeout: float | None = None) -> Article:
        """Download a page (within ``timeout`` seconds, if given) and extract its article;
        raises FetchError or LoadError."""
        page = self.fetcher.fetch(url, accept=ARTICLE_TYPES, timeout=timeout)
        if page.content_type == "text/plain":
            # page.text() falls back to UTF-8 when the site names a charset Python doesn't know.
            return article_from_text(page.text(), url=page.url)
        return article_from_html(page.body, url=page.url)

    def ingest_sources(
        self, sources: Iterable[str], *, progress: Progress | None = None
    ) -> IngestReport:
        """Ingest a mix of URLs and file or directory paths, as given on the command line."""
        loaded = Loaded()
        paths = []
        for source in sources:
            if is_url(source):
                loaded.extend(self._fetch(source))
            elif "://" in source:
                failure = LoadFailure(source, "only http:// and https:// addresses can be fetched")
                loaded.extend(Loaded(failures=[failure]))
            else:
                paths.append(Path(source))
        loaded.extend(load_paths(paths, max_bytes=self.max_file_bytes))
        return self._ingest(loaded, progress)

    def ingest_paths(
        self, paths: Iterable[Path], *, progress: Progress | None = None
    ) -> IngestReport:
        """Ingest files and directories (recursively)."""
        return self._ingest(load_paths(paths, max_bytes=self.max_file_bytes), progress)

    def ingest_url(self, url: str) -> IngestReport:
        return self._ingest(self._fetch(url), None)

    def ingest_text(
        self,
        text: str,
        *,
        title: str | None = None,
        source: str | None = None,
        published_at: datetime | None = None,
        url: str | None = None,
    ) -> IngestReport:
        """Pasted text: the first line is the title unless one is given. Undated text is dated
        when it is added, so that it shows in that day's briefing."""
        try:
            article = article_from_text(text, title=title, source=source, url=url)
            article = replace(article, published_at=published_at or article.added_at)
            loaded = Loaded(articles=[("pasted text", article)])
        except LoadError as exc:
            loaded = Loaded(failures=[LoadFailure("pasted text", str(exc))])
        return self._ingest(loaded, None)

    def remove(self, ref: str) -> Article:
        """Remove the article with id or URL ``ref`` from the store and both indexes."""
        article = self.indexer.store.find(ref)
        if article is None:
            raise ArticleNotFoundError(
                f"no article has the id or URL {ref!r} — `articles` lists them with their ids"
            )
        self.indexer.remove(article)
        return article

    def oversized(self, name: str, size: int) -> LoadFailure | None:
        """Why a file of ``size`` bytes is refused, if it is; chat adapters ask before download."""
        if size <= self.max_file_bytes:
            return None
        return LoadFailure(name, f"the file is larger than {self.max_file_bytes / 1_000_000:g} MB")

    def ingest_upload(self, name: str, data: bytes) -> IngestReport:
        """A file shared in chat; its type comes from its name."""
        if failure := self.oversized(name, len(data)):
            return IngestReport(failures=[failure])
        return self._ingest(load_bytes(name, data), None)

    def ingest_articles(
        self, items: Sequence[tuple[str, Article]], *, progress: Progress | None = None
    ) -> IngestReport:
        """Store ``(origin, article)`` pairs; the origin names the item in the report."""
        outcomes = self.indexer.add([article for _, article in items], progress=progress)
        report = IngestReport()
        for (origin, _), outcome in zip(items, outcomes, strict=True):
            self._record(report, origin, outcome)
        return report

    def _fetch(self, url: str) -> Loaded:
        try:
            return Loaded(articles=[(url, self.fetch_article(url))])
        except (FetchError, LoadError) as exc:
            return Loaded(failures=[LoadFailure(url, str(exc))])
        except Exception as exc:  # an extractor's own error: this URL fails, the batch goes on
            log.warning("%s could not be read: %s: %s", url, type(exc).__name__, exc)
            return Loaded(failures=[LoadFailure(url, f"could not be read: {type(exc).__name__}")])

    def _ingest(self, loaded: Loaded, progress: Progress | None) -> IngestReport:
        report = self.ingest_articles(loaded.articles, progress=progress)
        report.failures[:0] = loaded.failures
        return report

    @staticmethod
    def _record(report: IngestReport, origin: str, outcome: Indexed) -> None:
        if outcome.duplicate_of is not None:
            report.duplicates.append(Duplicate(origin, outcome.article, outcome.duplicate_of))
        else:
            report.added.append(outcome.article)
            report.passages += outcome.passages
