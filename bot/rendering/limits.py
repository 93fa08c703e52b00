"""Text trimming that respects platform limits without cutting a sentence in half."""

from __future__ import annotations


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
