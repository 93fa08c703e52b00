"""Ingest throughput benchmark: full briefbot ingest against a bare sentence-transformers encode.

In one run it

1. ingests ``--limit`` BBC News Summary articles through the real code path
   (``Briefbot.ingest_service.ingest_articles``: chunking, SQLite, embedding, FAISS, FTS5, save),
   with the model loaded and warmed up before the timer starts;
2. reads back the exact texts that were embedded and times a bare ``SentenceTransformer.encode``
   of them with the same batch size;
3. prints articles/s, passages/s and tokens/s for both, the ratio of the passage rates against
   the target, and the peak RSS of the process.

Tokens are word pieces as counted by the model's tokenizer (special tokens included), capped at
the model's ``max_seq_length``. Nothing is asserted; the script only prints figures.

Run from the repository root:

    .venv/bin/python benchmarks/ingest_bench.py [--limit 1000] [--dataset DIR] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bot.settings import load_settings
from bot.wiring import Briefbot
from corpus.model import Article
from retrieval.embedding import SentenceTransformerEmbedder
from retrieval.indexing import embedding_text

DEFAULT_DATASET = (
    Path(__file__).resolve().parents[2] / "shared" / "datasets" / "bbc_news_summary" / "articles"
)
TARGET_RATIO = 0.90


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


def run(dataset: Path, data_dir: Path, limit: int) -> None:
    items = load_articles(dataset, limit)
    if not items:
        sys.exit(f"no articles found under {dataset}")
    bot = Briefbot(load_settings(data_dir=data_dir))
    if bot.store.count_articles():
        sys.exit(f"{data_dir} already holds articles; use an empty --data-dir")
    embedder = bot.embedder  # loads the model before any timer starts
    if not isinstance(embedder, SentenceTransformerEmbedder):
        sys.exit("this benchmark needs the sentence-transformers embedder")
    embedder.embed(["warm up"])
    batch_size = bot.settings.embedding.batch_size

    start = time.perf_counter()
    report = bot.ingest_service.ingest_articles(items)
    ingest_s = time.perf_counter() - start

    texts = embedded_texts(bot)
    start = time.perf_counter()
    embedder._model.encode(
        texts,
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    encode_s = time.perf_counter() - start

    tokens = count_tokens(embedder, texts)
    passages = len(texts)
    ratio = (passages / ingest_s) / (passages / encode_s)
    verdict = "PASS" if ratio >= TARGET_RATIO else "MISS"
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"briefbot ingest benchmark: {len(items)} articles from {dataset}")
    print(f"model {embedder.name} (max {embedder.max_tokens} tokens), batch size {batch_size}")
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
        f"ingest ÷ bare encode (passages/s): {ratio:.3f}  target >= {TARGET_RATIO:.2f}  {verdict}"
    )
    print(f"peak RSS: {peak_mb:.1f} MB")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--limit", type=int, default=1000, help="articles to ingest (1000)")
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET, help="articles folder")
    parser.add_argument("--data-dir", type=Path, help="empty data dir (default: temp, deleted)")
    args = parser.parse_args(argv)
    if args.data_dir is not None:
        run(args.dataset, args.data_dir, args.limit)
        return
    data_dir = Path(tempfile.mkdtemp(prefix="briefbot-bench-"))
    try:
        run(args.dataset, data_dir, args.limit)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
