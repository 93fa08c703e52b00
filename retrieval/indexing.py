"""Indexing: store new articles, cut them into passages and add those to both indexes."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from corpus.model import Article
from corpus.store import ArticleStore
from retrieval.chunking import chunk_spans
from retrieval.embedding import Embedder, Vectors, article_vectors
from retrieval.lexical import LexicalIndex
from retrieval.vector_index import VectorIndex

log = logging.getLogger(__name__)


class Progress(Protocol):
    """Where long work reports how far it got (a terminal bar, a chat message, nothing)."""

    def start(self, total: int, description: str) -> None: ...
    def advance(self, amount: int = 1) -> None: ...


# Passages read per batch when embedding what the store lacks.
_REPAIR_BATCH = 256


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


@dataclass(frozen=True)
class _Candidate:
    article: Article
    spans: list[tuple[int, int]]


class Indexer:
    def __init__(
        self,
        store: ArticleStore,
        *,
        embedder: Embedder,
        vectors: VectorIndex,
        lexical: LexicalIndex,
        chunk_words: int,
        near_duplicate: float,
        commit_every: int,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.vectors = vectors
        self.lexical = lexical
        self.chunk_words = chunk_words
        self.near_duplicate = near_duplicate
        # Embedding is the slow step. sentence-transformers sorts texts by length only within
        # one encode call, so larger groups waste less work on padding; but a group commits only
        # once embedded, so an interrupted ingest loses at most one group's embedding work.
        self.commit_every = commit_every
        # One writer at a time: two chats adding the same article at once must not both store it.
        self._writing = threading.Lock()

    def add(
        self, articles: Sequence[Article], *, progress: Progress | None = None
    ) -> list[Indexed]:
        """Store and index articles incrementally; duplicates are reported, never stored twice.

        An exact duplicate shares a canonical URL or content hash with a stored article; a near
        duplicate (the same story republished with trivial edits) has an article embedding, the
        mean of its passage vectors, at least ``near_duplicate`` cosine-similar to a stored one.
        Each article commits with its passages, vectors and keyword entries in one transaction,
        so an interrupted ingest keeps everything committed before it stopped.
        """
        with self._writing:
            outcomes = self._add(articles, progress)
        if any(o.passages for o in outcomes):
            self.vectors.checkpoint()
        return outcomes

    def remove(self, article: Article) -> None:
        """Delete a stored article with its passages, vectors and keyword entries, in one
        transaction: no index can be left answering with a passage the store no longer has."""
        if article.id is None:
            raise ValueError("only a stored article can be removed")
        with self._writing:
            with self.store.adding_articles():
                ids = self.store.passage_ids_of([article.id]).get(article.id, [])
                if ids:
                    self.lexical.remove(ids)
                self.store.remove(article.id)
            self.vectors.refresh(force=True)  # drops the vectors of passages no longer stored
        self.vectors.checkpoint()

    def _add(self, articles: Sequence[Article], progress: Progress | None) -> list[Indexed]:
        if progress:
            progress.start(len(articles), "Indexing articles")
        outcomes: list[Indexed] = []
        group: list[_Candidate | Indexed] = []
        pending = 0
        for article in articles:
            duplicate = self.store.find_duplicate(article)
            if duplicate is not None:
                group.append(Indexed(article, duplicate_of=duplicate))
                continue
            chunks = chunk_spans(article.text, max_words=self.chunk_words)
            group.append(_Candidate(article, [(c.start, c.end) for c in chunks]))
            pending += len(chunks)
            if pending >= self.commit_every:
                outcomes.extend(self._add_group(group, progress))
                group, pending = [], 0
        outcomes.extend(self._add_group(group, progress))
        return outcomes

    def _add_group(
        self, group: list[_Candidate | Indexed], progress: Progress | None
    ) -> list[Indexed]:
        """Embed a group in one call, then store its articles one by one.

        One at a time, so that a near duplicate inside the same group is caught by the copy
        stored just before it.
        """
        candidates = [item for item in group if isinstance(item, _Candidate)]
        texts = [
            embedding_text(c.article.title, c.article.text[start:end])
            for c in candidates
            for start, end in c.spans
        ]
        vectors = self.embedder.embed(texts)
        per_article = iter(np.split(vectors, np.cumsum([len(c.spans) for c in candidates])[:-1]))
        outcomes = []
        for item in group:
            outcome = item if isinstance(item, Indexed) else self._store(item, next(per_article))
            outcomes.append(outcome)
            if progress:
                progress.advance()
        return outcomes

    def _store(self, candidate: _Candidate, vectors: Vectors) -> Indexed:
        # Article writes are serialised across processes (SQLite's write lock, a PostgreSQL
        # advisory lock), so the duplicate checks see every article committed by anyone, and
        # nobody can commit the same one meanwhile.
        with self.store.adding_articles():
            self.vectors.refresh()
            duplicate = self.store.find_duplicate(candidate.article) or self._near_duplicate(
                vectors
            )
            if duplicate is not None:
                return Indexed(candidate.article, duplicate_of=duplicate)
            stored, passages = self.store.add(candidate.article, candidate.spans)
            ids = [p.id for p in passages]
            self.store.put_vectors(self.vectors.model_id, ids, vectors)
            self.lexical.add([(p.id, stored.title, p.text) for p in passages])
        self.vectors.add(ids, vectors)
        return Indexed(stored, passages=len(passages))

    def _near_duplicate(self, vectors: Vectors) -> Article | None:
        """A stored article whose article embedding is almost the same as this one's."""
        if not len(vectors) or not len(self.vectors):
            return None
        direction = article_vectors([vectors])[0]
        hits = self.vectors.search(direction, 8)
        passages = self.store.passages(pid for pid, score in hits if score >= 0.5)
        article_ids = {p.article_id for p in passages.values()}
        for article_id, ids in self.store.passage_ids_of(article_ids).items():
            other = article_vectors([self.vectors.vectors(ids)])[0]
            if float(other @ direction) >= self.near_duplicate:
                return self.store.articles([article_id])[article_id]
        return None

    def unembedded(self) -> int:
        """Stored passages without a vector of the current model."""
        return self.store.count_without_vectors(self.vectors.model_id)

    def is_consistent(self) -> bool:
        """Every passage has a vector of this model and a keyword-index entry."""
        return self.unembedded() == 0 and self.lexical.missing() == 0

    def repair(self, *, progress: Progress | None = None) -> int:
        """Bring the derived data in line with the store; returns how many passages it embedded.

        Only passages that have no vector of the current model are embedded (after a model
        change, or in a store from before vectors were kept): committed work is never redone,
        and an interrupted repair resumes where it stopped. The keyword index is rebuilt from
        the store when it disagrees with it.
        """
        with self._writing:
            if self.lexical.missing():
                log.info("rebuilding the keyword index from the article store")
                self.lexical.rebuild()
            embedded = self._embed_missing(progress)
            self.vectors.refresh(force=True)
        self.vectors.checkpoint(force=True)
        return embedded

    def _embed_missing(self, progress: Progress | None) -> int:
        total = self.unembedded()
        if not total:
            return 0
        log.info("embedding %d passages that have no vector yet", total)
        if progress:
            progress.start(total, "Embedding passages")
        done = 0
        while batch := self.store.passages_without_vectors(
            self.vectors.model_id, batch_size=_REPAIR_BATCH
        ):
            titles = self.store.articles(p.article_id for p in batch)
            vectors = self.embedder.embed(
                [embedding_text(titles[p.article_id].title, p.text) for p in batch]
            )
            self.store.put_vectors(self.vectors.model_id, [p.id for p in batch], vectors)
            done += len(batch)
            if progress:
                progress.advance(len(batch))
        return done
