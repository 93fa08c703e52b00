"""Scale benchmark: ingest rate, index build, search latency, recall and size per passage at
100k to 1M passages, on SQLite + FAISS and on PostgreSQL + pgvector.

The corpus is synthetic, so no embedding model runs and any size can be made; both backends
load the same articles (same seed):

- **text**: a vocabulary of 5,000 words, scikit-learn's English stop words and made-up words,
  Zipf-distributed (the 30 most frequent are stop words, the others scattered among the first
  600, so the commonest content word is in a third of the passages, as "said" is in news);
  passages of about 100 words in sentences, 2 to 6 per article. Every article belongs to a
  story (one per 100 passages) whose eight name-like words make a tenth of its words and a third
  of its title's;
- **vectors**: random unit vectors around the story's random direction (cosine about 0.55 to it,
  0.3 between passages of one story; ``--spread``). Real embeddings cluster by topic, and vectors
  spread uniformly over 384 dimensions have no neighbourhoods, which makes any approximate index
  look broken;
- **dates**: each story has a day in 2024 and its articles fall around it (sd 4 days).

For each backend and size it prints:

- **ingest**, passages/s of writing through the store as the indexer does, but with
  ``--batch`` passages per transaction: ``store.add`` per article, ``put_vectors``, the keyword
  index's ``add``, and after the commit the vector index's ``add``. Generating the text is not
  timed; nor are embedding, chunking and duplicate checks (``ingest_bench.py`` measures those).
  All but the last ``--live`` passages are loaded first ("bulk": PostgreSQL without its HNSW
  index, built afterwards as pgvector recommends), the rest with every index in place ("live":
  what a running bot sees at that size);
- **index build**: PostgreSQL's ``CREATE INDEX ... USING hnsw`` (after ``VACUUM ANALYZE``); for
  FAISS, which has nothing to build, a start without a snapshot (every vector read from the
  store), and the start from a snapshot;
- **search latency**, p50/p95 of ``Searcher.search`` as the ask service calls it (dense and
  keyword candidates, density discount, fusion, recency prior), warm, one thread: "open"
  questions, and questions limited to the week around their source article ("week"). A query
  is eight consecutive words of a random passage; a stand-in embedder gives it that passage's
  stored vector plus noise (cosine 0.8). Before that, on other queries, each index call of an
  open search is timed on its own: dense search, keyword search, the candidates' density;
- **after an ingest**, open searches of questions already asked, each right after one article
  (4 passages) is written, and that write's time: a running bot that polls feeds answers
  between ingests, so nothing an ingest leaves valid may be recomputed;
- **whole answers** (SQLite + FAISS), p50/p95 of the ask service on the same questions, with the
  configured model embedding the question and the quoted passages' sentences as for real (the
  synthetic vectors are searched: a search costs the same whatever the question's vector), and
  again right after one article is ingested through the ingest service (the model embeds it),
  with that ingest's time;
- **recall** of the dense index against exact search, at k=10 and at the ``candidates`` that
  search asks for: HNSW (``PgVectorIndex.search``) against a sequential scan ordered by
  distance; FAISS, once approximate (IVF-SQ8, from 100,000 passages), against brute force over
  the store's vectors (below that its flat index is exact: 1.0). Synthetic vectors have far
  weaker neighbourhoods than real ones (beyond the source passage, a question's 10th and 50th
  neighbours are nearly as similar as its 2nd), so ``--real-recall`` also measures it on real
  MiniLM vectors of the RealTime QA corpus with real questions;
- **size per passage**: the database (SQLite file, ``pg_database_size``), the vector index (FAISS
  snapshot file, HNSW relation), the keyword index (FTS5's tables, GIN relation), and how much
  the process's RSS grows when FAISS loads.

PostgreSQL runs in a server this script starts in a temporary directory (pgserver, with
``shared_buffers`` and ``max_wal_size`` raised), or on the server of ``--database-url``, where
a database per size is created and then dropped. Progress goes to stderr. Nothing is asserted;
the script only prints figures.

    .venv/bin/python benchmarks/scale_bench.py --sizes 5000
    .venv/bin/python benchmarks/scale_bench.py [--sizes 100000 1000000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import numpy.typing as npt
import psycopg

from bot.settings import Settings, load_settings
from bot.wiring import Briefbot, load_embedder
from corpus.model import Article
from retrieval.embedding import Embedder, Vectors
from retrieval.search import Searcher
from retrieval.terms import STOP_WORDS
from retrieval.vector_index import FaissIndex
from retrieval.window import Window

DIM = 384
MODEL = "synthetic-unit-vectors-384"
VOCABULARY = 5000
# The most frequent words of English are all function words; below them, content words mix
# with the rest of the stop words, the most common ("said" in news) in about a third of passages.
STOP_FIRST = 30
COMMON = 600
ZIPF_SHIFT = 2.7  # Zipf-Mandelbrot: the weight of rank r is 1 / (r + 2.7)
PASSAGE_WORDS = 100
SENTENCE_WORDS = 15
TITLE_WORDS = 8
PASSAGES_PER_STORY = 100
STORY_NAMES = 8
STORY_SHARE = 0.1
TITLE_STORY_SHARE = 0.3
STORY_SD_DAYS = 4.0
YEAR = datetime(2024, 1, 1, tzinfo=UTC)
NOW = datetime(2025, 1, 1, tzinfo=UTC)
QUERY_WORDS = 8
QUERY_NOISE = 0.75  # noise of this norm leaves cosine 1 / sqrt(1 + 0.75²) = 0.8 to the source
# For the server this script starts: shared_buffers at a sixth of this machine's 24 GB holds the
# 100k corpus whole and the 1M run's HNSW index (the rest stays in the page cache), and a larger
# max_wal_size keeps the bulk load from checkpointing every few seconds.
SERVER_SETTINGS = {"shared_buffers": "4GB", "max_wal_size": "8GB"}


def progress(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def unit(matrix: npt.NDArray[np.float64]) -> Vectors:
    normed: npt.NDArray[np.float64] = matrix / np.linalg.norm(matrix, axis=-1, keepdims=True)
    return normed.astype(np.float32)


def rss() -> int:
    """This process's resident set size in bytes (Linux)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def p50_p95(seconds: Sequence[float]) -> str:
    p50, p95 = percentiles(seconds)
    return f"p50 {p50:.1f} ms, p95 {p95:.1f} ms"


def percentiles(seconds: Sequence[float]) -> tuple[float, float]:
    """Median and 95th percentile, in milliseconds."""
    ordered = sorted(seconds)
    return statistics.median(ordered) * 1000, ordered[int(0.95 * (len(ordered) - 1))] * 1000


# --- the synthetic corpus --------------------------------------------------------------------


def make_vocabulary(rng: np.random.Generator) -> list[str]:
    """Words by frequency rank: stop words first, then the rest of them at random ranks among
    the ``COMMON`` first, and made-up words of two to four syllables everywhere else."""
    consonants, vowels = "bcdfghjklmnprstvwz", "aeiou"
    made_up: set[str] = set()
    while len(made_up) < VOCABULARY - len(STOP_WORDS):
        syllables = rng.integers(0, [len(consonants), len(vowels)], size=(rng.integers(2, 5), 2))
        word = "".join(consonants[c] + vowels[v] for c, v in syllables)
        if word not in STOP_WORDS:
            made_up.add(word)
    words = iter(rng.permutation(sorted(made_up)).tolist())
    stop_words = iter(rng.permutation(sorted(STOP_WORDS)).tolist())
    scattered = rng.choice(COMMON - STOP_FIRST, len(STOP_WORDS) - STOP_FIRST, replace=False)
    stop_ranks = set(range(STOP_FIRST)) | set((scattered + STOP_FIRST).tolist())
    return [str(next(stop_words if rank in stop_ranks else words)) for rank in range(VOCABULARY)]


def sentences(words: Sequence[str]) -> str:
    return " ".join(
        " ".join(words[i : i + SENTENCE_WORDS]).capitalize() + "."
        for i in range(0, len(words), SENTENCE_WORDS)
    )


@dataclass(frozen=True)
class Draft:
    """A generated article, its passages' spans and their vectors."""

    article: Article
    spans: list[tuple[int, int]]
    vectors: Vectors


class Corpus:
    """A synthetic corpus of ``size`` passages, generated batch by batch from ``seed``."""

    def __init__(self, size: int, *, seed: int, spread: float) -> None:
        self.rng = np.random.default_rng(seed)
        self.vocabulary = make_vocabulary(self.rng)
        self._words = np.array(self.vocabulary, dtype=object)
        weights = 1.0 / (np.arange(1, VOCABULARY + 1) + ZIPF_SHIFT)
        self._cdf = np.cumsum(weights) / weights.sum()
        self.stories = max(1, size // PASSAGES_PER_STORY)
        self._centres = unit(self.rng.standard_normal((self.stories, DIM)))
        self._days = self.rng.uniform(0, 366, self.stories)
        self._names = self.rng.integers(COMMON, VOCABULARY, (self.stories, STORY_NAMES))
        self._spread = spread
        self.articles = 0

    def batches(self, passages: int, *, batch: int) -> Iterator[list[Draft]]:
        """The next ``passages`` passages, as whole articles in batches of ``batch`` passages."""
        left = passages
        while left:
            yield self._drafts(min(batch, left))
            left -= min(batch, left)

    def _text(self, stories: npt.NDArray[np.int64], share: float) -> list[str]:
        """One word per entry of ``stories``: Zipf-distributed, or, for a ``share`` of them,
        one of that story's names."""
        rng = self.rng
        picked = np.minimum(np.searchsorted(self._cdf, rng.random(len(stories))), VOCABULARY - 1)
        named = rng.random(len(stories)) < share
        picked[named] = self._names[stories[named], rng.integers(0, STORY_NAMES, named.sum())]
        words: list[str] = self._words[picked].tolist()
        return words

    def _drafts(self, passages: int) -> list[Draft]:
        rng = self.rng
        counts: list[int] = []
        while (left := passages - sum(counts)) > 0:
            counts.append(min(int(rng.integers(2, 7)), left))
        stories = rng.integers(0, self.stories, len(counts))
        passage_stories = np.repeat(stories, counts)
        lengths = np.clip(rng.normal(PASSAGE_WORDS, 20, passages).round(), 40, 160).astype(int)
        body = self._text(np.repeat(passage_stories, lengths), STORY_SHARE)
        titles = self._text(np.repeat(stories, TITLE_WORDS), TITLE_STORY_SHARE)
        noise = rng.standard_normal((passages, DIM)) * (self._spread / math.sqrt(DIM))
        vectors = unit(self._centres[passage_stories] + noise)
        days = np.clip(self._days[stories] + rng.normal(0, STORY_SD_DAYS, len(counts)), 0, 365.99)
        drafts = []
        word, passage = 0, 0
        for number, count in enumerate(counts):
            texts = []
            for length in lengths[passage : passage + count]:
                texts.append(sentences(body[word : word + length]))
                word += length
            spans, start = [], 0
            for text in texts:
                spans.append((start, start + len(text)))
                start += len(text) + 2
            self.articles += 1
            title = titles[number * TITLE_WORDS : (number + 1) * TITLE_WORDS]
            article = Article(
                title=" ".join(title).capitalize(),
                text="\n\n".join(texts),
                url=f"https://news.example/{self.articles}",
                source="synthetic",
                published_at=YEAR + timedelta(days=float(days[number])),
            )
            drafts.append(Draft(article, spans, vectors[passage : passage + count]))
            passage += count
        return drafts


# --- writing and searching -------------------------------------------------------------------


class QueryEmbedder:
    """Stands in for the model at search time: each expected query's text has its vector."""

    def __init__(self, vocabulary: Iterable[str]) -> None:
        self.name = MODEL
        self.dim = DIM
        self._words = frozenset(vocabulary)
        self._vectors: dict[str, Vectors] = {}

    @property
    def words(self) -> frozenset[str]:
        return self._words

    def expect(self, queries: Iterable[Query]) -> None:
        self._vectors.update((q.text, q.vector) for q in queries)

    def embed(self, texts: Sequence[str]) -> Vectors:
        vectors: Vectors = np.zeros((len(texts), DIM), dtype=np.float32)
        for row, text in enumerate(texts):
            vectors[row] = self._vectors[text]
        return vectors


def write(bot: Briefbot, batch: Sequence[Draft]) -> float:
    """Write articles in one transaction through the store's write path; the seconds taken."""
    store, vectors, lexical = bot.store, bot.vectors, bot.lexical
    started = time.perf_counter()
    added: list[tuple[list[int], Vectors]] = []
    with store.transaction():
        for draft in batch:
            stored, passages = store.add(draft.article, draft.spans)
            ids = [p.id for p in passages]
            store.put_vectors(vectors.model_id, ids, draft.vectors)
            lexical.add([(p.id, stored.title, p.text) for p in passages])
            added.append((ids, draft.vectors))
    for ids, written in added:
        vectors.add(ids, written)
    return time.perf_counter() - started


def load(bot: Briefbot, batches: Iterable[list[Draft]], *, total: int, label: str) -> float:
    """Write the articles batch by batch; passages per second of writing."""
    done, reported, seconds = 0, 0, 0.0
    for batch in batches:
        seconds += write(bot, batch)
        done += sum(len(draft.spans) for draft in batch)
        if done - reported >= total / 10 or done == total:
            progress(f"{label}: {done:,}/{total:,} passages, {done / seconds:,.0f}/s")
            reported = done
    return done / seconds


@dataclass(frozen=True)
class Query:
    text: str
    vector: Vectors
    week: Window
    """The week around the source article's publication."""


def make_queries(bot: Briefbot, count: int, *, seed: int) -> list[Query]:
    """``count`` queries from random passages (the same ones on either backend)."""
    rng = np.random.default_rng(seed)
    stored_ids = np.sort(bot.store.vector_ids(bot.vectors.model_id))
    ids = [int(i) for i in rng.choice(stored_ids, min(count, len(stored_ids)), replace=False)]
    passages = bot.store.passages(ids)
    articles = bot.store.articles(p.article_id for p in passages.values())
    vectors = bot.store.vectors(bot.vectors.model_id, ids)
    queries = []
    for pid in ids:
        words = passages[pid].text.split()
        start = int(rng.integers(0, max(1, len(words) - QUERY_WORDS)))
        noise = rng.standard_normal(DIM) * (QUERY_NOISE / math.sqrt(DIM))
        published = articles[passages[pid].article_id].published_at or NOW  # all are dated
        queries.append(
            Query(
                text=" ".join(words[start : start + QUERY_WORDS]),
                vector=unit(vectors[pid] + noise),
                week=Window(published - timedelta(days=3), published + timedelta(days=4)),
            )
        )
    return queries


def search_times(
    searcher: Searcher, queries: Sequence[Query], *, k: int, windowed: bool
) -> list[float]:
    seconds = []
    for query in queries:
        started = time.perf_counter()
        searcher.search(query.text, k=k, now=NOW, window=query.week if windowed else None)
        seconds.append(time.perf_counter() - started)
    return seconds


@dataclass(frozen=True)
class Result:
    backend: str
    passages: int
    bulk_rate: float
    live_rate: float
    build_seconds: float
    open_ms: tuple[float, float]
    window_ms: tuple[float, float]
    stages: dict[str, float]
    recall: tuple[float, float]
    database_bytes: int
    vector_bytes: int
    keyword_bytes: int
    rss_bytes: int | None


@dataclass(frozen=True)
class Options:
    queries: int
    warmup: int
    batch: int
    live: int
    seed: int
    spread: float
    maintenance_work_mem: str
    parallel_workers: int


@dataclass(frozen=True)
class Searches:
    queries: list[Query]
    """The timed queries."""
    opened: list[float]
    windowed: list[float]
    stages: dict[str, float]
    """Median milliseconds of each index call an open search makes, timed apart."""
    after_ingest: list[float]
    """Open searches, each right after one article was added (already-asked questions)."""
    adds: list[float]
    """The writes of those articles (store, vectors, keyword index; no embedding)."""


def searched(bot: Briefbot, embedder: QueryEmbedder, corpus: Corpus, options: Options) -> Searches:
    """After a warm-up, the index calls of an open search timed one by one, on queries of their
    own; then the seconds of whole searches, open and within the query's week; then open
    searches again, each right after an article of ``corpus`` is added (what a bot that polls
    feeds sees: nothing it computed may be thrown away by an ingest)."""
    apart = max(5, options.queries // 4)
    queries = make_queries(bot, options.warmup + apart + options.queries, seed=options.seed + 1)
    embedder.expect(queries)
    warmup, staged = queries[: options.warmup], queries[options.warmup : options.warmup + apart]
    timed = queries[options.warmup + apart :]
    cfg = bot.settings.retrieval
    k = max(cfg.top_k, cfg.evidence_articles)
    for in_week in (False, True):
        search_times(bot.searcher, warmup, k=k, windowed=in_week)
    # Before the whole searches: density, once computed for a passage, is cached.
    progress(f"timing the index calls of {apart} open searches")
    seconds: dict[str, list[float]] = {"dense": [], "keywords": [], "density": []}
    for query in staged:
        started = time.perf_counter()
        dense = bot.vectors.search(query.vector, cfg.candidates)
        seconds["dense"].append(time.perf_counter() - started)
        started = time.perf_counter()
        lexical = bot.lexical.search(query.text, cfg.candidates)
        seconds["keywords"].append(time.perf_counter() - started)
        candidates = list(dict.fromkeys(pid for pid, _ in dense + lexical))
        started = time.perf_counter()
        bot.vectors.density(candidates, k=bot.searcher.fusion.hub_k)
        seconds["density"].append(time.perf_counter() - started)
    stages = {stage: statistics.median(times) * 1000 for stage, times in seconds.items()}
    progress(f"searching {len(timed)} queries, open and in a week")
    opened = search_times(bot.searcher, timed, k=k, windowed=False)
    windowed = search_times(bot.searcher, timed, k=k, windowed=True)
    progress(f"adding an article before each of {len(timed) // 4} searches")
    adds: list[float] = []
    after: list[float] = []
    for query in timed[: len(timed) // 4]:
        adds += [write(bot, batch) for batch in corpus.batches(4, batch=4)]
        after += search_times(bot.searcher, [query], k=k, windowed=False)
    return Searches(timed, opened, windowed, stages, after, adds)


def describe_search(bot: Briefbot, searches: Searches) -> None:
    cfg = bot.settings.retrieval
    k = max(cfg.top_k, cfg.evidence_articles)

    print(
        f"  search (k={k}, {cfg.candidates} candidates per index), {len(searches.opened)}"
        f" queries: open {p50_p95(searches.opened)}; in a week {p50_p95(searches.windowed)}"
    )
    print(
        f"  open search right after an article was added ({len(searches.after_ingest)} times):"
        f" {p50_p95(searches.after_ingest)}; the article's write {p50_p95(searches.adds)}"
        " (no embedding)"
    )
    print(
        "  an open search's index calls, p50: "
        + ", ".join(f"{stage} {ms:.1f} ms" for stage, ms in searches.stages.items())
    )


# --- SQLite + FAISS --------------------------------------------------------------------------


def run_sqlite(size: int, options: Options) -> Result:
    live = min(options.live, size // 10)
    corpus = Corpus(size, seed=options.seed, spread=options.spread)
    embedder = QueryEmbedder(corpus.vocabulary)
    label = f"sqlite {size:,}"
    with tempfile.TemporaryDirectory(prefix="scale-sqlite-") as tmp:
        settings = load_settings(_env_file=None, data_dir=Path(tmp))
        bot = Briefbot(settings, embedder=embedder)
        batches = corpus.batches(size - live, batch=options.batch)
        bulk_rate = load(bot, batches, total=size - live, label=f"{label} bulk")
        # A new process's start: the vectors read from the store (no snapshot was ever written).
        del bot
        gc.collect()
        before = rss()
        bot = Briefbot(settings, embedder=embedder)
        started = time.perf_counter()
        bot.vectors.refresh()
        cold_start = time.perf_counter() - started
        grown = rss() - before
        started = time.perf_counter()
        bot.vectors.checkpoint(force=True)
        snapshot_write = time.perf_counter() - started
        started = time.perf_counter()
        Briefbot(settings, embedder=embedder).vectors.refresh()
        warm_start = time.perf_counter() - started
        progress(f"{label}: FAISS loaded from the store in {cold_start:.1f} s")
        live_rate = load(
            bot, corpus.batches(live, batch=options.batch), total=live, label=f"{label} live"
        )
        searches = searched(bot, embedder, corpus, options)

        candidates = settings.retrieval.candidates
        recall = faiss_recall(bot, searches.queries, ks=(10, candidates))
        bot.vectors.checkpoint(force=True)
        answers, answers_after, ingests = whole_answers(
            settings, corpus, searches.queries, warmup=options.warmup
        )
        snapshot_rss = snapshot_load_rss(bot)
        with bot.store.reading() as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            rows = conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall()
        pages = {str(row[0]): int(row[1]) for row in rows}
        database = bot.store_path.stat().st_size
        snapshot = sum(f.stat().st_size for f in bot.index_dir.glob("*.faiss"))
        keywords = sum(n for name, n in pages.items() if name.startswith("passage_terms"))

    print(f"\nSQLite + FAISS, {size:,} passages ({corpus.articles:,} articles):")
    print(
        f"  ingest: {size - live:,} at {bulk_rate:,.0f} passages/s,"
        f" then {live:,} more at {live_rate:,.0f}/s"
    )
    print(
        f"  FAISS: start without a snapshot {cold_start:.1f} s (RSS +{grown / 2**20:,.0f} MiB,"
        " with any training of the approximate index),"
        f" snapshot written in {snapshot_write:.1f} s, start from it {warm_start:.1f} s"
    )
    describe_search(bot, searches)
    print(
        "  whole answers (the model on the question and the quoted sentences), one thread:"
        f" {p50_p95(answers)}; right after an article was ingested ({len(answers_after)} times):"
        f" {p50_p95(answers_after)}; the ingest of that article {p50_p95(ingests)}"
    )
    if faiss_of(bot).approximate:
        print(
            f"  recall against exact search (IVF-SQ8, {faiss_of(bot).lists} lists): R@10"
            f" {recall[0]:.3f}, R@{candidates} {recall[1]:.3f}; RSS of a start from"
            f" the snapshot +{snapshot_rss / 2**20:,.0f} MiB"
        )
    else:
        print("  recall: 1.0 at any k (a flat index searches exactly)")
    print(
        f"  sizes: SQLite file {database / 2**20:,.0f} MiB (FTS5 {keywords / 2**20:,.0f} MiB),"
        f" FAISS snapshot {snapshot / 2**20:,.0f} MiB"
    )
    return Result(
        backend="SQLite + FAISS",
        passages=size,
        bulk_rate=bulk_rate,
        live_rate=live_rate,
        build_seconds=cold_start,
        open_ms=percentiles(searches.opened),
        window_ms=percentiles(searches.windowed),
        stages=searches.stages,
        recall=recall,
        database_bytes=database,
        vector_bytes=snapshot,
        keyword_bytes=keywords,
        rss_bytes=snapshot_rss,
    )


class ModelUnderName:
    """The configured model, under the synthetic vectors' name: a whole answer embeds its
    question and its quotes' sentences as it would for real, while the store's synthetic
    vectors are searched (the search costs the same whatever the question's vector)."""

    def __init__(self, model: Embedder) -> None:
        self.name, self.dim, self.model = MODEL, DIM, model

    @property
    def words(self) -> frozenset[str]:
        return self.model.words

    def embed(self, texts: Sequence[str]) -> Vectors:
        return self.model.embed(texts)


def whole_answers(
    settings: Settings, corpus: Corpus, queries: Sequence[Query], *, warmup: int
) -> tuple[list[float], list[float], list[float]]:
    """Seconds of the ask service's answers to ``queries``, through a bot of its own on the
    same store, with the real model (see ``ModelUnderName``); then of answers to a quarter of
    them again, each right after an article of ``corpus`` is ingested as a user's would be
    (embedded, checked for near-duplicates, stored and indexed), and of those ingests."""
    model = load_embedder(settings.embedding, cache=settings.data_dir / "models")
    if model.dim != DIM:
        sys.exit(f"whole answers need a {DIM}-dimensional model, not {model.name}")
    bot = Briefbot(settings, embedder=ModelUnderName(model))
    progress(f"{len(queries)} whole answers, after {warmup} more")
    for query in queries[:warmup]:
        bot.ask_service.ask(query.text[::-1], now=NOW)  # other questions: nothing cached

    def answer(query: Query) -> float:
        started = time.perf_counter()
        bot.ask_service.ask(query.text, now=NOW)
        return time.perf_counter() - started

    seconds = [answer(query) for query in queries]
    after, ingests = [], []
    for query in queries[: len(queries) // 4]:
        article = next(corpus.batches(4, batch=4))[0].article
        started = time.perf_counter()
        report = bot.ingest_service.ingest_articles([("benchmark", article)])
        ingests.append(time.perf_counter() - started)
        if not report.added:
            sys.exit(f"a generated article was not added: {report}")
        after.append(answer(query))
    return seconds, after, ingests


def faiss_of(bot: Briefbot) -> FaissIndex:
    index = bot.vectors
    assert isinstance(index, FaissIndex)
    return index


def exact_neighbours(
    batches: Iterable[tuple[Sequence[int], Vectors]], queries: Vectors, k: int
) -> npt.NDArray[np.int64]:
    """Each query's ``k`` nearest ids by brute force over ``batches`` of (ids, vectors)."""
    best_ids = np.zeros((len(queries), 0), dtype=np.int64)
    best_sims = np.zeros((len(queries), 0), dtype=np.float32)
    for ids, vectors in batches:
        sims = np.hstack([best_sims, queries @ np.asarray(vectors).T])
        keys = np.hstack([best_ids, np.broadcast_to(np.asarray(ids), (len(queries), len(ids)))])
        top = np.argsort(-sims, axis=1)[:, :k]
        best_sims, best_ids = np.take_along_axis(sims, top, 1), np.take_along_axis(keys, top, 1)
    return best_ids


def faiss_recall(
    bot: Briefbot, queries: Sequence[Query], *, ks: tuple[int, int]
) -> tuple[float, float]:
    """Per k, the share of the exact k nearest (brute force over the store's vectors) that the
    FAISS index returns; 1.0 for the flat index, which is exact."""
    if not faiss_of(bot).approximate:
        return (1.0, 1.0)
    progress(f"recall: brute force over the store for {len(queries)} queries")
    matrix = np.stack([q.vector for q in queries])
    exact = exact_neighbours(bot.store.iter_vectors(bot.vectors.model_id), matrix, max(ks))
    found = [0, 0]
    for row, query in enumerate(queries):
        for i, k in enumerate(ks):
            got = {pid for pid, _ in bot.vectors.search(query.vector, k)}
            found[i] += len(got & set(exact[row, :k].tolist()))
    return (found[0] / (ks[0] * len(queries)), found[1] / (ks[1] * len(queries)))


def snapshot_load_rss(bot: Briefbot) -> int:
    """How much a new process's RSS grows when it opens the FAISS snapshot (and the few vectors
    committed since): what the index costs a running bot."""
    script = (
        "import sys; from pathlib import Path; from corpus.store import SQLStore;"
        " from retrieval.vector_index import FaissIndex;"
        " statm = lambda: int(Path('/proc/self/statm').read_text().split()[1]);"
        " store = SQLStore(Path(sys.argv[1])); before = statm();"
        " FaissIndex(store, snapshot=Path(sys.argv[2]), dim=int(sys.argv[3]), model=sys.argv[4]"
        ").refresh(); print((statm() - before) * __import__('os').sysconf('SC_PAGE_SIZE'))"
    )
    index = faiss_of(bot)
    ran = subprocess.run(
        [sys.executable, "-c", script, str(bot.store_path), str(index.path), str(DIM), MODEL],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(ran.stdout.split()[-1])


def real_recall(data_dir: Path) -> None:
    """Recall@10 and @50 of the approximate index on real MiniLM passage vectors, with real
    questions: the RealTime QA corpus that ``retrieval_eval.py --data-dir`` ingested there,
    indexed approximately whatever its size."""
    from retrieval_eval import DATASET, load_questions

    bot = Briefbot(load_settings(_env_file=None, data_dir=data_dir))
    with tempfile.TemporaryDirectory() as tmp:
        index = FaissIndex(
            bot.store,
            snapshot=Path(tmp) / "ivf.faiss",
            dim=bot.embedder.dim,
            model=bot.embedder.name,
            approximate_from=1,
        )
        questions = bot.embedder.embed([q.text for q in load_questions(DATASET)])
        exact = exact_neighbours(bot.store.iter_vectors(index.model_id), questions, 50)
        print(
            f"\nreal vectors: {len(index):,} RealTime QA passages (MiniLM), {len(questions):,}"
            f" questions, IVF-SQ8 with {index.lists} lists:"
        )
        for k in (10, 50):
            found = sum(
                len({pid for pid, _ in index.search(q, k)} & set(exact[row, :k].tolist()))
                for row, q in enumerate(questions)
            )
            print(f"  recall@{k} against exact search {found / (k * len(questions)):.3f}")


# --- PostgreSQL + pgvector -------------------------------------------------------------------


@contextmanager
def postgres_server(url: str | None) -> Iterator[str]:
    """The URL of a server's maintenance database: ``url``'s, or a pgserver's started here."""
    if url is not None:
        yield url
        return
    from pgserver.postgres_server import get_server

    with tempfile.TemporaryDirectory(prefix="scale-postgres-") as tmp:
        pgdata = Path(tmp) / "pgdata"
        server = get_server(pgdata, cleanup_mode="stop")
        with psycopg.connect(server.get_uri(), autocommit=True) as conn:
            for name, value in SERVER_SETTINGS.items():
                conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
        server.cleanup()  # shared_buffers takes effect at the next start
        server = get_server(pgdata, cleanup_mode="stop")
        try:
            yield server.get_uri()
        finally:
            server.cleanup()


def index_named(bot: Briefbot, table: str, method: str) -> tuple[str, str]:
    """The name and ``CREATE INDEX`` statement of ``table``'s index of ``method``."""
    with bot.store.reading() as conn:
        row = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ? AND indexdef LIKE ?",
            (table, f"% USING {method} %"),
        ).fetchone()
    if row is None:
        sys.exit(f"{table} has no {method} index")
    return str(row[0]), str(row[1])


def exact_recall(bot: Briefbot, queries: Sequence[Query], *, ks: tuple[int, int]) -> list[float]:
    """Per k, the share of the exact k nearest that the vector index returns."""
    exact_sql = (
        f"SELECT passage_id FROM passage_vectors WHERE model_id = {int(bot.vectors.model_id)}"
        f" ORDER BY vector::vector({DIM}) <=> ? LIMIT ?"
    )
    found = [0] * len(ks)
    for number, query in enumerate(queries):
        with bot.store.transaction() as conn:
            conn.execute("SET LOCAL enable_indexscan = off")
            rows = conn.execute(exact_sql, (query.vector, max(ks))).fetchall()
        exact = [int(row[0]) for row in rows]
        for i, k in enumerate(ks):
            approximate = {pid for pid, _ in bot.vectors.search(query.vector, k)}
            found[i] += len(approximate & set(exact[:k]))
        if (number + 1) % 50 == 0:
            progress(f"recall: {number + 1}/{len(queries)} exact scans")
    return [hits / (k * len(queries)) for hits, k in zip(found, ks, strict=True)]


@contextmanager
def scratch_database(server: str, name: str) -> Iterator[str]:
    """A new, empty database on ``server`` (its URL), dropped afterwards."""
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield urlsplit(server)._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def run_postgres(size: int, options: Options, server: str) -> Result:
    live = min(options.live, size // 10)
    corpus = Corpus(size, seed=options.seed, spread=options.spread)
    embedder = QueryEmbedder(corpus.vocabulary)
    label = f"postgresql {size:,}"
    with (
        scratch_database(server, f"briefbot_scale_{size}") as url,
        tempfile.TemporaryDirectory(prefix="scale-postgres-") as tmp,
    ):
        settings = load_settings(_env_file=None, data_dir=Path(tmp), database_url=url)
        bot = Briefbot(settings, embedder=embedder)
        # Opening the indexes creates their tables and indexes.
        bot.vectors  # noqa: B018
        bot.lexical  # noqa: B018
        hnsw, create_hnsw = index_named(bot, "passage_vectors", "hnsw")
        gin, _ = index_named(bot, "passage_terms", "gin")
        with bot.store.transaction() as conn:
            conn.execute(f"DROP INDEX {hnsw}")
        batches = corpus.batches(size - live, batch=options.batch)
        bulk_rate = load(bot, batches, total=size - live, label=f"{label} bulk")

        started = time.perf_counter()
        with bot.store.reading() as conn:
            conn.execute("VACUUM ANALYZE")
        vacuum = time.perf_counter() - started
        progress(f"{label}: VACUUM ANALYZE took {vacuum:.1f} s; building the HNSW index")
        started = time.perf_counter()
        with bot.store.transaction() as conn:
            conn.execute(
                "SELECT set_config('maintenance_work_mem', ?, true),"
                " set_config('max_parallel_maintenance_workers', ?, true)",
                (options.maintenance_work_mem, str(options.parallel_workers)),
            )
            conn.execute(create_hnsw)
        build = time.perf_counter() - started
        progress(f"{label}: HNSW built in {build:.1f} s")
        live_rate = load(
            bot, corpus.batches(live, batch=options.batch), total=live, label=f"{label} live"
        )
        searches = searched(bot, embedder, corpus, options)
        ks = (10, bot.settings.retrieval.candidates)
        recall = exact_recall(bot, searches.queries, ks=ks)

        with bot.store.reading() as conn:
            row = conn.execute(
                "SELECT pg_database_size(current_database()), pg_relation_size(?::regclass),"
                " pg_relation_size(?::regclass), current_setting('shared_buffers')",
                (hnsw, gin),
            ).fetchone()
        database, vectors, keywords, shared_buffers = int(row[0]), int(row[1]), int(row[2]), row[3]
        bot.store.close()

    print(f"\nPostgreSQL + pgvector, {size:,} passages ({corpus.articles:,} articles):")
    print(
        f"  ingest: {size - live:,} at {bulk_rate:,.0f} passages/s without the HNSW index,"
        f" then {live:,} more with it at {live_rate:,.0f}/s"
    )
    print(
        f"  VACUUM ANALYZE {vacuum:.1f} s, then HNSW build {build:.1f} s (pgvector's defaults"
        f" m=16, ef_construction=64; maintenance_work_mem {options.maintenance_work_mem},"
        f" {options.parallel_workers} parallel worker(s); shared_buffers {shared_buffers})"
    )
    describe_search(bot, searches)
    print(
        f"  recall of HNSW against an exact scan over {len(searches.queries)} queries:"
        f" @{ks[0]} {recall[0]:.3f}, @{ks[1]} {recall[1]:.3f}"
    )
    print(
        f"  sizes: database {database / 2**20:,.0f} MiB, HNSW {vectors / 2**20:,.0f} MiB,"
        f" GIN {keywords / 2**20:,.0f} MiB"
    )
    return Result(
        backend="PostgreSQL + pgvector",
        passages=size,
        bulk_rate=bulk_rate,
        live_rate=live_rate,
        build_seconds=build,
        open_ms=percentiles(searches.opened),
        window_ms=percentiles(searches.windowed),
        stages=searches.stages,
        recall=(recall[0], recall[1]),
        database_bytes=database,
        vector_bytes=vectors,
        keyword_bytes=keywords,
        rss_bytes=None,
    )


# --- the report ------------------------------------------------------------------------------


def report(results: Sequence[Result]) -> None:
    print(
        f"\n{'backend':<22} {'passages':>10} {'bulk/s':>8} {'live/s':>8} {'build s':>8}"
        f" {'open p50/p95 ms':>17} {'week p50/p95 ms':>17} {'R@10':>6} {'R@50':>6}"
    )
    for r in results:
        print(
            f"{r.backend:<22} {r.passages:>10,} {r.bulk_rate:>8,.0f} {r.live_rate:>8,.0f}"
            f" {r.build_seconds:>8.1f} {r.open_ms[0]:>8.1f}/{r.open_ms[1]:<8.1f}"
            f" {r.window_ms[0]:>8.1f}/{r.window_ms[1]:<8.1f}"
            f" {r.recall[0]:>6.3f} {r.recall[1]:>6.3f}"
        )
    print(
        "build: FAISS, a start without a snapshot (every vector read from the store);"
        " PostgreSQL, CREATE INDEX ... USING hnsw after the bulk load"
    )
    print(
        f"\n{'bytes per passage':<22} {'passages':>10} {'database':>9} {'vectors':>8}"
        f" {'keywords':>9} {'RSS':>6}"
    )
    for r in results:
        grown = f"{r.rss_bytes / r.passages:,.0f}" if r.rss_bytes is not None else "-"
        print(
            f"{r.backend:<22} {r.passages:>10,} {r.database_bytes / r.passages:>9,.0f}"
            f" {r.vector_bytes / r.passages:>8,.0f} {r.keyword_bytes / r.passages:>9,.0f}"
            f" {grown:>6}"
        )
    print(
        "database: the SQLite file, pg_database_size; vectors: the FAISS snapshot, the HNSW"
        " index; keywords: FTS5's tables, the GIN index; RSS: growth while a new process opens"
        " the FAISS snapshot"
    )
    print(
        f"\n{'open search, p50 ms':<22} {'passages':>10} {'dense':>8} {'keywords':>9}"
        f" {'density':>8}"
    )
    for r in results:
        print(
            f"{r.backend:<22} {r.passages:>10,} {r.stages['dense']:>8.1f}"
            f" {r.stages['keywords']:>9.1f} {r.stages['density']:>8.1f}"
        )
    print("each index call of an open search timed on its own, on queries of their own")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument(
        "--backends", nargs="+", choices=("sqlite", "postgresql"), default=["sqlite", "postgresql"]
    )
    parser.add_argument(
        "--database-url",
        help="use this PostgreSQL server (its maintenance database's URL; a database per size is"
        " created and dropped there) instead of starting one",
    )
    parser.add_argument("--queries", type=int, default=200, help="timed queries of each kind")
    parser.add_argument("--warmup", type=int, default=20, help="untimed queries of each kind")
    parser.add_argument("--batch", type=int, default=1000, help="passages per transaction")
    parser.add_argument(
        "--live", type=int, default=5000, help="passages loaded last, with every index in place"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--spread", type=float, default=1.5, help="noise around a story's direction (100: uniform)"
    )
    parser.add_argument(
        "--real-recall",
        type=Path,
        metavar="DATA_DIR",
        help="also measure the approximate index's recall on the real vectors of the RealTime QA"
        " corpus in this data directory (made by retrieval_eval.py --data-dir)",
    )
    parser.add_argument("--maintenance-work-mem", default="4GB", help="for the HNSW build")
    parser.add_argument(
        "--parallel-workers", type=int, default=1, help="HNSW build workers besides the leader"
    )
    args = parser.parse_args(argv)
    options = Options(
        queries=args.queries,
        warmup=args.warmup,
        batch=args.batch,
        live=args.live,
        seed=args.seed,
        spread=args.spread,
        maintenance_work_mem=args.maintenance_work_mem,
        parallel_workers=args.parallel_workers,
    )

    # A terminated run still stops the PostgreSQL server it started and removes its files.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))
    started = time.perf_counter()
    print(
        f"CPUs: {os.cpu_count()}, load average {os.getloadavg()[1]:.1f} (others' work slows"
        f" every figure); seed {args.seed}; {DIM}-dimensional vectors",
        flush=True,
    )
    results = []
    server: AbstractContextManager[str | None] = (
        postgres_server(args.database_url) if "postgresql" in args.backends else nullcontext()
    )
    with server as url:
        for size in args.sizes:
            for backend in args.backends:
                if backend == "sqlite":
                    results.append(run_sqlite(size, options))
                elif url is not None:
                    results.append(run_postgres(size, options, url))
                sys.stdout.flush()
    report(results)
    if args.real_recall:
        real_recall(args.real_recall)
    print(
        f"\ntotal time: {(time.perf_counter() - started) / 60:.1f} min;"
        f" load average over the last 15 min {os.getloadavg()[2]:.1f}"
    )


if __name__ == "__main__":
    main()
