"""Wiring: the one place that picks concrete classes for every seam and assembles the services."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property, partial
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

from bot.channels import ChannelSources
from bot.commands import BriefingDefaults, Commands
from bot.conversations import ConversationStore
from bot.events import SeenEvents
from bot.feedback import FeedbackStore
from bot.metrics import Metrics
from bot.scheduler import BriefingScheduler, Cycle, Sender, cycles
from bot.services.ask import AskService, Relevance
from bot.services.briefing import BriefingService, DeliveryLog
from bot.services.feeds import FeedService, PollResult
from bot.services.ingest import IngestReport, IngestService
from bot.settings import EmbeddingSettings, Settings, SettingsError
from bot.subscriptions import SubscriptionStore
from bot.watches import Poster, WatchService, WatchStore
from corpus.database import Database, StoreError, Tables
from corpus.errors import BriefbotError
from corpus.feeds import FeedStore
from corpus.model import Clock, utcnow
from corpus.samples import SAMPLES_DIR
from corpus.store import SQLStore
from corpus.web import Fetcher, any_address, is_public_address
from retrieval.embedding import Embedder, SentenceTransformerEmbedder
from retrieval.evidence import EvidenceFinder, EvidenceWeights
from retrieval.indexing import Indexer, Progress
from retrieval.lexical import FTS5Index, LexicalIndex
from retrieval.onnx_embedding import ExportError, OnnxEmbedder
from retrieval.search import Fusion, Searcher
from retrieval.spelling import SpellingCorrector
from retrieval.vector_index import FaissIndex, VectorIndex, snapshot_path

# Index files of earlier versions, which kept vectors only in FAISS and keywords in a file of
# their own; both now live in the store.
_LEGACY_INDEX_FILES = (
    "vectors.faiss",
    "vectors.faiss.json",
    "vectors.faiss.tmp",
    "lexical.sqlite3",
)


C = TypeVar("C", bound=Commands)


_embedders: dict[EmbeddingSettings, Embedder] = {}
_loading = threading.Lock()


def load_embedder(settings: EmbeddingSettings, *, cache: Path) -> Embedder:
    """One loaded model per configuration and process, however many Briefbots the process
    builds (commands run in-process, tests): loading takes seconds and ~100 MB each time.
    The onnx backend's export is kept in ``cache`` (unless the settings name a directory);
    a process that has the model loaded already uses it whatever the data directory."""
    with _loading:
        if settings not in _embedders:
            _embedders[settings] = _load_embedder(settings, cache=settings.cache_dir or cache)
        return _embedders[settings]


def _load_embedder(settings: EmbeddingSettings, *, cache: Path) -> Embedder:
    if settings.backend == "torch":
        check_device(settings.device)
        return SentenceTransformerEmbedder(
            settings.model, device=settings.device, batch_size=settings.batch_size
        )
    if settings.device != "cpu":
        raise SettingsError(
            f"BRIEFBOT_EMBEDDING__DEVICE={settings.device!r} needs"
            " BRIEFBOT_EMBEDDING__BACKEND=torch (the onnx backend runs on the CPU)"
        )
    try:
        return OnnxEmbedder(
            settings.model,
            cache=cache,
            batch_size=settings.batch_size,
            threads=settings.threads or 1,
        )
    except ExportError as exc:
        raise SettingsError(str(exc)) from None


def use_threads(threads: int, *, backend: str) -> None:
    """Set the CPU threads FAISS and, for the torch backend, torch use (process-wide; the onnx
    backend's session takes its own). One serves questions fastest on a shared machine:
    ``benchmarks/threads_bench.py`` measures both settings."""
    import faiss

    faiss.omp_set_num_threads(threads)
    if backend == "torch":
        import torch  # only here: the onnx backend runs without importing it

        torch.set_num_threads(threads)


def check_device(device: str) -> None:
    """Stop start-up in one line when torch cannot use ``device`` (``cuda`` on a CPU-only
    build, a misspelt name), rather than with a traceback at the first embedding."""
    import torch  # here: commands that never embed don't pay for importing torch

    try:
        torch.empty(0, device=device)
    except Exception as exc:  # torch raises AssertionError, RuntimeError or worse, by device
        reason = (str(exc).splitlines() or [type(exc).__name__])[0][:100]
        raise SettingsError(
            f"BRIEFBOT_EMBEDDING__DEVICE={device!r} cannot be used here ({reason}); use cpu"
        ) from None


@dataclass(frozen=True)
class Health:
    """What the store holds and what is wrong with it, read without loading the model."""

    articles: int
    passages: int
    vectors: dict[str, int]
    keywords: int
    problems: list[str] = field(default_factory=list)


class NoArticlesError(BriefbotError):
    """The store is empty (or the data directory missing); there is nothing to answer from."""

    def __init__(self) -> None:
        super().__init__(
            "no articles yet — add some with briefbot ingest, or run briefbot chat to index"
            " the bundled samples"
        )


class Briefbot:
    """The assembled application. Parts are built on first use, so ``stats`` never loads a model."""

    def __init__(
        self, settings: Settings, *, embedder: Embedder | None = None, clock: Clock = utcnow
    ) -> None:
        self.settings = settings
        self.clock = clock
        if embedder is not None:
            self.__dict__["embedder"] = embedder

    @property
    def store_path(self) -> Path:
        return self.settings.data_dir / "briefbot.sqlite3"

    @property
    def index_dir(self) -> Path:
        return self.settings.data_dir / "index"

    def _check_data_dir(self) -> None:
        data_dir = self.settings.data_dir
        if data_dir.exists() and not data_dir.is_dir():
            raise StoreError(f"{data_dir}: it is not a directory; point --data-dir at a directory")

    @cached_property
    def database(self) -> Path | Database:
        """Where every store keeps its tables: PostgreSQL when ``BRIEFBOT_DATABASE_URL`` is
        set (one connection pool for them all), else the SQLite file, which each store opens
        for itself."""
        url = self.settings.database_url
        if url is None:
            self._check_data_dir()
            return self.store_path
        from corpus.postgres import PostgresDatabase  # psycopg only when asked for

        return PostgresDatabase(url.get_secret_value())

    @cached_property
    def store(self) -> SQLStore:
        return SQLStore(self.database, clock=self.clock)

    @cached_property
    def embedder(self) -> Embedder:
        cfg = self.settings.embedding
        use_threads(cfg.threads or 1, backend=cfg.backend)
        return load_embedder(cfg, cache=self.settings.data_dir / "models")

    @cached_property
    def vectors(self) -> VectorIndex:
        if self.store.db.dialect == "postgresql":
            from retrieval.pg_indexes import PgVectorIndex

            return PgVectorIndex(self.store, dim=self.embedder.dim, model=self.embedder.name)
        return FaissIndex(
            self.store,
            snapshot=snapshot_path(self.index_dir, self.embedder.name),
            dim=self.embedder.dim,
            model=self.embedder.name,
            approximate_from=self.settings.retrieval.approximate_from,
        )

    @cached_property
    def lexical(self) -> LexicalIndex:
        if self.store.db.dialect == "postgresql":
            from retrieval.pg_indexes import PgLexicalIndex

            return PgLexicalIndex(self.store)
        return FTS5Index(self.store)

    @cached_property
    def indexer(self) -> Indexer:
        return Indexer(
            self.store,
            embedder=self.embedder,
            vectors=self.vectors,
            lexical=self.lexical,
            chunk_words=self.settings.retrieval.chunk_words,
            near_duplicate=self.settings.ingest.near_duplicate,
            commit_every=self.settings.ingest.commit_every,
        )

    @cached_property
    def searcher(self) -> Searcher:
        return Searcher(
            self.store,
            embedder=self.embedder,
            vectors=self.vectors,
            lexical=self.lexical,
            candidates=self.settings.retrieval.candidates,
            fusion=Fusion(
                dense_weight=self.settings.retrieval.dense_weight,
                hub_weight=self.settings.retrieval.hub_weight,
                recency_weight=self.settings.retrieval.recency_weight,
                half_life_days=self.settings.retrieval.recency_half_life_days,
            ),
        )

    @cached_property
    def ask_service(self) -> AskService:
        cfg = self.settings.retrieval
        return AskService(
            self.searcher,
            evidence=EvidenceFinder(
                self.store,
                embedder=self.embedder,
                vectors=self.vectors,
                lexical=self.lexical,
                weights=EvidenceWeights(
                    context=cfg.context_terms_weight,
                    retrieval=cfg.retrieval_weight,
                    position=cfg.position_weight,
                    sentence=cfg.sentence_terms_weight,
                    margin=cfg.highlight_margin,
                ),
            ),
            spelling=SpellingCorrector(self.lexical, known_words=self.embedder.words),
            relevance=Relevance(
                min_score=cfg.min_score,
                follow_ratio=cfg.follow_ratio,
                per_article=cfg.passages_per_article,
                unseen_min_score=cfg.unseen_names_min_score,
            ),
            top_k=cfg.top_k,
            candidate_articles=cfg.evidence_articles,
            max_question_chars=cfg.max_question_chars,
            clock=self.clock,
            briefing=self.briefing_service,
        )

    @cached_property
    def fetcher(self) -> Fetcher:
        cfg = self.settings.ingest
        return Fetcher(
            address_allowed=any_address if cfg.allow_private_networks else is_public_address,
            timeout=cfg.timeout_seconds,
            max_bytes=int(cfg.max_download_mb * 1_000_000),
            max_redirects=cfg.max_redirects,
            user_agent=cfg.user_agent,
        )

    @cached_property
    def ingest_service(self) -> IngestService:
        return IngestService(
            self.indexer,
            fetcher=self.fetcher,
            max_file_bytes=int(self.settings.ingest.max_file_mb * 1_000_000),
        )

    @cached_property
    def briefing_service(self) -> BriefingService:
        cfg = self.settings.briefing
        return BriefingService(
            self.store,
            vectors=self.vectors,
            lexical=self.lexical,
            searcher=self.searcher,
            embedder=self.embedder,
            deliveries=self.deliveries,
            story_threshold=cfg.story_threshold,
            topic_threshold=cfg.topic_threshold,
            thread_days=cfg.thread_days,
        )

    @cached_property
    def deliveries(self) -> DeliveryLog:
        return DeliveryLog(self.database, clock=self.clock)

    def open_tables(self) -> list[Tables]:
        """Every store, opened: each has created (or migrated) its tables."""
        return [
            self.store,
            self.feeds,
            self.subscriptions,
            self.conversations,
            self.seen_events,
            self.deliveries,
            self.feedback,
            self.watches,
            self.channel_sources,
        ]

    @cached_property
    def feeds(self) -> FeedStore:
        return FeedStore(self.database, clock=self.clock)

    @cached_property
    def feed_service(self) -> FeedService:
        cfg = self.settings.ingest
        return FeedService(
            self.feeds,
            ingest=self.ingest_service,
            fetcher=self.fetcher,
            max_entries=cfg.feed_max_entries,
            poll_budget=cfg.feed_poll_budget_seconds,
            clock=self.clock,
            observe=self.metrics.polled,
        )

    @cached_property
    def watches(self) -> WatchStore:
        self.feeds  # noqa: B018 — a feed's watches refer to its row
        return WatchStore(self.database, clock=self.clock)

    @cached_property
    def watch_service(self) -> WatchService:
        return WatchService(
            self.watches,
            feeds=self.feeds,
            articles=self.store,
            ask=self.ask_service,
            per_cycle=self.settings.ingest.posts_per_cycle,
        )

    @cached_property
    def commands(self) -> Commands:
        """The chat commands every adapter translates into."""
        return self.build_commands(Commands)

    def build_commands(self, kind: type[C]) -> C:
        """Commands of ``kind`` (a subclass, for tests that inject faults) over these services."""
        return kind(
            ask_service=self.ask_service,
            briefing_service=self.briefing_service,
            ingest_service=self.ingest_service,
            feed_service=self.feed_service,
            watch_service=self.watch_service,
            subscriptions=self.subscriptions,
            conversations=self.conversations,
            channel_sources=self.channel_sources,
            defaults=BriefingDefaults(
                timezone=ZoneInfo(self.settings.briefing.timezone),
                stories=self.settings.briefing.stories,
            ),
            clock=self.clock,
            metrics=self.metrics,
        )

    @cached_property
    def metrics(self) -> Metrics:
        """What this bot counts; the store's size is read at each scrape."""
        return Metrics(
            sizes=lambda: {
                "articles": self.store.count_articles(),
                "passages": self.store.count_passages(),
            },
            votes=lambda: self.feedback.counts(),
        )

    @cached_property
    def conversations(self) -> ConversationStore:
        return ConversationStore(self.database, clock=self.clock)

    @cached_property
    def seen_events(self) -> SeenEvents:
        return SeenEvents(self.database, clock=self.clock)

    @cached_property
    def feedback(self) -> FeedbackStore:
        return FeedbackStore(self.database, clock=self.clock)

    @cached_property
    def subscriptions(self) -> SubscriptionStore:
        return SubscriptionStore(self.database, clock=self.clock)

    @cached_property
    def channel_sources(self) -> ChannelSources:
        return ChannelSources(self.database, clock=self.clock)

    def scheduler(self, *, senders: Mapping[str, Sender]) -> BriefingScheduler:
        """Scheduled briefings, posted through ``senders`` (one per platform that is running)."""
        cfg = self.settings.briefing
        return BriefingScheduler(
            self.subscriptions,
            self.briefing_service,
            sources=self.channel_sources,
            senders=senders,
            catch_up=timedelta(hours=cfg.catch_up_hours),
            skip_empty=cfg.skip_empty,
            stories=cfg.stories,
            clock=self.clock,
            metrics=self.metrics,
        )

    def background(
        self, *, senders: Mapping[str, Poster], announce: Callable[[PollResult], None]
    ) -> list[Cycle]:
        """What a running bot does besides answering: feed polls, scheduled briefings, and
        the posts of alerts and channel feeds, all through ``senders``."""
        return cycles(
            feeds=self.feed_service,
            feed_interval=self.settings.ingest.feed_interval_minutes * 60,
            briefings=self.scheduler(senders=senders),
            announce=announce,
            watches=partial(self.watch_service.run_once, senders),
        )

    def health(self, *, check: bool = False) -> Health:
        """Counts of the store and its indexes; with ``check``, SQLite's and FTS5's own
        integrity checks too."""
        passages = self.store.count_passages()
        lexical = self.lexical
        health = Health(
            articles=self.store.count_articles(),
            passages=passages,
            vectors=self.store.vector_counts(),
            keywords=len(lexical),
            problems=self.store.check() if check else [],
        )
        model = self.settings.embedding.vector_space
        missing = passages - health.vectors.get(model, 0)
        if missing:
            health.problems.append(
                f"{missing} passages have no vector for {model}; the next start embeds them"
            )
        if health.keywords != passages:
            health.problems.append(
                f"the keyword index holds {health.keywords} of {passages} passages;"
                " the next start rebuilds it"
            )
        elif check:
            health.problems.extend(lexical.check())
        return health

    def require_articles(self) -> None:
        """Fail fast, before any model loads, when there is nothing to answer from."""
        if self.settings.database_url is None:
            self._check_data_dir()
            if not self.store_path.exists():
                raise NoArticlesError
        if self.store.count_articles() == 0:
            raise NoArticlesError

    def prepare(self, *, progress: Progress | None = None) -> int:
        """Make the search indexes current with the store; returns how many passages had to be
        embedded (none, unless the model changed or the store predates stored vectors)."""
        self.store  # noqa: B018 — opened first, so a bad data directory is reported as such
        if self.index_dir.is_dir():
            for legacy in _LEGACY_INDEX_FILES:
                (self.index_dir / legacy).unlink(missing_ok=True)
        if self.indexer.is_consistent():
            self.vectors.refresh()
            return 0
        return self.indexer.repair(progress=progress)

    def load_samples_if_empty(
        self, *, terminal: bool, progress: Progress | None = None
    ) -> IngestReport | None:
        """On first start, index the bundled sample corpus so there is something to ask about:
        for the ``terminal`` chat unless switched off, elsewhere only when asked for, since a
        real workspace must not answer from 2005 Wikinews articles."""
        wanted = self.settings.load_samples
        if not (wanted or (wanted is None and terminal)) or self.store.count_articles() > 0:
            return None
        return self.ingest_service.ingest_paths([SAMPLES_DIR], progress=progress)
