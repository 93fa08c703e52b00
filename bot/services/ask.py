"""The ask service: a question in, an answer of verbatim quoted passages out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from retrieval.embedding import Embedder
from retrieval.highlight import highlight
from retrieval.search import Hit, Searcher


class QuestionError(ValueError):
    """A question that cannot be asked; the message is shown to the person as it is."""


@dataclass(frozen=True, kw_only=True)
class Quote:
    """One verbatim passage; ``highlights`` are (start, end) offsets of its answering sentences."""

    text: str
    highlights: tuple[tuple[int, int], ...]
    title: str
    source: str | None
    url: str | None
    published_at: datetime | None
    score: float
    article_id: int
    passage_id: int

    @property
    def highlight(self) -> str:
        return " ".join(self.text[start:end] for start, end in self.highlights)

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "title": self.title,
            "source": self.source,
            "published_at": self.published_at.isoformat() if self.published_at else None,
            "text": self.text,
            "highlight": self.highlight,
            "highlights": [list(span) for span in self.highlights],
            "score": round(self.score, 4),
            "article_id": self.article_id,
        }


@dataclass(frozen=True, kw_only=True)
class Answer:
    question: str
    quotes: list[Quote] = field(default_factory=list)
    note: str | None = None

    @property
    def found(self) -> bool:
        return bool(self.quotes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "found": self.found,
            "note": self.note,
            "quotes": [quote.to_dict() for quote in self.quotes],
        }


NOTHING_FOUND = "I couldn't find anything relevant to that in the articles I have."


def validate_question(question: str, *, max_chars: int) -> str:
    """The question with whitespace tidied, or a polite error for empty and oversized ones."""
    text = " ".join(question.split())
    if not text:
        raise QuestionError("Please ask a question: the message was empty.")
    if len(text) > max_chars:
        raise QuestionError(
            f"That question is too long ({len(text):,} characters); "
            f"please keep it under {max_chars:,}."
        )
    return text


class AskService:
    def __init__(
        self,
        searcher: Searcher,
        *,
        embedder: Embedder,
        top_k: int = 3,
        min_similarity: float = 0.3,
        max_question_chars: int = 1000,
    ) -> None:
        self.searcher = searcher
        self.embedder = embedder
        self.top_k = top_k
        self.min_similarity = min_similarity
        self.max_question_chars = max_question_chars

    def ask(self, question: str, *, now: datetime | None = None, k: int | None = None) -> Answer:
        text = validate_question(question, max_chars=self.max_question_chars)
        vector = self.searcher.embed_query(text)
        hits = self.searcher.search(text, k=k or self.top_k, now=now, query_vector=vector)
        if not hits or max(hit.similarity for hit in hits) < self.min_similarity:
            return Answer(question=text, note=NOTHING_FOUND)
        # Weak hits after a strong one are noise, not evidence.
        hits = [hit for hit in hits if hit.similarity >= self.min_similarity]
        return Answer(question=text, quotes=self._quotes(text, vector, hits))

    def _quotes(self, question: str, vector: Any, hits: list[Hit]) -> list[Quote]:
        marks = highlight(
            [hit.passage.text for hit in hits],
            question=question,
            question_vector=vector,
            embedder=self.embedder,
        )
        return [
            Quote(
                text=hit.passage.text,
                highlights=tuple((span.start, span.end) for span in spans),
                title=hit.article.title,
                source=hit.article.source,
                url=hit.article.url,
                published_at=hit.article.published_at,
                score=hit.score,
                article_id=hit.passage.article_id,
                passage_id=hit.passage.id,
            )
            for hit, spans in zip(hits, marks, strict=True)
        ]
