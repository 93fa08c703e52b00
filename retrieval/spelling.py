"""Spelling: a question's misspelt words ("londn bombng suspcts") corrected to the closest
words the articles use, so keyword search still finds them."""

from __future__ import annotations

import re
from collections.abc import Collection

from rapidfuzz import fuzz, process

from retrieval.lexical import LexicalIndex
from retrieval.terms import content_words, porter_stem

# Shorter words have too many close neighbours to correct safely.
_MIN_LENGTH = 4
# How alike (0-100, rapidfuzz's normalised Indel similarity) a correction must be.
_MIN_SIMILARITY = 75.0
# A correction must be a word at least this many passages use: articles have typos too.
_MIN_PASSAGES = 2


class SpellingCorrector:
    def __init__(self, lexical: LexicalIndex, *, known_words: Collection[str]) -> None:
        self.lexical = lexical
        self.known_words = known_words

    def correct(self, question: str) -> tuple[str, dict[str, str]]:
        """``question`` with each lower-case word that no article holds replaced by the closest
        one that some article does, and the replacements made.

        Capitalised words are left as typed: an unknown name is more often a name the articles
        do not mention than a typo, and the answer says so. So are ``known_words`` ("freshmen"
        is a word, whether or not the articles use it).
        """
        candidates = [
            word
            for word in dict.fromkeys(content_words(question))
            if len(word) >= _MIN_LENGTH
            and not word.isdigit()
            and word not in self.known_words
            and _typed_lower(question, word)
        ]
        if not candidates:
            return question, {}
        frequencies = self.lexical.document_frequencies(candidates)
        unknown = [word for word in candidates if not frequencies.get(word)]
        if not unknown:
            return question, {}
        terms, documents = self.lexical.vocabulary()
        corrections: dict[str, str] = {}
        for word in unknown:
            stem = porter_stem(word)
            matches = [
                match
                for match in process.extract(
                    stem, terms, scorer=fuzz.ratio, score_cutoff=_MIN_SIMILARITY, limit=10
                )
                if documents[match[2]] >= _MIN_PASSAGES
            ]
            if not matches:
                continue
            # The closest, and among equally close the most common.
            _, _, best = max(matches, key=lambda m: (m[1], documents[m[2]]))
            surface = self.lexical.surface_form(terms[best])
            if surface and surface != word:
                corrections[word] = surface
        for wrong, right in corrections.items():
            question = re.sub(rf"\b{re.escape(wrong)}\b", right, question, flags=re.IGNORECASE)
        return question, corrections


def _typed_lower(question: str, word: str) -> bool:
    """True when ``word`` appears in ``question`` in lower case."""
    return re.search(rf"\b{re.escape(word)}\b", question) is not None
