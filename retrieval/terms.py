"""Terms: the word tokens that lexical search and highlighting compare."""

from __future__ import annotations

import re

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

_WORD = re.compile(r"\w+", re.UNICODE)


def content_terms(text: str) -> list[str]:
    """Lower-cased words that carry meaning, in order of first appearance, without repeats."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(text.casefold()):
        if word not in ENGLISH_STOP_WORDS and (len(word) > 1 or word.isdigit()):
            seen.setdefault(word, None)
    return list(seen)
