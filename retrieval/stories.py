"""Stories: group articles about one event, thread them across days, rank them, and match
them to topics.

One embedding cannot tell events apart: the London bombings' market, security and claim-of-
responsibility articles are only 0.14-0.48 similar by mean passage vector while unrelated pairs
reach 0.35. As in streaming news clustering (Miranda et al., EMNLP 2018), articles are compared
on several signals at once — their meaning, the rare words of their title and lead, and the
names they mention — and a story can say which names its articles share. A reaction is also
linked to the event it names ("France raises security level in response to London bombings").
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np
import numpy.typing as npt

from corpus.model import Article
from retrieval.chunking import sentence_spans
from retrieval.embedding import Vectors
from retrieval.terms import CALENDAR_WORDS, STOP_WORDS, content_words, porter_stem
from retrieval.window import Window

# How much each signal counts, and the similarity at which two articles tell one story. Chosen
# on the hand-labelled Wikinews stories (benchmarks/story_eval.py): the words of title and lead
# are the strongest single signal (1-day pairwise F1 0.83 alone, the mean passage embedding
# 0.76, names 0.74); together 0.90 on 1-day and 0.86 on 7-day windows. A lead of about 100
# words beat 60, 160, 250 and 400: long enough for the event's who and where, short of the
# background paragraphs that make unrelated stories look alike.
_MEANING_WEIGHT = 1.0
_WORDS_WEIGHT = 2.0
_NAMES_WEIGHT = 0.5
_LEAD_WORDS = 100

# A capitalised word or an acronym: names of people, places and organisations, and the
# sentence-initial words that their rarity weight then discounts.
_NAME = re.compile(r"\b[A-Z][\w'’-]*\w|\b[A-Z]{2,}\b")
_NOT_NAMES = STOP_WORDS | CALENDAR_WORDS

# The event a reaction names, in its title or first sentence: "... after UK blasts", "... in
# response to London bombings", "Group claims responsibility for London explosions".
_REACTION = re.compile(
    r"\b(?:after|following|in (?:response|reaction|reply|retaliation) to|in the wake of"
    r"|responsibility for)\s+(?:the\s+|news\s+(?:of|that)\s+)?([^.,;:!?\"“”()]{3,80})",
    re.IGNORECASE,
)
# How close in meaning the named event must be to another article's title (or the event it
# names) for the two to tell one story. On the labelled stories 0.5-0.55 linked hurricane
# relief and oil articles to the Katrina coverage they name (7-day F1 0.860 -> 0.871, no 1-day
# change); 0.6 and above gained nothing, 0.45 and below also linked different stories.
_REACTION_SIMILARITY = 0.55
# A reaction follows its event within days: linking "London explosions" to another article about
# explosions in London two weeks later would join two attacks. On the labelled stories the
# links above needed 2.5 days (1.5: 7-day F1 0.863, half a day: none of the gain).
_REACTION_DAYS = 3.0

Matrix = npt.NDArray[np.floating[Any]]
Links = npt.NDArray[np.bool_]
Sparse = Any
"""A SciPy sparse matrix, as scikit-learn returns it (neither ships type hints)."""


def _opening(article: Article) -> str:
    """The first words of the text: where a news article says what happened."""
    return " ".join(article.text.split()[:_LEAD_WORDS])


def lead(article: Article) -> str:
    """The title (twice: it is the article's own summary) and the first words of the text."""
    return f"{article.title}. {article.title}. {_opening(article)}"


@dataclass(frozen=True)
class Rarity:
    """How rare each term (as the keyword index stems it) is in the store: a shared "Tube" says
    more than a shared "said"."""

    document_frequency: Mapping[str, int]
    documents: int

    def weight(self, term: str) -> float:
        """Smoothed inverse document frequency (scikit-learn's): a word every stored passage
        holds still counts a little, so a store of a few articles on one event still groups
        them (and on the labelled stories it scores as well: 7-day F1 0.86 against 0.85)."""
        return math.log((self.documents + 1) / (self.document_frequency.get(term, 0) + 1)) + 1


@dataclass(frozen=True)
class Signals:
    """What articles are compared by: one row per article."""

    meaning: Vectors
    """Unit mean passage vectors."""
    words: Sparse
    """TF-IDF of the title and lead, L2-normalised."""
    names: Sparse
    """Rarity-weighted names in the title and lead, L2-normalised."""
    name_forms: list[dict[str, str]]
    """Per article: each name's stem and how it is written."""
    reactions: Links
    """Pairs where one article reacts to the event the other tells of."""

    def links(self, similarity: Matrix, threshold: float) -> Links:
        """Pairs that tell one story: similar enough, or a reaction and its event."""
        result: Links = (similarity >= threshold) | self.reactions
        return result

    def similarity(self) -> Matrix:
        """Every pair's similarity: the signals' cosines, weighted."""
        total = _MEANING_WEIGHT + _WORDS_WEIGHT + _NAMES_WEIGHT
        combined = (
            _MEANING_WEIGHT * (self.meaning @ self.meaning.T)
            + _WORDS_WEIGHT * (self.words @ self.words.T).toarray()
            + _NAMES_WEIGHT * (self.names @ self.names.T).toarray()
        )
        result: Matrix = combined / total
        return result


def _names(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for match in _NAME.finditer(text):
        word = match.group(0).strip("'’")
        folded = word.casefold()
        if len(folded) > 1 and folded not in _NOT_NAMES:
            found.setdefault(porter_stem(folded), word)
    return found


def reactions_named(article: Article) -> list[str]:
    """The events ``article`` says it reacts to, in its title or first sentence."""
    opening = _opening(article)
    first = next((opening[s.start : s.end] for s in sentence_spans(opening)), "")
    return [m.group(1).strip() for m in _REACTION.finditer(f"{article.title}. {first}")]


def within(articles: Sequence[Article], days: float) -> Links:
    """Pairs of ``articles`` published at most ``days`` apart."""
    when = np.array([a.when.timestamp() for a in articles])
    result: Links = np.abs(when[:, None] - when[None, :]) <= days * 86400
    return result


def _reactions(
    articles: Sequence[Article],
    name_forms: Sequence[Mapping[str, str]],
    embed: Callable[[list[str]], Vectors],
) -> Links:
    """Pairs where one article names an event (by a name the other's lead mentions too) that
    means what the other's title, or an event the other names, says: a market fall "after UK
    blasts" and a claim of "responsibility for London explosions" share no telling words, but
    name one event."""
    named = [reactions_named(a) for a in articles]
    close = within(articles, _REACTION_DAYS)
    holders: dict[str, set[int]] = {}
    for j, forms in enumerate(name_forms):
        for stem in forms:
            holders.setdefault(stem, set()).add(j)
    candidates = [
        (i, phrase, j)
        for i, phrases in enumerate(named)
        for phrase in phrases
        for j in sorted(set().union(*(holders.get(n, set()) for n in _names(phrase))) - {i})
        if close[i, j]
    ]
    result = np.zeros((len(articles), len(articles)), dtype=bool)
    if not candidates:
        return result
    # An untitled article (pasted text) is compared by the events it names, if any.
    compared = {
        j: [t for t in (articles[j].title, *named[j]) if t.strip()] for _, _, j in candidates
    }
    texts = list(dict.fromkeys(chain((p for _, p, _ in candidates), *compared.values())))
    row = {text: index for index, text in enumerate(texts)}
    vectors = embed(texts)
    for i, phrase, j in candidates:
        closest = max(
            (float(vectors[row[phrase]] @ vectors[row[t]]) for t in compared[j]), default=0.0
        )
        if closest >= _REACTION_SIMILARITY:
            result[i, j] = result[j, i] = True
    return result


def signals(
    articles: Sequence[Article],
    meaning: Vectors,
    *,
    rarity: Rarity,
    embed: Callable[[list[str]], Vectors],
) -> Signals:
    """The signals of ``articles``, whose unit mean passage vectors are ``meaning``; ``embed``
    gives the vectors of the events reactions name."""
    # Imported here: scikit-learn takes 1.5 s to import, which commands that never make a
    # briefing (`briefbot stats`, `feeds list`) should not pay.
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.preprocessing import normalize

    leads = [lead(a) for a in articles]
    counts = [Counter(porter_stem(w) for w in content_words(text)) for text in leads]
    words = [{t: (1 + math.log(n)) * rarity.weight(t) for t, n in c.items()} for c in counts]
    name_forms = [_names(text) for text in leads]
    names = [{t: rarity.weight(t) for t in forms} for forms in name_forms]
    vectoriser = DictVectorizer()
    matrix = vectoriser.fit_transform(words + names)
    return Signals(
        meaning=meaning,
        words=normalize(matrix[: len(articles)]),
        names=normalize(matrix[len(articles) :]),
        name_forms=name_forms,
        reactions=_reactions(articles, name_forms, embed),
    )


def cluster(links: Links) -> list[list[int]]:
    """Indices grouped into stories, largest first: articles linked (similar enough to tell one
    story) directly or through others — single linkage, which on the labelled stories keeps a
    story's angles together (7-day F1 0.85, against 0.82 for average linkage)."""
    story = [-1] * len(links)
    for first in range(len(links)):
        if story[first] >= 0:
            continue
        story[first], reached = first, [first]
        while reached:
            for other in np.flatnonzero(links[reached.pop()]).tolist():
                if story[other] < 0:
                    story[other] = first
                    reached.append(other)
    groups: dict[int, list[int]] = {}
    for index, label in enumerate(story):
        groups.setdefault(label, []).append(index)
    return sorted(groups.values(), key=lambda g: (-len(g), g[0]))


def thread(links: Links, members: Sequence[int], earlier: Sequence[int]) -> list[int]:
    """The ``earlier`` articles a story continues: linked to a member, or to an earlier article
    already in the thread — the same rule that grouped the story, followed back in time."""
    found: list[int] = []
    frontier = list(members)
    left = set(earlier)
    while frontier and left:
        reached = [e for e in left if links[frontier, e].any()]
        left.difference_update(reached)
        found += reached
        frontier = reached
    return sorted(found)


def shared_names(
    forms: Sequence[Mapping[str, str]], *, rarity: Rarity, limit: int = 3
) -> list[str]:
    """The rarest names two or more of a story's articles mention: why they were grouped."""
    counts = Counter(stem for names in forms for stem in names)
    shared = [stem for stem, n in counts.items() if n >= 2]
    shared.sort(key=lambda stem: (-counts[stem] * rarity.weight(stem), stem))
    written = {stem: names[stem] for names in reversed(forms) for stem in names}
    return [written[stem] for stem in shared[:limit]]


@dataclass(frozen=True, order=True)
class Importance:
    """What ranks a story, compared field by field: size first, so the window's largest story
    always leads; then how much of the window speaks of its names, how long it has run, how
    recent it is, and how much was written on it — never the order articles were added. On
    the labelled weeks, salience before days breaks more ties right (lead story 25/29 weeks
    against 24/29).
    """

    size: float
    salience: float
    days: int
    recency: float
    words: int


def importance(
    members: Sequence[Article],
    *,
    days: int,
    salience: float,
    window: Window,
) -> Importance:
    """A story's rank: its articles, and half as much again for each further outlet."""
    outlets = len({(a.source or a.url or a.title).casefold() for a in members})
    span = max((window.end - window.start).total_seconds(), 1.0)
    newest = max((a.published_at or window.start) for a in members)
    recency = min(max((newest - window.start).total_seconds() / span, 0.0), 1.0)
    return Importance(
        size=len(members) + 0.5 * (outlets - 1),
        days=days,
        salience=round(salience, 3),
        recency=round(recency, 3),
        words=sum(len(a.text.split()) for a in members),
    )


def salience(
    forms: Sequence[Mapping[str, str]],
    mentions: Sequence[Mapping[str, str]],
    *,
    rarity: Rarity,
) -> float:
    """How much the window's news names what a story names: its most telling name's share of
    the window's articles, times that name's rarity — on the day of an attack, every article
    mentions the city, so a story about it outranks one of its own size about something else."""
    stems = {stem for names in forms for stem in names}
    counts = Counter(stem for names in mentions for stem in names if stem in stems)
    return max((n / len(mentions) * rarity.weight(s) for s, n in counts.items()), default=0.0)


def matching_topic(
    members: Sequence[Article],
    centroid: Vectors,
    topics: Sequence[str],
    topic_vectors: Vectors | None,
    *,
    threshold: float,
) -> str | None:
    """The topic a story is about, if any: of those whose every word its titles hold, else of
    those whose meaning is at least ``threshold`` similar to the story as a whole (its
    centroid), the most similar.

    One member close to the topic is not enough, nor the topic's words in a lead: a Gaza story
    that mentions "the bombings in London" is not about "London bombings"."""
    if topic_vectors is None:
        return None
    titles = {stem for a in members for stem in _stems(a.title)}
    scores = dict(zip(topics, (topic_vectors @ centroid).tolist(), strict=True))
    named = [t for t in topics if (words := _stems(t)) and words <= titles]
    close = named or [t for t in topics if scores[t] >= threshold]
    return max(close, key=lambda t: scores[t]) if close else None


def _stems(text: str) -> set[str]:
    return {porter_stem(w) for w in content_words(text)}
