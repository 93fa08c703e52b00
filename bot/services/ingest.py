"""The ingest service: files and records in, articles stored and indexed, every outcome reported."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from corpus.loaders import LoadFailure, load_paths
from corpus.model import Article
from retrieval.indexing import Indexed, Indexer, Progress


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

    def summary(self) -> str:
        return (
            f"{len(self.added)} added ({self.passages} passages), "
            f"{len(self.duplicates)} skipped as duplicates, {len(self.failures)} failed"
        )


class IngestService:
    def __init__(self, indexer: Indexer) -> None:
        self.indexer = indexer

    def ingest_paths(
        self, paths: Iterable[Path], *, progress: Progress | None = None
    ) -> IngestReport:
        """Ingest files and directories (recursively); a broken file never stops the batch."""
        loaded = load_paths(paths)
        report = self.ingest_articles(loaded.articles, progress=progress)
        report.failures[:0] = loaded.failures
        return report

    def ingest_articles(
        self, items: Sequence[tuple[str, Article]], *, progress: Progress | None = None
    ) -> IngestReport:
        """Store ``(origin, article)`` pairs; the origin names the item in the report."""
        outcomes = self.indexer.add([article for _, article in items], progress=progress)
        report = IngestReport()
        for (origin, _), outcome in zip(items, outcomes, strict=True):
            self._record(report, origin, outcome)
        return report

    @staticmethod
    def _record(report: IngestReport, origin: str, outcome: Indexed) -> None:
        if outcome.duplicate_of is not None:
            report.duplicates.append(Duplicate(origin, outcome.article, outcome.duplicate_of))
        else:
            report.added.append(outcome.article)
            report.passages += outcome.passages
