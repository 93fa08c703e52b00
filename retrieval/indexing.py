"""Indexing: store new articles, cut them into passages and add those to both indexes."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from corpus.model import Article
from corpus.store import ArticleStore, Passage
from retrieval.chunking import chunk_spans
from retrieval.embedding import Embedder
from retrieval.lexical import LexicalIndex
from retrieval.vector_index import VectorIndex

log = logging.getLogger(__name__)


class Progress(Protocol):
    """Where long work reports how far it got (a terminal bar, a chat message, nothing)."""

    def start(self, total: int, description: str) -> None: ...
    def advance(self, amount: int = 1) -> None: ...


# Embedding is the slow step. sentence-transformers sorts texts by length only within one encode
# call, so large groups (a multiple of every usual batch size) waste the least work on padding.
_GROUP_PASSAGES = 1024


@dataclass(frozen=True)
class Indexed:
    """What became of one article: stored with ``passages`` passages, or a duplicate."""

    article: Article
    passages: int = 0
    duplicate_of: Article | None = None


def embedding_text(title: str, passage: str) -> str:
    """The passage as the model sees it: the article title as context, unless it leads anyway."""
    if not title or passage.startswith(title):
        return passage
    return f"{title}\n{passage}"


class Indexer:
    def __init__(
        self,
        store: ArticleStore,
        *,
        embedder: Embedder,
        vectors: VectorIndex,
        lexical: LexicalIndex,
        chunk_words: int,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.vectors = vectors
        self.lexical = lexical
        self.chunk_words = chunk_words

    def add(
        self, articles: Sequence[Article], *, progress: Progress | None = None
    ) -> list[Indexed]:
        """Store and index articles incrementally; duplicates are reported, never stored twice."""
        if progress:
            progress.start(len(articles), "Indexing articles")
        outcomes: list[Indexed] = []
        pending: list[tuple[str, Passage]] = []
        for article in articles:
            duplicate = self.store.find_duplicate(article)
            if duplicate is not None:
                outcomes.append(Indexed(article, duplicate_of=duplicate))
            else:
                spans = [
                    (s.start, s.end) for s in chunk_spans(article.text, max_words=self.chunk_words)
                ]
                stored, passages = self.store.add(article, spans)
                outcomes.append(Indexed(stored, passages=len(passages)))
                pending.extend((stored.title, p) for p in passages)
                if len(pending) >= _GROUP_PASSAGES:
                    self._index(pending[:_GROUP_PASSAGES])
                    pending = pending[_GROUP_PASSAGES:]
            if progress:
                progress.advance()
        self._index(pending)
        if any(o.passages for o in outcomes):
            self.vectors.save()
        return outcomes

    def _index(self, items: Sequence[tuple[str, Passage]]) -> None:
        if not items:
            return
        vectors = self.embedder.embed([embedding_text(title, p.text) for title, p in items])
        self.vectors.add([p.id for _, p in items], vectors)
        self.lexical.add([(p.id, title, p.text) for title, p in items])

    def is_consistent(self) -> bool:
        expected = self.store.count_passages()
        return len(self.vectors) == expected and len(self.lexical) == expected

    def rebuild(self, *, progress: Progress | None = None) -> None:
        """Re-create both indexes from the store, the source of truth."""
        log.info("rebuilding the search indexes from the article store")
        self.vectors.reset()
        self.lexical.reset()
        if progress:
            progress.start(self.store.count_passages(), "Rebuilding the search index")
        for batch in self.store.iter_passages(batch_size=_GROUP_PASSAGES):
            titles = self.store.articles(p.article_id for p in batch)
            self._index([(titles[p.article_id].title, p) for p in batch])
            if progress:
                progress.advance(len(batch))
        self.vectors.save()
