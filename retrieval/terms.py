"""Terms: the word tokens that lexical search and highlighting compare."""

from __future__ import annotations

import re

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

_WORD = re.compile(r"\w+", re.UNICODE)


def content_words(text: str) -> list[str]:
    """Lower-cased words that carry meaning (no stop words or single letters), in order."""
    return [
        word
        for word in _WORD.findall(text.casefold())
        if word not in ENGLISH_STOP_WORDS and (len(word) > 1 or word.isdigit())
    ]


def content_terms(text: str) -> list[str]:
    """Content words in order of first appearance, without repeats."""
    return list(dict.fromkeys(content_words(text)))
