"""Highlighting: find the sentence(s) inside a quoted passage that best answer the question."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from retrieval.chunking import Span, sentence_spans
from retrieval.embedding import Embedder, Vectors
from retrieval.terms import content_terms

# Share of the score that comes from the question's words found in the sentence. Embeddings
# catch paraphrase; word overlap keeps names and numbers the question asks about decisive.
_TERM_WEIGHT = 0.3
# A runner-up sentence this close to the best is highlighted too (it usually continues the answer).
_RUNNER_UP = 0.95


def _overlap(question_terms: set[str], sentence: str) -> float:
    if not question_terms:
        return 0.0
    return len(question_terms.intersection(content_terms(sentence))) / len(question_terms)


def highlight(
    passages: Sequence[str], *, question: str, question_vector: Vectors, embedder: Embedder
) -> list[list[Span]]:
    """For each passage, the spans (relative to it) of its best-answering sentences, in order."""
    spans = [sentence_spans(text) for text in passages]
    sentences = [
        text[s.start : s.end] for text, found in zip(passages, spans, strict=True) for s in found
    ]
    if not sentences:
        return [[] for _ in passages]
    similarity = embedder.embed(sentences) @ question_vector
    terms = set(content_terms(question))
    results: list[list[Span]] = []
    offset = 0
    for found in spans:
        if not found:
            results.append([])
            continue
        scores = np.array(
            [
                (1 - _TERM_WEIGHT) * similarity[offset + i]
                + _TERM_WEIGHT * _overlap(terms, sentences[offset + i])
                for i in range(len(found))
            ]
        )
        offset += len(found)
        best = int(scores.argmax())
        order = np.argsort(-scores)
        chosen = {best}
        if len(found) > 1 and scores[order[1]] >= _RUNNER_UP * scores[best] > 0:
            chosen.add(int(order[1]))
        results.append([found[i] for i in sorted(chosen)])
    return results
