"""Key sentences: pick the few verbatim sentences that carry the news of a story."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from retrieval.chunking import Span, is_prose, sentence_spans
from retrieval.embedding import Embedder
from retrieval.terms import WEEKDAYS, content_words, stem, stems

Matrix = npt.NDArray[np.floating[Any]]
# What a sentence leans on that a briefing may not show: who is speaking, the heading of the
# list it is an item of, or words it lost (never shown unless nothing else is left); or what a
# pronoun stands for (shown right after the sentence before it).
Missing = Literal["speaker", "list", "words", "antecedent"] | None

# Weights of the secondary signals, in standard deviations of the word-centrality score.
# Chosen on BBC News Summary (benchmarks/briefing_eval.py): meaning helps a little; a lead prior
# larger than a tie-breaker lowers ROUGE there, since those references pick sentences by content
# rather than position, so it only settles near-ties in favour of the lead. A shortlist of 20
# (or 3 per sentence asked for) scores the same there as embedding every sentence.
_MEANING_WEIGHT = 0.2
_LEAD_WEIGHT = 0.2
_SHORTLIST = 20
_SHORTLIST_PER_PICK = 3

# A sentence repeats the headline when it holds at least two thirds of the headline's content
# words and they are at least 40% of its own. On 130 hand-labelled Wikinews sentences (non-July
# 2005, 82 restating their title) this flags restatements with precision 0.93, recall 0.52: it
# catches "Afghanistan held its first democratic general elections" under "Afghanistan holds
# first democratic general elections" but keeps leads that add a fact, such as who was named or
# how many died. Embedding cosine with the title is no sharper (0.94 / 0.54 with the same word
# test, 0.89 / 0.67 alone at 0.75, passing detailed leads) and would need every sentence embedded.
_HEADLINE_COVERED = 2 / 3
_HEADLINE_SHARE = 0.4
# Words that date or attribute a report but add no news ("today", "on Monday", "said").
_FRAMING = frozenset(
    stem(word)
    for word in (
        *("today", "yesterday", "tonight"),
        *WEEKDAYS,
        *("said", "says", "announced", "reported", "according"),
    )
)
# A quotation: from an opening double quote to the closing one or the end of the paragraph, so
# a quote that spans sentences covers all of them. A straight quote opens only before a word and
# not right after one or a stop: a stray closing mark would otherwise turn the rest of the
# paragraph into a quotation.
_QUOTATION = re.compile(r'(?<![\w.,!?])"(?=\S)[^"\n]*(?:"|$)|“[^”\n]*(?:”|$)', re.MULTILINE)
_SPEECH = (
    r"(?:said|says|say|saying|told|tells|added|adds|stated|announced|declared|claimed|claims"
    r"|wrote|writes|warned|insisted|explained|noted|asked|asks|replied|commented|reported"
    r"|described|called|quoted|read|reads|according\s+to|statement|spokes(?:man|woman|person))"
)
_ATTRIBUTION = re.compile(rf"\b{_SPEECH}\b", re.IGNORECASE)
# "he said" names no speaker: the reader needs the sentence that said who "he" is.
_PRONOUN_SPEAKER = re.compile(
    rf"\b(?:he|she|it|they|we|I)\s+(?:(?:has|have|had|\w+ly)\s+){{0,2}}{_SPEECH}\b", re.IGNORECASE
)
# Outside quotation marks, "we" or "our" is a statement printed without them, as a group's
# statement reproduced as a block ("All IRA units have been ordered…", "We have repeatedly
# warned…"). Capitalised only where it opens the sentence: "World War I", "US".
_FIRST_PERSON = re.compile(
    r"\b(?:we|us|our|ours|my|me)\b|^\s*(?:We|Our|My)\b|\bI\b(?='\w|\s+[a-z])"
)
# A sentence opening with a dash before its quotation starts with the credit of the quotation
# before it ('— Alex Attwood, SDLP *"I know…"', a list of reactions): not this one's speaker.
_CREDIT = re.compile(r"\s*[—–]")
_WORD = re.compile(r"[^\W\d_][\w'-]*")
# Three words outside the quotation say who is speaking even without a verb of saying
# ("Lothar Bisky, The Left chair: …", "Johnson defended his approach, …").
_SPEAKER_WORDS = 3

# A sentence whose subject (or its owner) is a pronoun or "this" points back at a sentence the
# briefing does not show. Not an "it" that only anticipates a clause ("It is expected that…",
# "It has been confirmed by … that…"), nor "this" in a date ("This week, …"), nor "Her Majesty".
_BE = r"(?:is|was|has\s+been|had\s+been|will\s+be|would\s+be)"
_NEEDS_ANTECEDENT = re.compile(
    r"(?:(?:But|And|Yet|So|However|Still|Also),?\s+)?"
    r"(?:(?:He|She|They|Their|Its)\b"
    r"|(?:His|Her)\b(?!\s+(?:Majesty|Royal|Highness|Holiness|Excellency)\b)"
    rf"|It\b(?!\s+(?:{_BE}\s+(?:not\s+)?(?:\w+ed|known|thought|understood|shown|unclear|likely"
    r"|unlikely|possible|clear|true)\b[^.;]*?"
    rf"|(?:{_BE}|seems|seemed|appears|appeared|remains|remained)\s+(?:\w+\s+){{0,2}})"
    r"(?:that|to|whether|if|how|why|when)\b)"
    r"|(?:This|These|That)\b(?!\s+(?:year|week|weekend|month|morning|afternoon|evening)\b))",
    re.IGNORECASE,
)
# The same after a short opening phrase without a name in it ("In 2003, he fell…"; but not
# "Upon Khatami's return, he…"). Only "he", "she", "they": "it" there is mostly "it is likely".
_OPENER_THEN_PRONOUN = re.compile(r"[A-Z][\w'’]*(?:\s+[^\sA-Z,][^\s,]*){0,6},\s+(?:he|she|they)\b")
# A sentence opening with an adverb that turns against the one before it ("However, John
# Wall's company is not the only…") reads as a retort to nothing when shown alone. Not "However
# much it costs", "Instead of raising taxes", "Otherwise healthy people": those stand alone.
_CONTRAST = re.compile(r"(?:(?:However|Instead|Otherwise),|Nevertheless,?|Nonetheless,?)\s")
# A list item ("* Lindsey Germaine: Piccadilly Line train, …") means something only under its
# heading ("The four alleged suicide bombers"). A hyphen or wikitext's "#" only before a space;
# an asterisk also before a word, as wikitext writes items ("*Chancellor Gerhard Schröder: …"),
# but not one that emphasises it ("*Not* guilty"); never a dash, which credits a quotation
# ("— Alex Attwood").
_LIST_ITEM = re.compile(r"\s*(?:[•‣▪◦]|[-#](?=\s)|\*(?=\s|[^\s*]+\s))")
# Text converted from markup loses a link's words where its target was empty: the sentence then
# starts mid-way ("of The New York Times, along with Cooper at TIME, face jail…") or leaves a
# gap ("the head of the, Sir Andrew Turnbull", "Early Friday morning,, the son of…"): 42 of the
# 12,607 prose sentences of the raw Wikinews demo window, nearly all truly broken. Not "for,"
# or "in,", which English strands ("108 for, 125 against", "stepping in, …"), nor "Group A,".
_STARTS_MIDWAY = re.compile(
    r"(?:of|and|or|the|a|an|in|at|to|for|with|from|by|on|is|was|are|were)\s"
)
_GAP = re.compile(r"(?<![^\s(])(?:the|The|a|an)\s?,|,\s*,|\(\s*\)")


@dataclass(frozen=True)
class Selected:
    """A verbatim sentence: ``texts[article_index][start:end] == text``."""

    article_index: int
    start: int
    end: int
    text: str


def _terms(text: str) -> list[str]:
    """Content words with plurals folded, so that "profit" and "profits" count as one."""
    return [
        w[:-1] if len(w) > 4 and w.endswith("s") and not w.endswith("ss") else w
        for w in content_words(text)
    ]


def _centrality(vectors: Matrix, articles: npt.NDArray[np.intp]) -> Matrix:
    """Cosine of each row to the story's centroid, in which every article weighs the same.

    Balancing articles makes the centroid what the outlets agree on, not what the longest says.
    """
    centroid = np.mean([vectors[articles == a].mean(axis=0) for a in np.unique(articles)], axis=0)
    norm = float(np.linalg.norm(centroid))
    result: Matrix = vectors @ centroid / (norm or 1.0)
    return result


def _standardised(values: Matrix) -> Matrix:
    spread = float(values.std())
    return (values - values.mean()) / spread if spread > 0 else np.zeros_like(values)


def _repeats_headline(sentence: str, headline: set[str]) -> bool:
    """Whether ``sentence`` mostly restates a headline whose content-word stems are ``headline``."""
    words = stems(sentence) - _FRAMING
    shared = len(words & headline)
    return (
        bool(headline)
        and shared >= _HEADLINE_COVERED * len(headline)
        and shared >= _HEADLINE_SHARE * len(words)
    )


def _outside_quotes(
    text: str, span: Span, quotations: Sequence[tuple[int, int]]
) -> tuple[str, int]:
    """The text of the sentence at ``span`` outside quotation marks, and how many of its
    characters are inside them."""
    inside = [(max(a, span.start), min(b, span.end)) for a, b in quotations]
    inside = [(a, b) for a, b in inside if a < b]
    pieces, cursor = [], span.start
    for a, b in inside:
        pieces.append(text[cursor:a])
        cursor = b
    pieces.append(text[cursor : span.end])
    if len(pieces) > 1 and _CREDIT.match(pieces[0]):
        pieces[0] = ""
    return " ".join(pieces), sum(b - a for a, b in inside)


def _speech(text: str, span: Span, quotations: Sequence[tuple[int, int]]) -> tuple[Missing, bool]:
    """What the sentence at ``span`` lacks if it is speech (a quotation, half its characters or
    more, or a first-person statement): the speaker when none is named, the antecedent when the
    speaker is a pronoun ("he said"); and whether it is a first-person statement printed without
    quotation marks and without a named speaker."""
    unquoted, quoted = _outside_quotes(text, span, quotations)
    speaker = _PRONOUN_SPEAKER.sub(" ", unquoted)
    if _ATTRIBUTION.search(speaker):
        return None, False
    pronoun = _ATTRIBUTION.search(unquoted) is not None
    if quoted * 2 >= span.end - span.start:
        if pronoun:
            return "antecedent", False
        return (None if len(_WORD.findall(speaker)) >= _SPEAKER_WORDS else "speaker"), False
    if _FIRST_PERSON.search(unquoted):
        return ("antecedent" if pronoun else "speaker"), True
    return None, False


def _lacks_context(text: str, spans: Sequence[Span]) -> list[Missing]:
    """For each sentence of ``text`` at ``spans`` (in order), the context it leans on that a
    briefing may not show: who is speaking, the heading of its list, the words it lost, or
    what its pronoun (or opening "However") stands for."""
    quotations = [match.span() for match in _QUOTATION.finditer(text)]
    speech = [_speech(text, span, quotations) for span in spans]
    missing: list[Missing] = []
    for index, span in enumerate(spans):
        lacks, _ = speech[index]
        # Between two sentences of a statement printed without quotation marks, a sentence in the
        # third person is part of it too ("The Army Council took these decisions…").
        amid = 0 < index < len(spans) - 1 and speech[index - 1][1] and speech[index + 1][1]
        starts_quoted = any(a <= span.start < b for a, b in quotations)
        points_back = not starts_quoted and any(
            pattern.match(text, span.start)
            for pattern in (_NEEDS_ANTECEDENT, _OPENER_THEN_PRONOUN, _CONTRAST)
        )
        if lacks == "speaker" or amid:
            missing.append("speaker")
        elif _LIST_ITEM.match(text, span.start):
            missing.append("list")
        elif _STARTS_MIDWAY.match(text, span.start) or _GAP.search(text, span.start, span.end):
            missing.append("words")
        else:
            missing.append("antecedent" if lacks or points_back else None)
    return missing


def key_sentences(
    texts: Sequence[str],
    *,
    k: int,
    embedder: Embedder | None = None,
    redundancy: float = 0.85,
    headline: str | None = None,
) -> list[Selected]:
    """The (at most) ``k`` sentences of a story's articles that best carry its news.

    Score: how central a sentence's words are to the story (cosine with the centroid of
    term-frequency vectors), plus, with an embedder, how central its meaning is, plus a small
    prior for each article's lead. Plain term frequency rather than TF-IDF: an IDF taken over a
    story's own sentences would discount exactly the words the story is about. Sentences are
    taken best first, skipping any whose cosine (embeddings, else term vectors) with one already
    taken reaches ``redundancy``: a threshold for near-repeats, as across outlets, rather than an
    MMR penalty, which would trade central sentences for merely different ones. Short sentences,
    lines without a final stop (headings, captions) and bylines are never chosen. Sentences that
    repeat ``headline`` (shown above them) or lack context are held back: taken, best first, only
    when the others have run out. Lacking context means a quotation or first-person statement
    that does not say who is speaking, a list item (shown without its heading), a sentence
    that lost words in conversion from markup, or a pronoun subject or speaker ("He said…") or
    an opening "However" — these two unless the sentence before is taken too, and so shown just
    above.

    Returned in reading order: by article, then by position in it.
    """
    # Imported here: scikit-learn takes 1.5 s to import, which commands that never make a
    # briefing (`briefbot stats`, `feeds list`) should not pay.
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.preprocessing import normalize

    # Built in reading order, so sorting chosen indexes restores it.
    candidates = []
    missing: list[Missing] = []
    repeats: list[bool] = []
    headline_words = stems(headline) if headline else set()
    for index, text in enumerate(texts):
        spans = [s for s in sentence_spans(text) if is_prose(text[s.start : s.end])]
        candidates += [(index, position, span) for position, span in enumerate(spans)]
        missing += _lacks_context(text, spans)
        repeats += [_repeats_headline(text[s.start : s.end], headline_words) for s in spans]
    if k <= 0 or not candidates:
        return []
    held = np.array([m is not None or r for m, r in zip(missing, repeats, strict=True)])
    sentences = [texts[a][s.start : s.end] for a, _, s in candidates]
    articles = np.array([a for a, _, _ in candidates], dtype=np.intp)
    lead = np.array([1.0 / (1 + position) for _, position, _ in candidates])
    try:
        terms: Matrix = normalize(
            CountVectorizer(analyzer=_terms).fit_transform(sentences)
        ).toarray()
    except ValueError:  # not a single content word in the story
        terms = np.zeros((len(sentences), 1))
    score = _standardised(_centrality(terms, articles)) + _LEAD_WEIGHT * lead
    order = np.argsort(-score, kind="stable")
    similar = terms
    if embedder is not None:
        # Meaning only reorders a shortlist of the best by words: embedding every sentence of
        # five articles would spend most of the time on ones that cannot win. Held-back
        # sentences join it last, so that it holds as many usable ones as it can.
        order = np.lexsort((-score, held))[: max(_SHORTLIST_PER_PICK * k, _SHORTLIST)]
        similar = np.zeros((len(sentences), embedder.dim), dtype=np.float32)
        similar[order] = embedder.embed([sentences[i] for i in order])
        meaning = _standardised(_centrality(similar[order], articles[order]))
        order = order[np.argsort(-(score[order] + _MEANING_WEIGHT * meaning), kind="stable")]
    ranked = order.tolist()
    chosen: list[int] = []

    def fits(index: int) -> bool:
        return not chosen or float(np.max(similar[chosen] @ similar[index])) < redundancy

    def in_context(index: int) -> bool:
        """Shown right after the sentence before it, which names whom its pronoun stands for."""
        return (
            missing[index] == "antecedent"
            and not repeats[index]
            and index - 1 in chosen
            and articles[index - 1] == articles[index]
        )

    # Best first among the usable ones; taking one may make usable a sentence that follows it.
    # On BBC News Summary, holding back every sentence that lacks context cost 0.038 ROUGE-1 at
    # the length of the reference summaries (0.841 to 0.803; 0.005 at k = 3), whose extracts keep
    # "he said" next to the sentence naming him; letting a pronoun follow its sentence takes back
    # a third of that (0.816).
    while len(chosen) < k:
        usable = (
            i for i in ranked if i not in chosen and (not held[i] or in_context(i)) and fits(i)
        )
        best = next(usable, None)
        if best is None:
            break
        chosen.append(best)
    # Then, when nothing else is left, the held-back ones.
    for index in ranked:
        if len(chosen) == k:
            break
        if index not in chosen and fits(index):
            chosen.append(index)
    return [
        Selected(a, span.start, span.end, texts[a][span.start : span.end])
        for a, _, span in (candidates[i] for i in sorted(chosen))
    ]
