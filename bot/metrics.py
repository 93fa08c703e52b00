"""Metrics: what a running bot counts, exported in Prometheus' text format at ``GET /metrics``.

Each bot has its own registry rather than prometheus-client's process-wide default, so tests
(and a process that builds several bots) never see one another's counts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.services.ask import Answer
from bot.services.feeds import PollResult
from bot.services.ingest import IngestReport

# Answers take tens of milliseconds warm and seconds while an ingest holds the CPU.
_ANSWER_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

Sizes = Callable[[], Mapping[str, int]]
"""What the store holds, by noun ("articles", "passages"), read at each scrape."""


class _StoreSizes(Collector):
    """The store's size, read when scraped: counts kept in the process would miss what other
    processes (a CLI ingest, another replica) added."""

    def __init__(self, sizes: Sizes) -> None:
        self._sizes = sizes

    def collect(self) -> Iterator[Metric]:
        for noun, count in self._sizes().items():
            yield GaugeMetricFamily(
                f"briefbot_index_{noun}", f"{noun.capitalize()} in the store.", value=count
            )


class _Votes(Collector):
    """👍 / 👎 votes on answers, read from the store when scraped (every replica's)."""

    def __init__(self, votes: Sizes) -> None:
        self._votes = votes

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "briefbot_feedback_votes", "Votes on answers, by kind (up, down).", labels=["vote"]
        )
        for vote, count in self._votes().items():
            family.add_metric([vote], count)
        yield family


class Metrics:
    """The counters a bot's services update, and their exposition."""

    def __init__(self, *, sizes: Sizes | None = None, votes: Sizes | None = None) -> None:
        self.registry = CollectorRegistry()
        self._questions = Counter(
            "briefbot_questions",
            "Questions asked, by outcome: answered (something quoted), nothing_found, rejected "
            "(empty or too long).",
            ["outcome"],
            registry=self.registry,
        )
        self._answer_seconds = Histogram(
            "briefbot_answer_seconds",
            "Time to answer a question, in seconds.",
            buckets=_ANSWER_BUCKETS,
            registry=self.registry,
        )
        self._articles = Counter(
            "briefbot_articles_ingested",
            "Articles offered, by source kind (url, text, file, feed) and outcome (added, "
            "duplicate, failed).",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self._polls = Counter(
            "briefbot_feed_polls",
            "Feed polls, by feed and outcome (ok, not_modified, error).",
            ["feed", "outcome"],
            registry=self.registry,
        )
        self._briefings = Counter(
            "briefbot_briefings",
            "Scheduled briefings, by outcome (posted, skipped, failed).",
            ["outcome"],
            registry=self.registry,
        )
        if sizes is not None:
            self.registry.register(_StoreSizes(sizes))
        if votes is not None:
            self.registry.register(_Votes(votes))

    def asked(self, answer: Answer | None, *, seconds: float) -> None:
        """A question and its answer; ``None`` when the question itself was refused."""
        if answer is None:
            self._questions.labels("rejected").inc()
            return
        self._questions.labels("answered" if answer.found else "nothing_found").inc()
        self._answer_seconds.observe(seconds)

    def ingested(self, kind: str, report: IngestReport) -> None:
        for outcome, count in (
            ("added", len(report.added)),
            ("duplicate", len(report.duplicates)),
            ("failed", len(report.failures)),
        ):
            if count:
                self._articles.labels(kind, outcome).inc(count)

    def polled(self, result: PollResult) -> None:
        outcome = "error" if result.error else "not_modified" if result.not_modified else "ok"
        self._polls.labels(result.feed.url, outcome).inc()
        self.ingested("feed", result.report)

    def briefing(self, outcome: str) -> None:
        self._briefings.labels(outcome).inc()

    def exposition(self) -> bytes:
        """Every metric, in the text format Prometheus scrapes."""
        return generate_latest(self.registry)
