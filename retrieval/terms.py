"""Terms: the word tokens that lexical search and highlighting compare."""

from __future__ import annotations

import re
from functools import lru_cache

import snowballstemmer

_WORD = re.compile(r"\w+", re.UNICODE)

# scikit-learn's ENGLISH_STOP_WORDS (the Glasgow IR group's list), copied: importing it loads
# scikit-learn and SciPy, which took 1.5 s of every `briefbot` start, even `briefbot stats`.
_STOP_WORDS = """
    a about above across after afterwards again against all almost alone along already also
    although always am among amongst amoungst amount an and another any anyhow anyone anything
    anyway anywhere are around as at back be became because become becomes becoming been
    before beforehand behind being below beside besides between beyond bill both bottom but by
    call can cannot cant co con could couldnt cry de describe detail do done down due during
    each eg eight either eleven else elsewhere empty enough etc even ever every everyone
    everything everywhere except few fifteen fifty fill find fire first five for former
    formerly forty found four from front full further get give go had has hasnt have he hence
    her here hereafter hereby herein hereupon hers herself him himself his how however hundred
    i ie if in inc indeed interest into is it its itself keep last latter latterly least less
    ltd made many may me meanwhile might mill mine more moreover most mostly move much must my
    myself name namely neither never nevertheless next nine no nobody none noone nor not
    nothing now nowhere of off often on once one only onto or other others otherwise our ours
    ourselves out over own part per perhaps please put rather re same see seem seemed seeming
    seems serious several she should show side since sincere six sixty so some somehow someone
    something sometime sometimes somewhere still such system take ten than that the their them
    themselves then thence there thereafter thereby therefore therein thereupon these they
    thick thin third this those though three through throughout thru thus to together too top
    toward towards twelve twenty two un under until up upon us very via was we well were what
    whatever when whence whenever where whereafter whereas whereby wherein whereupon wherever
    whether which while whither who whoever whole whom whose why will with within without
    would yet you your yours yourself yourselves
"""
STOP_WORDS = frozenset(_STOP_WORDS.split())

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# Capitalised, but never a name: they date a report, they do not say what it is about.
CALENDAR_WORDS = frozenset(
    (
        *WEEKDAYS,
        *("january", "february", "march", "april", "may", "june", "july", "august"),
        *("september", "october", "november", "december", "today", "yesterday"),
    )
)


def content_words(text: str) -> list[str]:
    """Lower-cased words that carry meaning (no stop words or single letters), in order."""
    return [
        word
        for word in _WORD.findall(text.casefold())
        if word not in STOP_WORDS and (len(word) > 1 or word.isdigit())
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
