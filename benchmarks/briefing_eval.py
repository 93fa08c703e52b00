"""Briefing evaluation on BBC News Summary: Lead-k, TF-IDF TextRank and briefbot's key sentences.

Each article's body (the headline excluded) is split with briefbot's sentence splitter; every
selector picks k of those sentences, which are joined in document order and scored with ROUGE-1/2/L
F1 (stemmed) against the extractive reference summary. Two budgets, both in one run: k = the
number of sentences in the reference, and k = 3 (a briefing's size). Sentence embeddings are
computed once for the whole run and shared by every budget. Nothing is asserted; the script
only prints figures.

Run from the repository root:

    .venv/bin/python benchmarks/briefing_eval.py [--limit N] [--dataset DIR]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from rouge_score import rouge_scorer
from sklearn.feature_extraction.text import TfidfVectorizer

from bot.settings import DEFAULT_MODEL
from retrieval.chunking import sentence_spans
from retrieval.embedding import Embedder, SentenceTransformerEmbedder, Vectors
from retrieval.key_sentences import key_sentences

DATASET = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "bbc_news_summary"
# Reference summaries glue their sentences together, often without a space after the stop.
_REFERENCE_BOUNDARY = re.compile(r"(?<=[.!?])(?=[A-Z\"'])")
_METRICS = ("rouge1", "rouge2", "rougeL")
Scores = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Item:
    name: str
    body: str
    sentences: list[str]
    reference: str
    reference_sentences: int


def read_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # one sport article is Latin-1 (its "£" is byte 0xA3)


def load_items(root: Path, limit: int) -> list[Item]:
    items = []
    for path in sorted((root / "articles").glob("*/*.txt")):
        relative = path.relative_to(root / "articles")
        _headline, _, body = read_text(path).partition("\n")
        body = body.strip()
        summary = [
            s.strip()
            for s in _REFERENCE_BOUNDARY.split(read_text(root / "summaries" / relative))
            if s.strip()
        ]
        sentences = [body[s.start : s.end] for s in sentence_spans(body)]
        items.append(Item(str(relative), body, sentences, " ".join(summary), len(summary)))
        if limit and len(items) == limit:
            break
    return items


class CachedEmbedder:
    """Wraps an embedder so each distinct sentence is encoded once per run."""

    def __init__(self, inner: Embedder) -> None:
        self.name = inner.name
        self.dim = inner.dim
        self.words = inner.words
        self._inner = inner
        self._cache: dict[str, Vectors] = {}

    def warm(self, texts: Sequence[str], *, batch: int = 2048) -> None:
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        for start in range(0, len(missing), batch):
            chunk = missing[start : start + batch]
            self._cache.update(zip(chunk, self._inner.embed(chunk), strict=True))
            print(f"  embedded {start + len(chunk)}/{len(missing)}", file=sys.stderr)

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.warm(texts)
        return np.array([self._cache[t] for t in texts], dtype=np.float32).reshape(-1, self.dim)


# A selector returns the indexes of the k sentences it picks from an item's sentences.
Selector = Callable[[Item, int], list[int]]


def lead(item: Item, k: int) -> list[int]:
    return list(range(min(k, len(item.sentences))))


def pagerank(weights: Scores, *, damping: float = 0.85, tol: float = 1e-8) -> Scores:
    """Power iteration; a sentence similar to no other spreads its rank uniformly."""
    n = len(weights)
    out = weights.sum(axis=1, keepdims=True)
    transition = np.where(out > 0, weights / np.where(out == 0, 1, out), 1.0 / n)
    rank: Scores = np.full(n, 1.0 / n)
    for _ in range(200):
        updated: Scores = (1 - damping) / n + damping * transition.T @ rank
        if np.abs(updated - rank).sum() < tol:
            return updated
        rank = updated
    return rank


def textrank(item: Item, k: int) -> list[int]:
    """TextRank (Mihalcea & Tarau 2004) with TF-IDF cosine edges, as in most implementations."""
    if len(item.sentences) <= k:
        return list(range(len(item.sentences)))
    try:
        tfidf = TfidfVectorizer(stop_words="english").fit_transform(item.sentences)
    except ValueError:  # nothing but stop words
        return lead(item, k)
    similarity = (tfidf @ tfidf.T).toarray()
    np.fill_diagonal(similarity, 0.0)
    rank = pagerank(similarity)
    return sorted(np.argsort(-rank, kind="stable")[:k].tolist())


def briefbot(embedder: Embedder) -> Selector:
    def select(item: Item, k: int) -> list[int]:
        chosen = key_sentences([item.body], k=k, embedder=embedder)
        starts = {s.start: i for i, s in enumerate(sentence_spans(item.body))}
        return sorted(starts[c.start] for c in chosen)

    return select


def evaluate(
    items: Sequence[Item], select: Selector, budget: Callable[[Item], int]
) -> tuple[dict[str, float], float]:
    scorer = rouge_scorer.RougeScorer(list(_METRICS), use_stemmer=True)
    totals = dict.fromkeys(_METRICS, 0.0)
    seconds = 0.0
    for item in items:
        started = time.perf_counter()
        chosen = select(item, budget(item))
        seconds += time.perf_counter() - started
        candidate = " ".join(item.sentences[i] for i in chosen)
        for metric, score in scorer.score(item.reference, candidate).items():
            totals[metric] += score.fmeasure
    return {m: total / len(items) for m, total in totals.items()}, seconds


def story_latency(items: Sequence[Item], embedder: Embedder, *, stories: int = 20) -> list[float]:
    """Milliseconds for a 5-article story, embedding included (no cache), as a briefing runs.

    Five consecutive articles stand in for a story: the cost depends on how many sentences there
    are, not on what they say.
    """
    times = []
    for start in range(0, 5 * stories, 5):
        texts = [item.body for item in items[start : start + 5]]
        if len(texts) < 5:
            break
        began = time.perf_counter()
        key_sentences(texts, k=3, embedder=embedder)
        times.append((time.perf_counter() - began) * 1000)
    return times


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=DATASET)
    parser.add_argument("--limit", type=int, default=0, help="evaluate only the first N articles")
    args = parser.parse_args(argv)

    run_started = time.perf_counter()
    items = load_items(args.dataset, args.limit)
    sentences = [s for item in items for s in item.sentences]
    print(
        f"{len(items)} articles, {len(sentences)} sentences,"
        f" reference length mean {statistics.mean(i.reference_sentences for i in items):.1f}"
        " sentences"
    )
    model = SentenceTransformerEmbedder(DEFAULT_MODEL)
    model.embed(["warm-up"])
    embedder = CachedEmbedder(model)
    started = time.perf_counter()
    embedder.warm(sentences)
    embedding_seconds = time.perf_counter() - started

    selectors: list[tuple[str, Selector]] = [
        ("Lead-k", lead),
        ("TF-IDF TextRank", textrank),
        ("briefbot key_sentences", briefbot(embedder)),
    ]
    budgets: list[tuple[str, Callable[[Item], int]]] = [
        ("k = reference", lambda item: item.reference_sentences),
        ("k = 3", lambda item: 3),
    ]
    print(f"\n{'selector':<24} {'budget':<14} {'R1':>6} {'R2':>6} {'RL':>6} {'time s':>7}")
    for budget_name, budget in budgets:
        for name, select in selectors:
            scores, seconds = evaluate(items, select, budget)
            print(
                f"{name:<24} {budget_name:<14} {scores['rouge1']:6.3f} {scores['rouge2']:6.3f}"
                f" {scores['rougeL']:6.3f} {seconds:7.1f}"
            )
    print(
        f"(ROUGE F1, stemmed. Time is selection only; embedding the {len(set(sentences))} distinct"
        " sentences"
        f" once took {embedding_seconds:.0f} s and is shared by both budgets.)"
    )
    latencies = story_latency(items, model)
    if latencies:
        print(
            f"briefbot on a 5-article story, embedding included: median"
            f" {statistics.median(latencies):.0f} ms, max {max(latencies):.0f} ms"
            f" over {len(latencies)} stories"
        )
    print(f"whole run: {time.perf_counter() - run_started:.0f} s")


if __name__ == "__main__":
    main()
