"""Retrieval evaluation on RealTime QA: BM25, dense MiniLM + FAISS, and briefbot, side by side.

Corpus: every unique gold evidence passage (HTML stripped, entities unescaped), ingested as an
article dated with its (earliest) question's date. Query: the question sentence. Gold: the
question's own passage. Two modes: content-only (no reference time) and as-of (``now`` = the
question's date, so time expressions, future exclusion and the recency prior are exercised).
``--split dev`` takes questions dated before 2024 (tune only on these); ``--split holdout``,
the rest.

    .venv/bin/python benchmarks/retrieval_eval.py --split dev
"""

from __future__ import annotations

import argparse
import copy
import html
import json
import re
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from datetime import time as dtime
from pathlib import Path

import bm25s
import faiss
import numpy as np

from bot.migration import migrate
from bot.services.ask import AskService
from bot.settings import load_settings
from bot.wiring import Briefbot
from corpus.model import Article, normalise_text

DATASET = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "realtimeqa"
_TAG = re.compile(r"<[^>]+>")
URL = "https://realtimeqa.invalid/passage/{}"


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    day: date
    gold: str  # normalised evidence passage


def clean(text: str) -> str:
    return normalise_text(html.unescape(_TAG.sub("", html.unescape(text))))


def load_questions(root: Path) -> list[Question]:
    seen: dict[str, Question] = {}
    for path in sorted(root.glob("*/*/*_qa.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            evidence = clean(row.get("evidence") or "")
            if not evidence or row["question_id"] in seen:
                continue
            day = date.fromisoformat(row["question_date"].replace("/", "-"))
            seen[row["question_id"]] = Question(
                row["question_id"], clean(row["question_sentence"]), day, evidence
            )
    return sorted(seen.values(), key=lambda q: (q.day, q.id))


def corpus(questions: Sequence[Question]) -> dict[str, date]:
    """Every unique gold evidence passage, dated by the first question that cites it."""
    passages: dict[str, date] = {}
    for q in questions:
        passages.setdefault(q.gold, q.day)
    return passages


def corpus_articles(passages: dict[str, date]) -> list[tuple[str, Article]]:
    """The corpus as articles of one passage each, published at noon on their day; the origin
    of passage ``i`` is ``str(i)`` and its URL ``URL.format(i)``."""
    return [
        (
            str(i),
            Article(
                title="",
                text=text,
                url=URL.format(i),
                source="RealTime QA",
                published_at=datetime.combine(day, dtime(12), tzinfo=UTC),
            ),
        )
        for i, (text, day) in enumerate(passages.items())
    ]


def end_of_day(day: date) -> datetime:
    return datetime.combine(day, dtime(23, 59, 59), tzinfo=UTC)


Ranker = Callable[[Question], list[int]]


def metrics(questions: Sequence[Question], gold: dict[str, int], rank: Ranker) -> dict[str, float]:
    ranks = []
    for question in questions:
        ranked = rank(question)[:10]
        target = gold[question.gold]
        ranks.append(ranked.index(target) + 1 if target in ranked else None)
    n = len(ranks)
    return {
        "R@1": sum(r is not None and r <= 1 for r in ranks) / n,
        "R@5": sum(r is not None and r <= 5 for r in ranks) / n,
        "R@10": sum(r is not None for r in ranks) / n,
        "MRR@10": sum(1 / r for r in ranks if r is not None) / n,
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=["dev", "holdout", "all"], default="dev")
    parser.add_argument("--dataset", type=Path, default=DATASET)
    parser.add_argument("--limit", type=int, default=0, help="evaluate only the first N questions")
    parser.add_argument("--latency-sample", type=int, default=300, help="questions timed")
    parser.add_argument(
        "--data-dir", type=Path, help="keep the ingested corpus here and reuse it on later runs"
    )
    parser.add_argument(
        "--database-url",
        help="also rank on this PostgreSQL database (the corpus copied there, not re-embedded)",
    )
    args = parser.parse_args(argv)

    everything = load_questions(args.dataset)
    cutoff = date(2024, 1, 1)
    questions = [
        q for q in everything if args.split == "all" or (q.day < cutoff) == (args.split == "dev")
    ]
    if args.limit:
        questions = questions[: args.limit]
    # The corpus is every unique passage of the whole dataset, dated by its first question.
    passages = corpus(everything)
    print(f"{len(questions)} questions ({args.split}), corpus of {len(passages)} passages")

    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(data_dir=args.data_dir or Path(tmp), retrieval={"min_score": -1.0})
        bot = Briefbot(settings)
        bot.prepare()
        started = time.perf_counter()
        report = bot.ingest_service.ingest_articles(corpus_articles(passages))
        print(
            f"ingested {len(report.added)} passages ({len(report.duplicates)} already stored)"
            f" in {time.perf_counter() - started:.0f} s"
        )
        url_to_id = {a.url: a.id for a in report.added if a.id is not None}
        # A passage that is a (near-)duplicate of another is answered by the one stored.
        url_to_id.update({URL.format(d.origin): d.of.id for d in report.duplicates if d.of.id})
        gold = {text: url_to_id[URL.format(i)] for i, text in enumerate(passages)}
        ids = np.array(sorted(set(url_to_id.values())), dtype=np.int64)
        texts = bot.store.articles(ids.tolist())

        # Baseline 1: BM25 as a user would set it up with bm25s (English stop words, k1=1.5).
        bm25 = bm25s.BM25()
        bm25.index(
            bm25s.tokenize([texts[int(i)].text for i in ids], stopwords="en", show_progress=False),
            show_progress=False,
        )
        bm25_found, _ = bm25.retrieve(
            bm25s.tokenize([q.text for q in questions], stopwords="en", show_progress=False),
            k=10,
            show_progress=False,
        )
        bm25_ranked = {
            q.id: [int(ids[j]) for j in row] for q, row in zip(questions, bm25_found, strict=True)
        }

        def rank_bm25(q: Question) -> list[int]:
            return bm25_ranked[q.id]

        # Baseline 2: dense MiniLM + FAISS flat. Each article is one passage with no title, so
        # briefbot's stored vectors are exactly a bare encode of the passage text.
        passage_ids = [p.id for batch in bot.store.iter_passages() for p in batch]
        passages_by_id = bot.store.passages(passage_ids)
        flat = faiss.IndexIDMap(faiss.IndexFlatIP(bot.embedder.dim))
        flat.add_with_ids(
            bot.vectors.vectors(passage_ids),
            np.array([passages_by_id[p].article_id for p in passage_ids], dtype=np.int64),
        )

        _, dense_found = flat.search(bot.embedder.embed([q.text for q in questions]), 10)
        dense_ranked = {
            q.id: [int(i) for i in row if i != -1]
            for q, row in zip(questions, dense_found, strict=True)
        }

        def rank_dense(q: Question) -> list[int]:
            return dense_ranked[q.id]

        def briefbot_ranker(service: AskService, *, as_of: bool) -> Ranker:
            def rank(q: Question) -> list[int]:
                found = service.retrieve(q.text, now=end_of_day(q.day) if as_of else None, k=10)
                return [e.article.id or 0 for e in found.evidence]

            return rank

        # The product's answer path with every article counting as current.
        services = {"briefbot": bot.ask_service}
        if args.database_url:
            services["briefbot on PostgreSQL"] = migrate(bot, args.database_url)[0].ask_service
        # Latency of the whole answer path, as a person asking would see it.
        latencies = []
        for q in questions[:: max(1, len(questions) // args.latency_sample)]:
            started = time.perf_counter()
            bot.ask_service.ask(q.text, now=end_of_day(q.day))
            latencies.append((time.perf_counter() - started) * 1000)
        latencies.sort()
        rows = [
            ("BM25", "content-only", metrics(questions, gold, rank_bm25)),
            ("dense MiniLM + FAISS", "content-only", metrics(questions, gold, rank_dense)),
        ]
        for name, service in services.items():
            content_only = copy.copy(service)
            content_only.time_aware = False
            rows += [
                (
                    name,
                    "content-only",
                    metrics(questions, gold, briefbot_ranker(content_only, as_of=False)),
                ),
                (name, "as-of", metrics(questions, gold, briefbot_ranker(service, as_of=True))),
            ]
    print(f"\n{'system':<22} {'mode':<13} {'R@1':>6} {'R@5':>6} {'R@10':>6} {'MRR@10':>7}")
    for system, mode, m in rows:
        print(
            f"{system:<22} {mode:<13} {m['R@1']:6.3f} {m['R@5']:6.3f} {m['R@10']:6.3f}"
            f" {m['MRR@10']:7.3f}"
        )
    print("(BM25 and dense have no notion of time: their as-of figures equal content-only.)")
    print(
        f"\nbriefbot answer latency over {len(latencies)} questions (embedding + both indexes +"
        f" fusion + highlighting, {bot.settings.retrieval.top_k} quotes):"
        f" median {statistics.median(latencies):.1f} ms,"
        f" p95 {latencies[int(0.95 * (len(latencies) - 1))]:.1f} ms"
    )


if __name__ == "__main__":
    main()
