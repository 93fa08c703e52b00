"""Chunking: split article text into sentences and pack them into passages of bounded length."""

from __future__ import annotations

import re
from dataclasses import dataclass

import sentencex

_LANGUAGE = "en"
_PARAGRAPH = re.compile(r"\S(?:.*?\S)?(?=\s*\n\s*\n|\s*$)", re.DOTALL)


@dataclass(frozen=True)
class Span:
    start: int
    end: int


def sentence_spans(text: str) -> list[Span]:
    """Sentences as character spans of ``text``, surrounding whitespace excluded.

    Paragraphs are segmented one by one so that a heading without a full stop never fuses with
    the sentence below it.
    """
    spans = []
    for paragraph in _PARAGRAPH.finditer(text):
        offset = paragraph.start()
        for boundary in sentencex.get_sentence_boundaries(_LANGUAGE, paragraph.group()):
            start = offset + boundary["start_index"]
            piece = text[start : offset + boundary["end_index"]]
            stripped = piece.strip()
            if stripped:
                start += len(piece) - len(piece.lstrip())
                spans.append(Span(start, start + len(stripped)))
    return spans


def _words(text: str, span: Span) -> int:
    return len(text[span.start : span.end].split())


def _balanced_split(text: str, spans: list[Span]) -> int:
    """The sentence index that splits ``spans`` into two runs of the most equal word counts."""
    words = [_words(text, span) for span in spans]
    total = sum(words)
    best, best_gap, running = 1, total, 0
    for index in range(1, len(spans)):
        running += words[index - 1]
        gap = abs(total - 2 * running)
        if gap < best_gap:
            best, best_gap = index, gap
    return best


def chunk_spans(text: str, *, max_words: int = 160) -> list[Span]:
    """Pack whole sentences into passages of at most ``max_words`` words.

    A sentence is never split: one longer than the limit becomes a passage of its own. A short
    tail is rebalanced with the passage before it, so no passage is a lonely fragment and none
    outgrows the limit (and with it the embedding model's window).
    """
    chunks: list[list[Span]] = []
    current: list[Span] = []
    size = 0
    for span in sentence_spans(text):
        words = _words(text, span)
        if current and size + words > max_words:
            chunks.append(current)
            current, size = [], 0
        current.append(span)
        size += words
    if current:
        chunks.append(current)
    if len(chunks) > 1 and sum(_words(text, s) for s in chunks[-1]) < max_words // 3:
        merged = chunks[-2] + chunks[-1]
        cut = _balanced_split(text, merged)
        chunks[-2:] = [merged[:cut], merged[cut:]]
    return [Span(chunk[0].start, chunk[-1].end) for chunk in chunks]
