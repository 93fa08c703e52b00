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


def chunk_spans(text: str, *, max_words: int = 160) -> list[Span]:
    """Pack whole sentences into passages of at most ``max_words`` words.

    A sentence is never split: one longer than the limit becomes a passage of its own. A short
    tail is merged into the passage before it so no passage is a lonely fragment; merged
    passages may reach 1.4 × ``max_words``, still inside the embedding model's window.
    """
    min_words = max_words // 3
    chunks: list[list[Span]] = []
    sizes: list[int] = []
    current: list[Span] = []
    size = 0
    for span in sentence_spans(text):
        words = _words(text, span)
        if current and size + words > max_words:
            chunks.append(current)
            sizes.append(size)
            current, size = [], 0
        current.append(span)
        size += words
    if current:
        if chunks and size < min_words and sizes[-1] + size <= max_words * 1.4:
            chunks[-1] = chunks[-1] + current
        else:
            chunks.append(current)
    return [Span(chunk[0].start, chunk[-1].end) for chunk in chunks]
