"""The ask service: a question in, an answer of verbatim quoted passages out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from corpus.errors import BriefbotError
from corpus.model import Clock, clean_text
from retrieval.embedding import Embedder, Vectors
from retrieval.highlight import highlight
from retrieval.search import Hit, Searcher
from retrieval.time_expressions import TimeQuery, parse_time
from retrieval.window import Window


class QuestionError(BriefbotError, ValueError):
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
    outside_window: bool = False
    """True when the question asked about a period and this match comes from outside it."""

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
            "outside_window": self.outside_window,
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


@dataclass(frozen=True, kw_only=True)
class Retrieval:
    """The ranked evidence for a question, before it is turned into quotes."""

    question: str
    query: TimeQuery
    vector: Vectors
    hits: list[Hit]
    outside_window: bool = False


NOTHING_FOUND = "I couldn't find anything relevant to that in the articles I have."


def _readable(question: str) -> str:
    """The question as valid text: no lone surrogates, control characters or escape sequences.

    A terminal that is not UTF-8 hands Python undecodable bytes as lone surrogates
    ("caf\udce9"), and JSON can spell them out ("\\ud800"); the tokenizer can't take them.
    The original bytes are recovered where possible (UTF-8, else Windows-1252).
    """
    try:
        raw = question.encode("utf-8", errors="surrogateescape")
    except UnicodeEncodeError:
        pass  # a surrogate that does not stand for a byte; clean_text replaces it
    else:
        try:
            question = raw.decode("utf-8")
        except UnicodeDecodeError:
            question = raw.decode("cp1252", errors="replace")
    return clean_text(question)


def validate_question(question: str, *, max_chars: int) -> str:
    """The question with whitespace tidied and made valid text, or a polite error for empty,
    unreadable and oversized ones."""
    text = " ".join(_readable(question).split())
    if not text:
        raise QuestionError("Please ask a question: the message was empty.")
    if not text.replace("\ufffd", "").strip():
        raise QuestionError(
            "I couldn't read that question (it isn't valid text); please type it again."
        )
    if len(text) > max_chars:
        raise QuestionError(
            f"That question is too long ({len(text):,} characters); "
            f"please keep it under {max_chars:,}."
        )
    return text


class AskService:
    """Answers questions from the indexed articles, quoting them verbatim.

    With ``time_aware`` (the default) a question's time expression ("last week") becomes a
    publication-date filter, articles published after the reference time are never quoted, and
    newer articles get a mild boost. Without it every article counts as current, which is what
    the content-only evaluation measures.
    """

    def __init__(
        self,
        searcher: Searcher,
        *,
        embedder: Embedder,
        top_k: int,
        min_similarity: float,
        max_question_chars: int,
        clock: Clock,
        time_aware: bool = True,
    ) -> None:
        self.searcher = searcher
        self.embedder = embedder
        self.top_k = top_k
        self.min_similarity = min_similarity
        self.max_question_chars = max_question_chars
        self.time_aware = time_aware
        self.clock = clock

    def retrieve(
        self, question: str, *, now: datetime | None = None, k: int | None = None
    ) -> Retrieval:
        """The passages that answer ``question``, best first, before any highlighting."""
        text = validate_question(question, max_chars=self.max_question_chars)
        if self.time_aware:
            now = now or self.clock()
            query = parse_time(text, now=now)
        else:
            now, query = None, TimeQuery(text)
        vector = self.searcher.embed_query(query.text)
        limit = k or self.top_k

        def search(window: Window | None) -> list[Hit]:
            hits = self.searcher.search(
                query.text, k=limit, now=now, window=window, query_vector=vector
            )
            return [hit for hit in hits if hit.similarity >= self.min_similarity]

        hits = search(query.window)
        if hits or query.window is None:
            return Retrieval(question=text, query=query, vector=vector, hits=hits)
        # Nothing in the period asked about: offer the best matches from other dates instead.
        return Retrieval(
            question=text, query=query, vector=vector, hits=search(None), outside_window=True
        )

    def ask(self, question: str, *, now: datetime | None = None, k: int | None = None) -> Answer:
        found = self.retrieve(question, now=now, k=k)
        if not found.hits:
            return Answer(question=found.question, note=NOTHING_FOUND)
        note = None
        if found.outside_window:
            note = (
                f"I found nothing relevant from {found.query.label()}; "
                "these are the closest matches from other dates."
            )
        return Answer(question=found.question, quotes=self._quotes(found), note=note)

    def _quotes(self, found: Retrieval) -> list[Quote]:
        marks = highlight(
            [hit.passage.text for hit in found.hits],
            question=found.query.text,
            question_vector=found.vector,
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
                outside_window=found.outside_window,
            )
            for hit, spans in zip(found.hits, marks, strict=True)
        ]
