"""Embedding backends side by side: sentence-transformers on PyTorch against the same model
exported to ONNX with int8 weights (``BRIEFBOT_EMBEDDING__BACKEND``), on the same texts, in
the same run, interleaved round by round so that other work on the machine slows both alike.

Texts are the passages of the bundled sample corpus (~160 words each) and the Wikinews
development questions. For each backend it prints: a question's embedding time (p50 / p95, one
thread, as a serving bot runs); bulk passages per second on one thread and on every core (as
``briefbot ingest`` runs); and, for ONNX, the export's time (into an empty directory) and the
cosine of its vectors to PyTorch's (mean and worst, passages and questions), and whether each
question's nearest passage is the same. Nothing is asserted.

    .venv/bin/python benchmarks/embedding_bench.py [--rounds 3] [--passages 256]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import numpy as np

from bot.settings import DEFAULT_MODEL
from bot.wiring import use_threads
from corpus.loaders import load_paths
from corpus.samples import SAMPLES_DIR
from retrieval.chunking import chunk_spans
from retrieval.embedding import Embedder, SentenceTransformerEmbedder
from retrieval.onnx_embedding import OnnxEmbedder

QUESTIONS = Path(__file__).resolve().parents[2] / "shared/datasets/wikinews/questions_dev.jsonl"


def seconds(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[int(share * (len(ordered) - 1))]


def passages(limit: int) -> list[str]:
    """The sample corpus cut as briefbot cuts it."""
    texts: list[str] = []
    for _, article in load_paths([SAMPLES_DIR], max_bytes=2**24).articles:
        texts += [article.text[s.start : s.end] for s in chunk_spans(article.text)]
    return texts[:limit]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--passages", type=int, default=256, help="passages per bulk round")
    args = parser.parse_args(argv)
    cores = os.cpu_count() or 1
    texts = passages(args.passages)
    questions = [json.loads(line)["question"] for line in QUESTIONS.open(encoding="utf-8")][:60]

    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        OnnxEmbedder(DEFAULT_MODEL, cache=Path(scratch))
        exported = time.perf_counter() - started
        started = time.perf_counter()
        OnnxEmbedder(DEFAULT_MODEL, cache=Path(scratch))
        loaded = time.perf_counter() - started
        backends: dict[str, dict[int, Embedder]] = {
            "torch": {n: SentenceTransformerEmbedder(DEFAULT_MODEL) for n in (1, cores)},
            "onnx int8": {
                n: OnnxEmbedder(DEFAULT_MODEL, cache=Path(scratch), threads=n) for n in (1, cores)
            },
        }
        asked: dict[str, list[float]] = {name: [] for name in backends}
        bulk: dict[tuple[str, int], list[float]] = {
            (name, n): [] for name in backends for n in (1, cores)
        }
        for _ in range(args.rounds):
            for name, by_threads in backends.items():
                for n, embedder in by_threads.items():
                    use_threads(n, backend="torch")  # torch's threads; ONNX's are its session's
                    if n == 1:
                        asked[name] += [seconds(partial(embedder.embed, [q])) for q in questions]
                    bulk[(name, n)].append(len(texts) / seconds(partial(embedder.embed, texts)))
        ours, theirs = backends["onnx int8"][1], backends["torch"][1]
        pv, tv = ours.embed(texts), theirs.embed(texts)
        qv, tq = ours.embed(questions), theirs.embed(questions)

    print(
        f"CPUs: {cores}, load average {os.getloadavg()[0]:.1f}; {args.rounds} rounds,"
        f" {len(questions)} questions, {len(texts)} passages per bulk round"
    )
    print(f"{'backend':<10} | question p50 / p95 ms | bulk passages/s, 1 thread | {cores} threads")
    for name in backends:
        print(
            f"{name:<10} | {1000 * statistics.median(asked[name]):>8.1f} /"
            f" {1000 * percentile(asked[name], 0.95):>6.1f}"
            f"      | {statistics.median(bulk[(name, 1)]):>10.1f}"
            f"                | {statistics.median(bulk[(name, cores)]):>6.1f}"
        )
    cos_p, cos_q = (pv * tv).sum(axis=1), (qv * tq).sum(axis=1)
    same = np.mean(np.argmax(qv @ pv.T, axis=1) == np.argmax(tq @ tv.T, axis=1))
    print(
        f"ONNX export {exported:.1f} s (once; then loaded in {loaded:.2f} s);"
        f" cosine to torch: passages mean {cos_p.mean():.4f} min {cos_p.min():.4f},"
        f" questions mean {cos_q.mean():.4f} min {cos_q.min():.4f};"
        f" same nearest passage for {same:.0%} of questions"
    )


if __name__ == "__main__":
    main()
