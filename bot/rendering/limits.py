"""Text trimming that respects platform limits without cutting a sentence in half."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from retrieval.chunking import sentence_spans


def fit(text: str, limit: int) -> str:
    """``text`` if it fits; otherwise cut at the last word boundary and mark the cut with "…".

    Callers drop whole sentences first; this is the last resort for one over-long sentence.
    """
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0] if " " in text[: limit - 1] else text[: limit - 1]
    return cut.rstrip() + "…"


def take_whole(parts: list[str], limit: int, *, separator: str = "\n") -> list[str]:
    """The leading ``parts`` whose joined length fits ``limit``; at least the first, fitted."""
    kept: list[str] = []
    used = 0
    for part in parts:
        extra = len(part) + (len(separator) if kept else 0)
        if used + extra > limit:
            break
        kept.append(part)
        used += extra
    if not kept and parts:
        kept = [fit(parts[0], limit)]
    return kept


@dataclass(frozen=True)
class Excerpt:
    """A passage trimmed to a length, with its highlight offsets moved to match."""

    text: str
    highlights: tuple[tuple[int, int], ...]


def excerpt(text: str, highlights: Sequence[tuple[int, int]], limit: int) -> Excerpt:
    """``text`` cut to at most ``limit`` characters around its highlighted sentences.

    Highlights that do not fit together are dropped from the last. Whole sentences are kept,
    taken alternately after and before the highlighted ones, and each cut is marked with "…".
    Platforms cap message sizes; the answering sentence must survive.
    """
    if len(text) <= limit:
        return Excerpt(text, tuple(highlights))
    marks = sorted(highlights) or [(0, 0)]
    while len(marks) > 1 and marks[-1][1] - marks[0][0] + 4 > limit:
        marks.pop()
    start, end = marks[0][0], max(e for _, e in marks)
    if end - start + 4 > limit:  # one highlight alone is too long: keep its start, fitted
        piece = fit(text[start:end], limit - 4)
        prefix = "… " if text[:start].strip() else ""
        suffix = "" if piece.endswith("…") or not text[end:].strip() else " …"
        bold_end = len(prefix) + len(piece.rstrip("…"))
        return Excerpt(prefix + piece + suffix, ((len(prefix), bold_end),))
    sentences = sentence_spans(text)
    # A highlight may begin or end inside a sentence: widen to whole sentences when they fit.
    start = min([start, *(s.start for s in sentences if s.start <= start < s.end)])
    end = max([end, *(s.end for s in sentences if s.start < end <= s.end)])
    if end - start + 4 > limit:
        start, end = marks[0][0], max(e for _, e in marks)
    after = [s for s in sentences if s.start >= end]
    before = [s for s in reversed(sentences) if s.end <= start]
    while after or before:
        grew = False
        for side in (after, before):
            if not side:
                continue
            new_start, new_end = min(start, side[0].start), max(end, side[0].end)
            if new_end - new_start + 4 <= limit:
                start, end = new_start, new_end
                side.pop(0)
                grew = True
            else:
                side.clear()
        if not grew:
            break
    prefix = "… " if text[:start].strip() else ""
    suffix = " …" if text[end:].strip() else ""
    shift = len(prefix) - start
    return Excerpt(
        prefix + text[start:end] + suffix,
        tuple((s + shift, e + shift) for s, e in marks if s >= start and e <= end and e > s),
    )
