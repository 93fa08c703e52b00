"""Chunking: split article text into sentences and pack them into passages of bounded length."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import sentencex

_LANGUAGE = "en"
# The default character cap of a passage, per word of its word limit: about twice the length of
# an average English word and its space, so prose never meets it, but a long run of characters
# without spaces (a URL list, an encoded blob) still becomes passages of bounded size.
CHARS_PER_WORD = 12
_WORD = re.compile(r"\S+")
_PARAGRAPH = re.compile(r"\S(?:.*?\S)?(?=\s*\n\s*\n|\s*$)", re.DOTALL)
# A full sentence ends with a stop, possibly inside quotes or brackets; headings do not.
_ENDS_SENTENCE = re.compile(r"[.!?…][\s\"'”’)\]]*$")
_BYLINE = re.compile(
    r"^(?:(?:Additional )?[Rr]eporting by|[Ww]ritten by|[Ee]dited by|By)\s+[A-Z]\S*\s+[A-Z]"
    r"|contributed to this report"
)
_BYLINE_MAX_WORDS = 12
_PROSE_MIN_WORDS = 6


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


def is_prose(sentence: str) -> bool:
    """A sentence that can carry news: long enough, ending with a stop, not a byline. Headings,
    captions, list items and "Reporting by …" lines are not."""
    words = len(sentence.split())
    byline = words <= _BYLINE_MAX_WORDS and _BYLINE.search(sentence) is not None
    return words >= _PROSE_MIN_WORDS and _ENDS_SENTENCE.search(sentence) is not None and not byline


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


@functools.lru_cache(maxsize=32)
def _up_to(words: int) -> re.Pattern[str]:
    """Matches runs of 1 to ``words`` words, greedily; matching in C keeps a 2 MB run-on fast."""
    return re.compile(rf"\S+(?:\s+\S+){{0,{words - 1}}}")


def _capped(text: str, start: int, end: int, max_chars: int) -> list[Span]:
    """``text[start:end]`` in pieces of at most ``max_chars``, cut between words where it can."""
    pieces: list[Span] = []
    first = last = -1
    for word in _WORD.finditer(text, start, end):
        for cut in range(word.start(), word.end(), max_chars):
            stop = min(cut + max_chars, word.end())
            if first >= 0 and stop - first > max_chars:
                pieces.append(Span(first, last))
                first = -1
            if first < 0:
                first = cut
            last = stop
    if first >= 0:
        pieces.append(Span(first, last))
    return pieces


def _pieces(text: str, span: Span, *, max_words: int, max_chars: int) -> list[Span]:
    """A sentence too long for one passage, cut between words into near-equal pieces.

    A run-on "sentence" (a table flattened to text, a page without punctuation) would otherwise
    become one passage of any size. Each piece has at most ``max_words`` words and at most
    ``max_chars`` characters, for when words are long or missing (a base64 blob); a single word
    longer than that is cut too. Pieces are verbatim slices of ``text``.
    """
    words = _words(text, span)
    if words <= max_words and span.end - span.start <= max_chars:
        return [span]
    # Even pieces rather than full ones and a stub: ceil(words / parts) words each.
    parts = -(-words // max_words)
    pieces: list[Span] = []
    for match in _up_to(-(-words // parts)).finditer(text, span.start, span.end):
        if match.end() - match.start() <= max_chars:
            pieces.append(Span(match.start(), match.end()))
        else:
            pieces.extend(_capped(text, match.start(), match.end(), max_chars))
    return pieces


def chunk_spans(text: str, *, max_words: int = 160, max_chars: int | None = None) -> list[Span]:
    """Pack whole sentences into passages of at most ``max_words`` words and ``max_chars``
    characters (by default ``max_words`` times ``CHARS_PER_WORD``).

    A sentence is split only when it alone is over a limit, between words. A short tail is
    rebalanced with the passage before it, so no passage is a lonely fragment and none outgrows
    the limit (and with it the embedding model's window).
    """
    max_words = max(1, max_words)
    max_chars = max(1, max_chars if max_chars is not None else max_words * CHARS_PER_WORD)
    chunks: list[list[Span]] = []
    current: list[Span] = []
    size = 0
    for sentence in sentence_spans(text):
        for span in _pieces(text, sentence, max_words=max_words, max_chars=max_chars):
            words = _words(text, span)
            if current and (size + words > max_words or span.end - current[0].start > max_chars):
                chunks.append(current)
                current, size = [], 0
            current.append(span)
            size += words
    if current:
        chunks.append(current)
    if len(chunks) > 1 and sum(_words(text, s) for s in chunks[-1]) < max_words // 3:
        merged = chunks[-2] + chunks[-1]
        cut = _balanced_split(text, merged)
        halves = [merged[:cut], merged[cut:]]
        if all(half[-1].end - half[0].start <= max_chars for half in halves):
            chunks[-2:] = halves
    return [Span(chunk[0].start, chunk[-1].end) for chunk in chunks]
