"""Evidence: the passage and sentences that answer a question, inside the best articles found.

Search ranks an article by its best-matching passage, which is often the lead repeating the
headline's words rather than the passage holding the answer. So every passage of the best few
articles is weighed against the question again, each article is represented by its best, and
inside the passages that will be quoted each sentence is scored to find the one(s) to highlight.
"""

from __future__ import annotations

import math
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from corpus.model import Article
from corpus.store import ArticleStore, Passage
from retrieval.chunking import Span, is_prose, sentence_spans
from retrieval.embedding import Embedder, Vectors
from retrieval.lexical import LexicalIndex
from retrieval.search import Hit
from retrieval.terms import CALENDAR_WORDS, content_terms, stem, stems
from retrieval.vector_index import VectorIndex

# A question asking for an amount is answered by a sentence with a figure in it.
_QUANTITY = re.compile(
    r"^\W*(?:how\s+(?:much|many|long|big|old|far|large|high|often|badly)\b|by\s+how\s+much\b"
    r"|what\s+(?:share|percentage|proportion|number|amount|price|sum|figure)\b)",
    re.IGNORECASE,
)
# A figure: a number standing on its own ("205,000", "$48bn", "2.8%"), not digits inside a name
# ("G8", "A380"): the G8 summit's sentences are not all answers to "how much aid?".
_FIGURE = re.compile(r"(?<!\w)\d")
# A name: a capitalised word of four letters or more that does not open the question, without
# a possessive "'s". Acronyms and abbreviations are left out (articles often spell them out, so
# their absence proves nothing), and so are calendar words.
_NAME = re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][a-z]\w*(?:[ -][A-Z][a-z]\w*)*(?=(?:['’]s)?\b)")
_NAME_WORD = re.compile(r"[^ -]+")
# Sentence bonuses and penalties, in units of cosine similarity (chosen with the weights).
_FIGURE_BONUS = 0.1
# A question asking which, who or where is answered by a sentence naming someone or something
# the question does not: "which radio station got the protests going?" by "... led broadcaster
# Radio La Luna to call for a demonstration", not by the sentence that restates the protests.
# On the Wikinews dev questions 0.05 / 0.1 / 0.15 / 0.2 lifted the highlight hits from 59/72 to
# 61 / 63 / 64 / 64, nothing else changing.
_NAME_BONUS = 0.15
_ASKS_FOR_NAME = re.compile(
    r"^\W*(?:which|who|whom|whose|where)\b|\bwhat(?:'s|\s+is|\s+was)?\s+(?:the\s+)?name\b",
    re.IGNORECASE,
)
# A heading or caption ("The four alleged suicide bombers") is never the answer: it is
# highlighted only when its passage has no sentence of prose (0.1 let a heading that repeats the
# question's words win; the Wikinews dev figures are the same either way).
_NOT_PROSE_PENALTY = 1.0


@dataclass(frozen=True)
class EvidenceWeights:
    """How passages and sentences are weighed; the settings' defaults were chosen on the
    Wikinews development questions (`benchmarks/answer_eval.py`) and, for ``retrieval``, the
    RealTime QA dev split (`benchmarks/retrieval_eval.py`).

    A passage scores its cosine similarity with the question, plus ``context`` times the share
    of the question's term weight that it and its article's title hold, minus ``position`` per
    passage before it in the article: how well the passage itself answers. Evidence is ordered
    by that score plus ``retrieval`` times its article's search score (hubness reduction, BM25),
    times the recency prior relative to the newest candidate; a large ``retrieval`` keeps
    search's order of articles and lets the score choose the passage within each.
    A sentence scores the cosine of the question with the sentence prefixed by the article's
    title (so "It drew 205,000 people." keeps its subject), plus ``sentence`` times its share of
    the question's term weight. Terms weigh their inverse document frequency, so a rare name
    counts for more than "said". The runner-up sentence is highlighted too when it scores
    within ``margin`` of the best (answers often span two sentences).
    """

    context: float
    retrieval: float
    position: float
    sentence: float
    margin: float


@dataclass(frozen=True, kw_only=True)
class Evidence:
    """An article's best answer to a question: a passage and the sentence(s) in it that answer."""

    article: Article
    passage: Passage
    score: float
    """How well the passage itself answers: what "nothing found" and padding are judged by."""
    coverage: float
    """Share of the question's term weight that the passage and its article's title hold."""
    rank: float = 0.0
    """``score`` plus the article's search score, times the recency prior: evidence's order."""
    highlights: tuple[Span, ...] = ()
    """Offsets into ``passage.text`` of the answering sentence(s); set for quoted evidence."""


@dataclass(frozen=True)
class Found:
    """The evidence for a question, best first, and the names it asks about that no article
    mentions (a question about "YouTube" when no article names it is not answered)."""

    evidence: list[Evidence]
    unknown_names: tuple[str, ...]
    term_weights: dict[str, float]
    unseen_names: tuple[str, ...] = ()
    """Names of several everyday words that articles hold, but never together: worded otherwise
    ("East Asian" for China, Japan and Korea, "Iron Lady" for Thatcher) or two things never named
    together ("Pakistani Kashmir"). A name with a rarer word ("Harriet Miers") is spelled the
    same wherever it appears, so its absence stays telling: it is unknown."""


class SentenceVectors:
    """The vectors of quoted passages' sentences (each with its article's title), by passage.

    A passage's text never changes and its id is never given to another, so the sentences of a
    story many people ask about are embedded once, not at every answer; the least recently
    quoted passages make way beyond ``size``.
    """

    def __init__(self, embedder: Embedder, *, size: int = 2048) -> None:
        self.embedder = embedder
        self.size = size
        self._vectors: OrderedDict[int, Vectors] = OrderedDict()
        self._lock = threading.Lock()

    def of(self, passages: Sequence[tuple[int, Sequence[str]]]) -> list[Vectors]:
        """Each ``(passage id, its titled sentences)``'s sentence vectors, in one model call for
        the passages not seen before."""
        with self._lock:
            known = {key: self._vectors[key] for key, _ in passages if key in self._vectors}
        missing = [(key, texts) for key, texts in passages if key not in known]
        if missing:
            embedded = self.embedder.embed([text for _, texts in missing for text in texts])
            bounds = np.cumsum([0, *(len(texts) for _, texts in missing)])
            for (key, _), start, end in zip(missing, bounds[:-1], bounds[1:], strict=True):
                known[key] = embedded[start:end]
        with self._lock:
            for key, _ in passages:
                self._vectors[key] = known[key]
                self._vectors.move_to_end(key)
            while len(self._vectors) > self.size:
                self._vectors.popitem(last=False)
        return [known[key] for key, _ in passages]


class EvidenceFinder:
    def __init__(
        self,
        store: ArticleStore,
        *,
        embedder: Embedder,
        vectors: VectorIndex,
        lexical: LexicalIndex,
        weights: EvidenceWeights,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.vectors = vectors
        self.lexical = lexical
        self.weights = weights
        self.sentences = SentenceVectors(embedder)

    def find(self, question: str, vector: Vectors, hits: Sequence[Hit]) -> Found:
        """Every passage of the articles of ``hits``, best first."""
        names = list(dict.fromkeys(_names(question)))
        frequencies = self.lexical.document_frequencies([*content_terms(question), *names])
        missing = [name for name in names if not frequencies[name]]
        unseen = self._unseen(missing)
        unknown = tuple(name for name in missing if name not in unseen)
        weights = _term_weights(question, frequencies, total=max(len(self.lexical), 1))
        if not hits:
            return Found([], unknown, weights, unseen)
        article_ids = [hit.passage.article_id for hit in hits]
        passage_ids = self.store.passage_ids_of(article_ids)
        ids = [pid for article_id in article_ids for pid in passage_ids.get(article_id, [])]
        passages = self.store.passages(ids)
        similarity = dict(zip(ids, (self.vectors.vectors(ids) @ vector).tolist(), strict=True))
        # The recency prior, relative to the newest candidate: it orders articles of different
        # ages as search did.
        newest = max(hit.recency for hit in hits)
        evidence = []
        for hit in hits:
            for pid in passage_ids.get(hit.passage.article_id, []):
                passage = passages[pid]
                coverage = _coverage(weights, f"{hit.article.title}\n{passage.text}")
                score = (
                    similarity[pid]
                    + self.weights.context * coverage
                    - self.weights.position * passage.ordinal
                )
                rank = (score + self.weights.retrieval * hit.score) * (hit.recency / newest)
                evidence.append(
                    Evidence(
                        article=hit.article,
                        passage=passage,
                        score=score,
                        rank=rank,
                        coverage=coverage,
                    )
                )
        evidence.sort(key=lambda e: -e.rank)
        return Found(evidence, unknown, weights, unseen)

    def _unseen(self, missing: Sequence[str]) -> tuple[str, ...]:
        """Which of the ``missing`` names are everyday words (the model's tokenizer has them
        whole) that articles hold apart: see ``Found.unseen_names``."""
        words = {name: _NAME_WORD.findall(name) for name in missing}
        words = {name: split for name, split in words.items() if len(split) > 1}
        if not words:
            return ()
        held = self.lexical.document_frequencies(sorted({w for ws in words.values() for w in ws}))
        ordinary = self.embedder.words
        return tuple(
            name
            for name, split in words.items()
            if all(held[w] and w.casefold() in ordinary for w in split)
        )

    def highlight(
        self, question: str, vector: Vectors, quoted: Sequence[Evidence], found: Found
    ) -> list[Evidence]:
        """``quoted`` with their answering sentence(s) marked (at most one model call, for the
        sentences of passages not quoted before)."""
        spans = [sentence_spans(e.passage.text) for e in quoted]
        sentences = [
            [e.passage.text[s.start : s.end] for s in found_spans]
            for e, found_spans in zip(quoted, spans, strict=True)
        ]
        titled = [
            (
                e.passage.id,
                [
                    f"{e.article.title.strip()}. {s}" if e.article.title.strip() else s
                    for s in texts
                ],
            )
            for e, texts in zip(quoted, sentences, strict=True)
        ]
        similarity = np.concatenate(
            [np.zeros(0, dtype=np.float32), *(v @ vector for v in self.sentences.of(titled))]
        )
        wants_figure = _QUANTITY.search(question) is not None
        wants_name = _ASKS_FOR_NAME.search(question) is not None
        asked = stems(question)
        marked = []
        offset = 0
        for evidence, found_spans, texts in zip(quoted, spans, sentences, strict=True):
            if not texts:
                marked.append(evidence)
                continue
            scores = np.array(
                [
                    similarity[offset + i]
                    + self.weights.sentence * _coverage(found.term_weights, sentence)
                    + (_FIGURE_BONUS if wants_figure and _FIGURE.search(sentence) else 0.0)
                    + (_NAME_BONUS if wants_name and _names_new(sentence, asked) else 0.0)
                    - (0.0 if is_prose(sentence) else _NOT_PROSE_PENALTY)
                    for i, sentence in enumerate(texts)
                ]
            )
            offset += len(texts)
            order = np.argsort(-scores, kind="stable")
            chosen = [int(order[0])]
            if len(order) > 1 and scores[order[1]] >= scores[order[0]] - self.weights.margin:
                chosen.append(int(order[1]))
            marked.append(
                replace(evidence, highlights=tuple(found_spans[i] for i in sorted(chosen)))
            )
        return marked


def _names(question: str) -> list[str]:
    """Runs of capitalised words ("Hurricane Dennis"), calendar words left out."""
    names = []
    for match in _NAME.finditer(question):
        words = [w for w in match.group().split(" ") if w.casefold() not in CALENDAR_WORDS]
        name = " ".join(words)
        if len(name) >= 4:
            names.append(name)
    return names


def _names_new(sentence: str, asked: set[str]) -> bool:
    """Whether ``sentence`` names something whose words are not all among ``asked`` (the
    question's stems)."""
    return any(stem(w.casefold()) not in asked for name in _names(sentence) for w in name.split())


def _term_weights(question: str, frequencies: dict[str, int], *, total: int) -> dict[str, float]:
    """Each content term of the question (by stem) and its inverse document frequency."""
    weights: dict[str, float] = {}
    for term in content_terms(question):
        df = frequencies.get(term, 0)
        idf = math.log(1 + (total - df + 0.5) / (df + 0.5))
        key = stem(term)
        weights[key] = max(weights.get(key, 0.0), idf)
    return weights


def _coverage(weights: dict[str, float], text: str) -> float:
    """The share of the question's term weight that ``text`` holds."""
    total = sum(weights.values())
    if not total:
        return 0.0
    found = stems(text)
    return sum(weight for term, weight in weights.items() if term in found) / total
