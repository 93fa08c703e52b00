"""Key sentences: pick the few verbatim sentences that carry the news of a story."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.preprocessing import normalize

from retrieval.chunking import is_prose, sentence_spans
from retrieval.embedding import Embedder
from retrieval.terms import content_words

Matrix = npt.NDArray[np.floating[Any]]

# Weights of the secondary signals, in standard deviations of the word-centrality score.
# Chosen on BBC News Summary (benchmarks/briefing_eval.py): meaning helps a little; a lead prior
# larger than a tie-breaker lowers ROUGE there, since those references pick sentences by content
# rather than position, so it only settles near-ties in favour of the lead. A shortlist of 20
# (or 3 per sentence asked for) scores the same there as embedding every sentence.
_MEANING_WEIGHT = 0.2
_LEAD_WEIGHT = 0.2
_SHORTLIST = 20
_SHORTLIST_PER_PICK = 3


@dataclass(frozen=True)
class Selected:
    """A verbatim sentence: ``texts[article_index][start:end] == text``."""

    article_index: int
    start: int
    end: int
    text: str


def _terms(text: str) -> list[str]:
    """Content words with plurals folded, so that "profit" and "profits" count as one."""
    return [
        w[:-1] if len(w) > 4 and w.endswith("s") and not w.endswith("ss") else w
        for w in content_words(text)
    ]


def _centrality(vectors: Matrix, articles: npt.NDArray[np.intp]) -> Matrix:
    """Cosine of each row to the story's centroid, in which every article weighs the same.

    Balancing articles makes the centroid what the outlets agree on, not what the longest says.
    """
    centroid = np.mean([vectors[articles == a].mean(axis=0) for a in np.unique(articles)], axis=0)
    norm = float(np.linalg.norm(centroid))
    result: Matrix = vectors @ centroid / (norm or 1.0)
    return result


def _standardised(values: Matrix) -> Matrix:
    spread = float(values.std())
    return (values - values.mean()) / spread if spread > 0 else np.zeros_like(values)


def key_sentences(
    texts: Sequence[str], *, k: int, embedder: Embedder | None = None, redundancy: float = 0.85
) -> list[Selected]:
    """The (at most) ``k`` sentences of a story's articles that best carry its news.

    Score: how central a sentence's words are to the story (cosine with the centroid of
    term-frequency vectors), plus, with an embedder, how central its meaning is, plus a small
    prior for each article's lead. Plain term frequency rather than TF-IDF: an IDF taken over a
    story's own sentences would discount exactly the words the story is about. Sentences are
    taken best first, skipping any whose cosine (embeddings, else term vectors) with one already
    taken reaches ``redundancy``: a threshold for near-repeats, as across outlets, rather than an
    MMR penalty, which would trade central sentences for merely different ones. Short sentences,
    lines without a final stop (headings, captions) and bylines are never chosen.

    Returned in reading order: by article, then by position in it.
    """
    # Built in reading order, so sorting chosen indexes restores it.
    candidates = []
    for index, text in enumerate(texts):
        spans = [s for s in sentence_spans(text) if is_prose(text[s.start : s.end])]
        candidates += [(index, position, span) for position, span in enumerate(spans)]
    if k <= 0 or not candidates:
        return []
    sentences = [texts[a][s.start : s.end] for a, _, s in candidates]
    articles = np.array([a for a, _, _ in candidates], dtype=np.intp)
    lead = np.array([1.0 / (1 + position) for _, position, _ in candidates])
    try:
        terms: Matrix = normalize(
            CountVectorizer(analyzer=_terms).fit_transform(sentences)
        ).toarray()
    except ValueError:  # not a single content word in the story
        terms = np.zeros((len(sentences), 1))
    score = _standardised(_centrality(terms, articles)) + _LEAD_WEIGHT * lead
    order = np.argsort(-score, kind="stable")
    similar = terms
    if embedder is not None:
        # Meaning only reorders a shortlist of the best by words: embedding every sentence of
        # five articles would spend most of the time on ones that cannot win.
        order = order[: max(_SHORTLIST_PER_PICK * k, _SHORTLIST)]
        similar = np.zeros((len(sentences), embedder.dim), dtype=np.float32)
        similar[order] = embedder.embed([sentences[i] for i in order])
        meaning = _standardised(_centrality(similar[order], articles[order]))
        order = order[np.argsort(-(score[order] + _MEANING_WEIGHT * meaning), kind="stable")]
    chosen: list[int] = []
    for index in order.tolist():
        if len(chosen) == k:
            break
        if not chosen or float(np.max(similar[chosen] @ similar[index])) < redundancy:
            chosen.append(index)
    return [
        Selected(a, span.start, span.end, texts[a][span.start : span.end])
        for a, _, span in (candidates[i] for i in sorted(chosen))
    ]
