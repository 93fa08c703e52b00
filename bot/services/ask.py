"""The ask service: a question in, an answer of verbatim quoted passages out."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from bot.services.briefing import Briefing, BriefingService
from corpus.errors import BriefbotError
from corpus.model import Clock, clean_text
from retrieval.chunking import Span
from retrieval.embedding import Vectors
from retrieval.evidence import Evidence, EvidenceFinder, Found
from retrieval.follow_up import Turn, is_follow_up, resolve
from retrieval.search import Searcher
from retrieval.spelling import SpellingCorrector
from retrieval.terms import content_terms, stem
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
    searched: str | None = None
    """The question as searched, when it differs: a follow-up with its context added."""

    def turn(self) -> Turn | None:
        """What a follow-up to this answer refers to; nothing when nothing was quoted."""
        if not self.quotes:
            return None
        return Turn(
            self.searched or self.question,
            tuple(dict.fromkeys(q.article_id for q in self.quotes)),
            self.quotes[0].published_at,
        )

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
    found: Found
    outside_window: bool = False
    corrections: dict[str, str] = field(default_factory=dict)
    """Misspelt words of the question and the words searched instead."""

    @property
    def evidence(self) -> list[Evidence]:
        return self.found.evidence


# Questions of this many content words or fewer are keyword searches.
_KEYWORD_QUERY = 2


@dataclass(frozen=True)
class Relevance:
    """When evidence counts as an answer; the settings' defaults were chosen on the Wikinews
    development questions (`benchmarks/answer_eval.py`).

    The strongest evidence must score ``min_score``. A further quote appears only when it
    answers too and scores ``follow_ratio`` of the strongest, so quotes two and three are never
    padding; it may be a second passage of the same article (up to ``per_article``), since the
    answer is as often a few paragraphs on as in another article. A question naming someone or
    something no article mentions is not answered at all: quoting articles that share its
    other words is how unrelated answers happen. One naming everyday words that articles hold but
    never together ("East Asian") is answered only on evidence scoring ``unseen_min_score``.
    """

    min_score: float
    follow_ratio: float
    per_article: int
    unseen_min_score: float

    def answers(self, evidence: Evidence, found: Found) -> bool:
        """Evidence scoring ``min_score``, or holding every word of a question of one or two
        words ("sheep"): a bare keyword is too short for its similarity to mean much."""
        if evidence.score >= self.min_score:
            return True
        return len(found.term_weights) <= _KEYWORD_QUERY and evidence.coverage >= 1.0

    def keep(self, found: Found, k: int) -> list[Evidence]:
        """The first ``k`` pieces of evidence that answer, at most ``per_article`` from one
        article, or none."""
        ranked = found.evidence
        if found.unknown_names or not ranked:
            return []
        best = max(ranked, key=lambda e: e.score)
        if not self.answers(best, found):
            return []
        if found.unseen_names and best.score < self.unseen_min_score:
            return []
        floor = best.score * self.follow_ratio
        kept: list[Evidence] = []
        for evidence in ranked:
            if len(kept) == k:
                break
            if evidence.score < floor or not self.answers(evidence, found):
                continue
            if sum(e.article.id == evidence.article.id for e in kept) < self.per_article:
                kept.append(evidence)
        return kept


# Stories in the answer to "what happened yesterday?": a short digest, not a full briefing.
_HEADLINES = 5

# Words that ask for the news in general rather than about something (stems).
_NEWS_IN_GENERAL = frozenset(
    stem(word)
    for word in [
        "happened",
        "happening",
        "going",
        "news",
        "stories",
        "story",
        "headlines",
        "top",
        "latest",
        "biggest",
        "main",
        "important",
        "events",
        "anything",
        "new",
        "tell",
        "briefing",
        "summary",
        "update",
        "updates",
    ]
)


def asks_for_news(text: str) -> bool:
    """True for "what happened?" or "any news?" once the time expression is taken out."""
    return all(stem(term) in _NEWS_IN_GENERAL for term in content_terms(text))


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
        evidence: EvidenceFinder,
        spelling: SpellingCorrector | None,
        relevance: Relevance,
        top_k: int,
        candidate_articles: int,
        max_question_chars: int,
        clock: Clock,
        briefing: BriefingService | None = None,
        time_aware: bool = True,
    ) -> None:
        self.searcher = searcher
        self.evidence = evidence
        self.spelling = spelling
        self.relevance = relevance
        self.top_k = top_k
        self.candidate_articles = candidate_articles
        self.max_question_chars = max_question_chars
        self.briefing = briefing
        self.time_aware = time_aware
        self.clock = clock

    def _parse(self, question: str, now: datetime | None) -> tuple[str, TimeQuery, datetime | None]:
        """The question made valid, its time expression, and the reference time (if any)."""
        text = validate_question(question, max_chars=self.max_question_chars)
        if not self.time_aware:
            return text, TimeQuery(text), None
        now = now or self.clock()
        return text, parse_time(text, now=now), now

    def retrieve(
        self, question: str, *, now: datetime | None = None, k: int | None = None
    ) -> Retrieval:
        """The passages that answer ``question``, best first, before any highlighting."""
        text, query, now = self._parse(question, now)
        return self._retrieve(text, query, now=now, k=k)

    def _retrieve(
        self,
        text: str,
        query: TimeQuery,
        *,
        now: datetime | None,
        k: int | None,
        sources: Collection[str] = (),
    ) -> Retrieval:
        """The evidence for ``query``; when it has words no article holds, also for the words
        they are likely misspellings of, keeping whichever finds the better evidence (a word
        the articles lack is as often a real word they don't use as a typo)."""
        found = self._search(text, query, now=now, k=k, sources=sources)
        if self.spelling is None:
            return found
        corrected, corrections = self.spelling.correct(query.text)
        if not corrections:
            return found
        retry = self._search(text, replace(query, text=corrected), now=now, k=k, sources=sources)
        if _best_score(retry) > _best_score(found):
            return replace(retry, corrections=corrections)
        return found

    def _search(
        self,
        text: str,
        query: TimeQuery,
        *,
        now: datetime | None,
        k: int | None,
        sources: Collection[str],
    ) -> Retrieval:
        vector = self.searcher.embed_query(query.text)
        limit = max(k or self.top_k, self.candidate_articles)

        def search(window: Window | None) -> Found:
            hits = self.searcher.search(
                query.text, k=limit, now=now, window=window, query_vector=vector, sources=sources
            )
            return self.evidence.find(query.text, vector, hits)

        found = search(query.window)
        if query.window is None or self.relevance.keep(found, 1):
            return Retrieval(question=text, query=query, vector=vector, found=found)
        # Nothing in the period asked about: offer the best matches from other dates instead.
        return Retrieval(
            question=text, query=query, vector=vector, found=search(None), outside_window=True
        )

    def ask(
        self,
        question: str,
        *,
        now: datetime | None = None,
        k: int | None = None,
        previous: Turn | None = None,
        sources: Collection[str] = (),
    ) -> Answer:
        """Answer ``question``; ``previous`` is the conversation's last turn, which a follow-up
        ("what happened next?") is read against; ``sources``, when given, are the only sources
        quoted."""
        text, query, now = self._parse(question, now)
        if previous is not None and is_follow_up(text):
            query = resolve(query, previous, now=now)
        elif query.window is not None and self.briefing is not None and asks_for_news(query.text):
            return self._headlines(
                text,
                query,
                self.briefing.brief(query.window, limit=k or _HEADLINES, sources=sources),
            )
        answer = self.answer(self._retrieve(text, query, now=now, k=k, sources=sources), k=k)
        return replace(answer, searched=query.text) if query.text != text else answer

    def _headlines(self, question: str, query: TimeQuery, briefing: Briefing) -> Answer:
        """A question about a period and nothing else ("what happened yesterday?"): the
        period's top stories, each with its most telling sentence, quoted verbatim."""
        if not briefing.stories:
            return Answer(question=question, note=f"I have no articles from {query.label()}.")
        quotes = []
        for story in briefing.stories:
            if not story.quotes:
                continue
            key = story.quotes[0]
            article_id = key.article.id or 0
            passages = self.searcher.store.passages(
                self.searcher.store.passage_ids_of([article_id]).get(article_id, [])
            )
            passage = next((p for p in passages.values() if key.text in p.text), None)
            if passage is None:
                continue
            start = passage.text.index(key.text)
            marked = Evidence(
                article=key.article,
                passage=passage,
                score=0.0,
                coverage=0.0,
                highlights=(Span(start, start + len(key.text)),),
            )
            quotes.append(_quote(marked, outside_window=False))
        return Answer(
            question=question,
            quotes=quotes,
            note=f"The top stories from {query.label()}, one key sentence each:",
        )

    def match(self, words: str, article_ids: Sequence[int]) -> Answer:
        """Which of ``article_ids`` answer ``words``, quoted as an answer quotes, by the same
        calibrated judgement of relevance: what decides that an alert fires on new articles."""
        text = validate_question(words, max_chars=self.max_question_chars)
        store = self.searcher.store
        passages = [pid for ids in store.passage_ids_of(article_ids).values() for pid in ids]
        if not passages:
            return Answer(question=text, note=NOTHING_FOUND)
        vector = self.searcher.embed_query(text)
        k = len(article_ids)
        hits = self.searcher.search(text, k=k, query_vector=vector, within=passages)
        found = self.evidence.find(text, vector, hits)
        query = TimeQuery(text)
        return self.answer(Retrieval(question=text, query=query, vector=vector, found=found), k=k)

    def answer(self, found: Retrieval, *, k: int | None = None) -> Answer:
        """The quotes for retrieved evidence: those that answer, or "nothing found"."""
        kept = self.relevance.keep(found.found, k or self.top_k)
        read_as = f"(Searched for “{found.query.text}”.)" if found.corrections else ""
        if not kept:
            note = " ".join(filter(None, [_nothing_found(found.found), read_as]))
            return Answer(question=found.question, note=note)
        notes = [read_as]
        if found.outside_window:
            notes.append(
                f"I found nothing relevant from {found.query.label()}; "
                "these are the closest matches from other dates."
            )
        joined = " ".join(filter(None, notes))
        return Answer(
            question=found.question,
            quotes=[
                _quote(evidence, outside_window=found.outside_window)
                for evidence in self.evidence.highlight(
                    found.query.text, found.vector, kept, found.found
                )
            ],
            note=joined or None,
        )


def _best_score(found: Retrieval) -> float:
    return max((e.score for e in found.evidence), default=float("-inf"))


def _nothing_found(found: Found) -> str:
    missing = found.unknown_names or found.unseen_names
    if not missing:
        return NOTHING_FOUND
    names = " or ".join(f"“{name}”" for name in missing[:3])
    return f"I couldn't find anything about {names} in the articles I have."


def _quote(evidence: Evidence, *, outside_window: bool) -> Quote:
    return Quote(
        text=evidence.passage.text,
        highlights=tuple((span.start, span.end) for span in evidence.highlights),
        title=evidence.article.title,
        source=evidence.article.source,
        url=evidence.article.url,
        published_at=evidence.article.published_at,
        score=evidence.score,
        article_id=evidence.passage.article_id,
        passage_id=evidence.passage.id,
        outside_window=outside_window,
    )
