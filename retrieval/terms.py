"""Terms: the word tokens that lexical search and highlighting compare."""

from __future__ import annotations

import re
from functools import lru_cache

import snowballstemmer
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


_STEMMER = snowballstemmer.stemmer("english")
# The algorithm of SQLite FTS5's "porter" tokenizer, to name terms as the keyword index does.
_PORTER = snowballstemmer.stemmer("porter")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A content word's stem, so that "bombers" meets "bomber" and "bombing"."""
    return str(_STEMMER.stemWord(word))


def stems(text: str) -> set[str]:
    """The stems of ``text``'s content words."""
    return {stem(word) for word in content_words(text)}


@lru_cache(maxsize=65536)
def porter_stem(word: str) -> str:
    """A lower-cased word's stem as the keyword index (FTS5's porter tokenizer) stores it."""
    return str(_PORTER.stemWord(word))
