"""Peers benchmark: a whole briefbot answer against bare sentence-transformers + FAISS, on the
RealTime QA corpus (~5,000 passages), in the same run.

The target (issue: "at 5k passages, ``ask`` p50 ≤ 2× bare encode + flat search in the same
run") compares what a person waits for with what the simplest dense retriever a user could set
up costs on the same machine at the same moment. The data directory (``--data-dir``) holds the
corpus as ``benchmarks/retrieval_eval.py --data-dir`` ingests it (every unique gold evidence
passage, one article each); when it holds no articles, it is ingested here the same way first
(minutes). Questions are RealTime QA's dev split (dated before 2024), spread evenly over it;
the warm-up questions are others of that split.

The bot is opened with the repository's wiring (``Briefbot`` over the default settings, so one
thread for torch and FAISS, as a serving bot uses) and warmed up. Then, per question and in an
order that rotates from one question to the next (so background load, caches and the CPU's
clock hit each alike), it times

1. **ask**: ``AskService.ask(question)``, the whole answer (time expression, query embedding,
   FAISS + FTS5 search and fusion, every passage of the best articles weighed, typo check,
   sentences embedded and highlighted). As a running bot asks, the reference time is the
   clock's, so a question's "this week" finds nothing and search runs again over other dates;
   ``--as-of`` asks as of each question's own day instead, as ``retrieval_eval.py`` does;
2. **search**: ``Searcher.search`` as ``ask`` calls it (same ``k``, reference time and time
   window), embedding the question itself;
3. **bare encode + flat**: ``SentenceTransformer.encode([question], normalize_embeddings=True)``
   with the very model object the bot loaded, then ``faiss.IndexFlatIP.search(k=10)`` over the
   passage vectors stored in the store (read from it once, before timing);
4. **bare encode** alone;
5. **txtai hybrid** (``Embeddings(hybrid=True)``, dense + BM25, same model files), only when
   ``import txtai`` works; building its index re-embeds every passage.

It prints p50 / p95 ms of each over ``--questions`` questions (ask's p50 also apart for answers
that quote and for "nothing found", which highlights nothing), the ratio ask p50 ÷ (bare encode
+ flat) p50 against the target 2.0 and its median per question, and then, in a separate pass
over the same questions with timing proxies wrapped around the bot's parts (the instance
attributes only; no product code changes), where an answer's time goes: the question's time
expression, the query embedding, search (and in it FAISS, FTS5 and the density lookup),
weighing the evidence, the typo check, highlighting (and in it the sentences' embedding), and
the rest. CPUs and load average are printed at the start and the end. Nothing is asserted.

Run from the repository root:

    .venv/bin/python benchmarks/peers_bench.py [--data-dir /tmp/rtqa-data] [--questions 100]
        [--warmup 10] [--as-of]
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from retrieval_eval import (
    DATASET,
    Question,
    corpus,
    corpus_articles,
    end_of_day,
    load_questions,
)

from bot.services.ask import Answer
from bot.settings import load_settings
from bot.wiring import Briefbot, use_threads
from retrieval.embedding import SentenceTransformerEmbedder, resolve_model
from retrieval.time_expressions import parse_time

DEV_BEFORE = date(2024, 1, 1)
FLAT_K = 10
TARGET = 2.0
ASK, SEARCH, BARE, ENCODE, TXTAI = (
    "ask",
    "search",
    "bare encode + flat",
    "bare encode",
    "txtai hybrid",
)


def progress(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def load_line() -> str:
    one, five, fifteen = os.getloadavg()
    return (
        f"CPUs: {os.cpu_count()}, load average {one:.1f} / {five:.1f} / {fifteen:.1f}"
        " (1 / 5 / 15 min)"
    )


def percentiles(seconds: Sequence[float]) -> tuple[float, float]:
    """Median and 95th percentile, in milliseconds."""
    ordered = sorted(seconds)
    return statistics.median(ordered) * 1000, ordered[int(0.95 * (len(ordered) - 1))] * 1000


def timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def ingest_corpus(bot: Briefbot, dataset: Path) -> None:
    """The corpus of ``retrieval_eval.py``: every unique evidence passage of the whole dataset,
    an article of its own dated (noon) by its first question, ingested with every core."""
    passages = corpus(load_questions(dataset))
    progress(f"ingesting {len(passages)} passages into {bot.settings.data_dir} (minutes)")
    use_threads(os.cpu_count() or 1, backend="torch")
    started = time.perf_counter()
    report = bot.ingest_service.ingest_articles(corpus_articles(passages))
    progress(
        f"ingested {len(report.added)} articles ({len(report.duplicates)} duplicates)"
        f" in {time.perf_counter() - started:.0f} s"
    )


def spread(items: Sequence[Question], count: int, *, offset: int = 0) -> list[Question]:
    """``count`` items spread evenly over ``items``, starting ``offset`` into each stride."""
    step = max(1, len(items) // max(count, 1))
    return list(items[offset::step][:count])


# --- the breakdown ---------------------------------------------------------------------------


@dataclass
class Stopwatch:
    """Seconds spent in wrapped callables, per stage, for the answer being timed."""

    spent: dict[str, float] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    texts: int = 0

    def reset(self) -> None:
        self.spent.clear()
        self.calls.clear()
        self.texts = 0

    def wrap(self, stage: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timing(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.spent[stage] = self.spent.get(stage, 0.0) + time.perf_counter() - start
                self.calls[stage] = self.calls.get(stage, 0) + 1

        return timing

    @contextmanager
    def wrapping(self, parts: Sequence[tuple[str, object, str]]) -> Iterator[None]:
        """Each ``(stage, object, method name)`` timed through an instance attribute that
        shadows the method, removed afterwards."""
        for stage, owner, name in parts:
            setattr(owner, name, self.wrap(stage, getattr(owner, name)))
        try:
            yield
        finally:
            for _, owner, name in parts:
                delattr(owner, name)


# Stages of one answer: (label, stage, indent). Nested stages are inside the one above them.
STAGES = [
    ("time expression (dateparser)", "parse", 0),
    ("query embedding", "embed query", 0),
    ("search (fusion, store reads)", "search", 0),
    ("FAISS dense", "dense", 1),
    ("FTS5 keywords", "keywords", 1),
    ("density (hubness)", "density", 1),
    ("evidence (weigh passages)", "evidence", 0),
    ("typo check (find corrections)", "spelling", 0),
    ("highlight", "highlight", 0),
    ("embed sentences", "embed sentences", 1),
]


def breakdown(
    bot: Briefbot, questions: Sequence[Question], now: Mapping[str, datetime | None]
) -> None:
    """Asks every question again with the bot's parts wrapped, and prints where time goes."""
    service = bot.ask_service
    searcher = service.searcher
    watch = Stopwatch()
    embedder = bot.embedder
    plain_embed = embedder.embed

    timed_embed = watch.wrap("model", plain_embed)

    def embed(texts: Sequence[str]) -> Any:
        watch.texts += len(texts)
        return timed_embed(texts)

    parts: list[tuple[str, object, str]] = [
        ("parse", service, "_parse"),
        ("embed query", searcher, "embed_query"),
        ("search", searcher, "search"),
        ("dense", searcher.vectors, "search"),
        ("keywords", searcher.lexical, "search"),
        ("density", searcher.vectors, "density"),
        ("evidence", service.evidence, "find"),
        ("highlight", service.evidence, "highlight"),
    ]
    if service.spelling is not None:
        parts.append(("spelling", service.spelling, "correct"))
    rows: list[tuple[float, dict[str, float], dict[str, int], int, Answer, str]] = []
    with watch.wrapping(parts):
        setattr(embedder, "embed", embed)  # noqa: B010 — shadows the method of the shared model
        try:
            for q in questions:
                watch.reset()
                start = time.perf_counter()
                answer = service.ask(q.text, now=now[q.text])
                total = time.perf_counter() - start
                # The model's calls other than the query's: the sentences highlighting weighs.
                watch.spent["embed sentences"] = watch.spent.get("model", 0.0) - watch.spent.get(
                    "embed query", 0.0
                )
                rows.append(
                    (total, dict(watch.spent), dict(watch.calls), watch.texts, answer, q.text)
                )
        finally:
            delattr(embedder, "embed")

    def median(stage: str) -> float:
        return 1000 * statistics.median(r[1].get(stage, 0.0) for r in rows)

    rows.sort(key=lambda r: r[0])
    total, spent, calls, texts, answer, question = rows[len(rows) // 2]
    top = [stage for _, stage, indent in STAGES if indent == 0]
    rest = total - sum(spent.get(stage, 0.0) for stage in top)
    print(
        f"\nwhere an answer's time goes: the median answer ({1000 * total:.1f} ms) and, per stage,"
        f" the median over {len(rows)} answers ({1000 * statistics.median(r[0] for r in rows):.1f}"
        " ms total)"
    )
    print(f"  question: {question!r}")
    print(
        f"  {len(answer.quotes)} quote(s); {texts} text(s) embedded in"
        f" {calls.get('model', 0)} model call(s); {calls.get('search', 0)} search pass(es)"
    )
    print(f"  {'stage':<34} {'this answer ms':>14} {'median ms':>10}")
    for label, stage, indent in STAGES:
        name = ("  " * indent + ("of which " if indent else "") + label)[:34]
        print(f"  {name:<34} {1000 * spent.get(stage, 0.0):>14.1f} {median(stage):>10.1f}")
    rests = sorted(r[0] - sum(r[1].get(stage, 0.0) for stage in top) for r in rows)
    print(
        f"  {'rest (relevance, quotes, Python)':<34} {1000 * rest:>14.1f}"
        f" {1000 * statistics.median(rests):>10.1f}"
    )
    print(
        "  (a second search pass — the typo check's retry with corrected words, or other dates"
        " when the period asked about has no match — adds to the same stages)"
    )


# --- main ------------------------------------------------------------------------------------


def txtai_searcher(bot: Briefbot) -> Callable[[str], object] | None:
    """A txtai hybrid (dense + BM25) index of the store's passages, built with the same model
    files as the bot's, or ``None`` when txtai is not installed."""
    if importlib.util.find_spec("txtai") is None:
        return None
    txtai = importlib.import_module("txtai")
    passages = {p.id: p.text for batch in bot.store.iter_passages() for p in batch}
    model = resolve_model(bot.settings.embedding.model)
    progress(f"txtai: indexing {len(passages)} passages (re-embeds every one; minutes)")
    embeddings = txtai.Embeddings(path=model, method="sentence-transformers", hybrid=True)
    embeddings.index([(pid, text, None) for pid, text in passages.items()])

    def search(question: str) -> object:
        result: object = embeddings.search(question, FLAT_K)
        return result

    return search


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/rtqa-data"))
    parser.add_argument("--dataset", type=Path, default=DATASET)
    parser.add_argument("--questions", type=int, default=100, help="timed questions")
    parser.add_argument("--warmup", type=int, default=10, help="untimed questions first")
    parser.add_argument(
        "--as-of",
        action="store_true",
        help="ask as of each question's day (time expressions, recency) instead of the clock's",
    )
    parser.add_argument(
        "--no-breakdown", action="store_true", help="skip the instrumented second pass"
    )
    args = parser.parse_args(argv)

    print(load_line(), "at the start", flush=True)
    started = time.perf_counter()
    dev = [q for q in load_questions(args.dataset) if q.day < DEV_BEFORE]
    timed_questions = spread(dev, args.questions)
    warmup = spread(dev, args.warmup, offset=1)

    bot = Briefbot(load_settings(_env_file=None, data_dir=args.data_dir, load_samples=False))
    if not bot.store.count_articles():
        ingest_corpus(bot, args.dataset)
    threads = bot.settings.embedding.threads or 1  # what Briefbot.embedder sets for serving
    bot.prepare()
    use_threads(threads, backend="torch")  # torch too: the bare peer runs on it
    embedder = bot.embedder
    # The bare peer is sentence-transformers on PyTorch: the bot's own model object when the bot
    # runs the torch backend, else that model loaded beside it.
    torch_embedder = (
        embedder
        if isinstance(embedder, SentenceTransformerEmbedder)
        else SentenceTransformerEmbedder(bot.settings.embedding.model)
    )
    model = torch_embedder._model

    # The bare peer's index: every stored passage vector of this model, exact inner product.
    model_id = bot.store.model_id(embedder.name, embedder.dim)
    ids: list[int] = []
    flat = faiss.IndexFlatIP(embedder.dim)
    for batch_ids, vectors in bot.store.iter_vectors(model_id):
        ids.extend(batch_ids)
        flat.add(np.ascontiguousarray(vectors, dtype=np.float32))
    passage_ids = np.array(ids, dtype=np.int64)

    service = bot.ask_service
    searcher = service.searcher
    limit = max(service.top_k, service.candidate_articles)  # the k that ask searches with

    # The reference time: the clock's (as a running bot asks), or with --as-of each question's
    # own day, so "this week" means the week the question was asked.
    now: dict[str, datetime | None] = {
        q.text: end_of_day(q.day) if args.as_of else None for q in [*warmup, *timed_questions]
    }

    def ask(question: str) -> object:
        return service.ask(question, now=now[question])

    # The question's time expression and reference time, as ask finds them (parsed here, not
    # timed: search is timed as ask calls it).
    clock = bot.clock()
    queries = {text: parse_time(text, now=at or clock) for text, at in now.items()}

    def search(question: str) -> object:
        if not service.time_aware:
            return searcher.search(question, k=limit)
        query = queries[question]
        at = now[question] or clock
        return searcher.search(query.text, k=limit, now=at, window=query.window)

    def encode(question: str) -> Any:
        return model.encode([question], normalize_embeddings=True, show_progress_bar=False)

    def bare(question: str) -> object:
        _, found = flat.search(np.asarray(encode(question), dtype=np.float32), FLAT_K)
        return passage_ids[found[0][found[0] >= 0]]

    methods: dict[str, Callable[[str], object]] = {
        ASK: ask,
        SEARCH: search,
        BARE: bare,
        ENCODE: encode,
    }
    peer = txtai_searcher(bot)
    if peer is None:
        note = "txtai is not installed: its hybrid search is skipped"
    else:
        methods[TXTAI] = peer
        note = "txtai hybrid: Embeddings(hybrid=True), same model files, k=10"
    use_threads(threads, backend="torch")  # txtai, if it ran, may have changed torch's threads

    progress(f"warming up on {len(warmup)} questions")
    for q in warmup:
        for work in methods.values():
            work(q.text)
    progress(f"timing {len(timed_questions)} questions, {len(methods)} methods each")
    seconds: dict[str, list[float]] = {name: [] for name in methods}
    names = list(methods)
    quoted: list[bool] = []  # per timed ask: whether it quoted anything
    for number, q in enumerate(timed_questions):
        shift = number % len(names)
        for name in names[shift:] + names[:shift]:
            if name == ASK:
                start = time.perf_counter()
                answer = service.ask(q.text, now=now[q.text])
                seconds[name].append(time.perf_counter() - start)
                quoted.append(answer.found)
            else:
                seconds[name].append(timed(lambda w=methods[name], t=q.text: w(t)))  # type: ignore[misc]

    print(
        f"\n{bot.store.count_passages():,} passages ({bot.store.count_articles():,} articles) in"
        f" {args.data_dir}; {len(timed_questions)} RealTime QA dev questions (before 2024),"
        f" {len(warmup)} warm-up, asked as of {'their own day' if args.as_of else 'now'};"
        f" torch {threads} thread(s), FAISS {threads};"
        f" model {embedder.name}"
    )
    split = [
        (label, [s for s, q in zip(seconds[ASK], quoted, strict=True) if q == found])
        for label, found in (("quoting", True), ("nothing found", False))
    ]
    parts = [f"{label} {percentiles(t)[0]:.1f} ms ({len(t)})" for label, t in split if t]
    print(f"ask p50 {', '.join(parts)} (only quoted passages are highlighted)")
    print(f"\n{'method':<22} {'p50 ms':>8} {'p95 ms':>8}")
    p50 = {}
    for name in methods:
        p50[name], p95 = percentiles(seconds[name])
        print(f"{name:<22} {p50[name]:>8.1f} {p95:>8.1f}")
    print(f"({note})")
    ratio = p50[ASK] / p50[BARE]
    print(
        f"\nask p50 ÷ bare encode + flat p50 = {ratio:.2f} (target ≤ {TARGET:.1f}:"
        f" {'met' if ratio <= TARGET else 'not met'});"
        f" search ÷ bare {p50[SEARCH] / p50[BARE]:.2f};"
        f" encode is {p50[ENCODE] / p50[BARE]:.0%} of bare encode + flat"
    )
    paired = sorted(a / b for a, b in zip(seconds[ASK], seconds[BARE], strict=True))
    print(
        f"per question, ask ÷ bare encode + flat: median {statistics.median(paired):.2f},"
        f" p95 {paired[int(0.95 * (len(paired) - 1))]:.2f}"
    )

    if not args.no_breakdown:
        progress("asking again with timing proxies for the breakdown")
        breakdown(bot, timed_questions, now)

    print(
        f"\n{load_line()} at the end; {(time.perf_counter() - started) / 60:.1f} min in all",
        flush=True,
    )


if __name__ == "__main__":
    main()
