"""Thread policy benchmark: how many CPU threads torch and FAISS should use, for serving and for
bulk ingest (``BRIEFBOT_EMBEDDING__THREADS``).

In one run, with the thread counts interleaved round by round (so background load hits each
alike), it times

1. embedding one question at a time (what every chat question costs), p50 / p95;
2. a whole answer, ``AskService.ask``, on a data directory (``--data-dir``; the bundled sample
   corpus is indexed into a temporary one when omitted), p50 / p95;
3. embedding passages in batches (what ingest costs), passages/s.

It prints the machine's CPUs and load average with the figures. Nothing is asserted.

Run from the repository root:

    .venv/bin/python benchmarks/threads_bench.py [--threads 1 2] [--rounds 5] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bot.settings import load_settings
from bot.wiring import Briefbot, use_threads
from corpus.samples import SAMPLES_DIR

QUESTIONS = [
    "What did Kim Jong Un inspect in Russia?",
    "How many people died in the London bombings?",
    "Who won the election in Germany?",
    "What damage did Hurricane Dennis do?",
    "Why did the IRA end its armed campaign?",
    "What happened to the space shuttle Discovery?",
    "Which country hosted the G8 summit?",
    "What did the central bank decide about interest rates?",
]


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, os.cpu_count() or 1])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--passages", type=int, default=256, help="passages per bulk round")
    parser.add_argument("--data-dir", type=Path)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as scratch:
        data_dir = args.data_dir or Path(scratch)
        settings = load_settings(_env_file=None, data_dir=data_dir, load_samples=False)
        # One bot per thread count: the onnx backend fixes its threads when its session opens.
        bots = {
            n: Briefbot(
                settings.model_copy(
                    update={"embedding": settings.embedding.model_copy(update={"threads": n})}
                )
            )
            for n in args.threads
        }
        first = bots[args.threads[0]]
        if not first.store.count_articles():
            first.ingest_service.ingest_paths([SAMPLES_DIR])
        texts = [p.text for batch in first.store.iter_passages() for p in batch][: args.passages]
        for bot in bots.values():
            bot.ask_service.ask(QUESTIONS[0])  # warm: model, indexes, caches

        embed: dict[int, list[float]] = {n: [] for n in args.threads}
        answer: dict[int, list[float]] = {n: [] for n in args.threads}
        bulk: dict[int, list[float]] = {n: [] for n in args.threads}
        for _ in range(args.rounds):
            for n in args.threads:
                use_threads(n, backend=settings.embedding.backend)
                for question in QUESTIONS:
                    embed[n].append(timed(lambda q=question, b=bots[n]: b.embedder.embed([q])))  # type: ignore[misc]
                    answer[n].append(timed(lambda q=question, b=bots[n]: b.ask_service.ask(q)))  # type: ignore[misc]
                bulk[n].append(len(texts) / timed(lambda b=bots[n]: b.embedder.embed(texts)))  # type: ignore[misc]

    print(
        f"CPUs: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f};"
        f" {args.rounds} rounds x {len(QUESTIONS)} questions, {len(texts)} passages per bulk round"
    )
    print("threads | embed question p50 / p95 ms | ask p50 / p95 ms | bulk passages/s (median)")
    for n in args.threads:
        print(
            f"{n:>7} | {1000 * statistics.median(embed[n]):>8.1f} /"
            f" {1000 * percentile(embed[n], 0.95):>7.1f}"
            f"        | {1000 * statistics.median(answer[n]):>6.1f} /"
            f" {1000 * percentile(answer[n], 0.95):>6.1f}"
            f" | {statistics.median(bulk[n]):>8.1f}"
        )


if __name__ == "__main__":
    main()
