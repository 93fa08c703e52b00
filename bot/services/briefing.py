"""The briefing service: the day's stories, clustered, ranked, each with key quotes and sources."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import ClassVar

import numpy as np

from corpus.database import Tables
from corpus.model import Article
from corpus.store import ArticleStore
from retrieval.embedding import Embedder, Vectors, article_vectors
from retrieval.key_sentences import key_sentences
from retrieval.lexical import LexicalIndex
from retrieval.search import Searcher
from retrieval.stories import (
    Importance,
    Rarity,
    cluster,
    importance,
    matching_topic,
    salience,
    shared_names,
    signals,
    thread,
    within,
)
from retrieval.vector_index import VectorIndex
from retrieval.window import Window


@dataclass(frozen=True, kw_only=True)
class KeyQuote:
    text: str
    article: Article


@dataclass(frozen=True, kw_only=True)
class Story:
    headline: str
    quotes: list[KeyQuote]
    sources: list[Article]
    topic: str | None = None
    update: bool = False
    """It continues a story told before: earlier articles, or ones the channel was sent."""
    earlier: list[Article] = field(default_factory=list)
    """The articles of days before the window that this story continues, oldest first."""
    day: int = 1
    """Which day of the story the window's newest article is on (day 1: it began then)."""
    shared: tuple[str, ...] = ()
    """Names its articles have in common: why they were grouped."""

    @property
    def article_ids(self) -> list[int]:
        return [a.id for a in self.sources if a.id is not None]

    @property
    def thread(self) -> str | None:
        """How long a story that began before today has run: "day 3 · 9 articles so far"."""
        if self.day == 1 and not self.earlier:
            return None
        articles = len(self.sources) + len(self.earlier)
        return f"day {self.day} · {articles} article{'s' if articles != 1 else ''} so far"

    @property
    def tags(self) -> list[str]:
        """What a reader sees beside the headline: whether it is an update, how long the story
        has run, its topic."""
        return [t for t in ("update" if self.update else "", self.thread, self.topic) if t]

    @property
    def why(self) -> str | None:
        """Why its articles were grouped, for a story of more than one."""
        if len(self.sources) < 2 or not self.shared:
            return None
        return "grouped by " + ", ".join(self.shared)


@dataclass(frozen=True, kw_only=True)
class Briefing:
    window: Window
    stories: list[Story] = field(default_factory=list)
    topics: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    """The only sources it was made from, when its channel chose some."""
    title: str = "News briefing"
    """What the briefing is, for its heading: a story's timeline is one too."""
    latest: datetime | None = None
    """For an empty window: when the newest article before it (or after it, when there is none
    before) was published, in the window's timezone, to suggest a day that has articles."""
    retry: str = "briefing"
    """How the person asks for one day's briefing, in that suggestion ("--date" in the CLI)."""

    @property
    def empty_note(self) -> str:
        about = f" about {', '.join(self.topics)}" if self.topics else ""
        of = f" {', '.join(self.sources)}" if self.sources else ""
        if self.window.label.startswith("since"):
            return f"No new{of} articles{about} {self.window.label}."
        note = f"No{of} articles{about} from {self.window.label}."
        if self.latest is None:
            return note
        day = self.latest.date().isoformat()
        return f"{note} The latest are from {day} — try: {self.retry} {day}"

    def to_dict(self) -> dict[str, object]:
        return {
            "window": {
                "start": self.window.start.isoformat(),
                "end": self.window.end.isoformat(),
                "label": self.window.label,
            },
            "stories": [
                {
                    "headline": s.headline,
                    "topic": s.topic,
                    "update": s.update,
                    "thread": s.thread,
                    "shared": list(s.shared),
                    "key_sentences": [q.text for q in s.quotes],
                    "sources": [_source(a) for a in s.sources],
                    "earlier": [_source(a) for a in s.earlier],
                }
                for s in self.stories
            ],
        }


def _source(article: Article) -> dict[str, object]:
    published = article.published_at.isoformat() if article.published_at else None
    return {
        "title": article.title,
        "source": article.source,
        "published_at": published,
        "url": article.url,
    }


class DeliveryLog(Tables):
    """Which articles each channel has already been briefed on, so stories are not repeated."""

    _SCHEMA = (
        "CREATE TABLE IF NOT EXISTS delivered_articles (platform TEXT NOT NULL,"
        " channel TEXT NOT NULL, article_id BIGINT NOT NULL, delivered_at TEXT NOT NULL,"
        " PRIMARY KEY (platform, channel, article_id))"
    )
    COMPONENT = "deliveries"
    MIGRATIONS: ClassVar[Mapping[str, Sequence[str]]] = {
        "sqlite": [_SCHEMA],
        "postgresql": [_SCHEMA],
    }

    def delivered(self, platform: str, channel: str, article_ids: Sequence[int]) -> set[int]:
        with self.reading() as conn:
            rows = conn.execute(
                "SELECT article_id FROM delivered_articles WHERE platform = ? AND channel = ?"
                f" AND {self.db.any_of('article_id')}",
                (platform, channel, self.db.values(article_ids)),
            ).fetchall()
        return {row[0] for row in rows}

    def record(
        self, platform: str, channel: str, briefing: Briefing, *, at: datetime | None = None
    ) -> None:
        when = (at or self.clock()).astimezone(UTC).isoformat()
        with self.transaction() as conn:
            conn.executemany(
                "INSERT INTO delivered_articles VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [(platform, channel, i, when) for s in briefing.stories for i in s.article_ids],
            )


class BriefingService:
    def __init__(
        self,
        store: ArticleStore,
        *,
        vectors: VectorIndex,
        lexical: LexicalIndex,
        searcher: Searcher,
        embedder: Embedder,
        deliveries: DeliveryLog,
        story_threshold: float,
        topic_threshold: float,
        thread_days: int,
        key_sentences_per_story: int = 3,
    ) -> None:
        self.store = store
        self.vectors = vectors
        self.lexical = lexical
        self.searcher = searcher
        self.embedder = embedder
        self.deliveries = deliveries
        self.story_threshold = story_threshold
        self.topic_threshold = topic_threshold
        self.thread_days = thread_days
        self.key_sentences_per_story = key_sentences_per_story

    def brief(
        self,
        window: Window,
        *,
        topics: Sequence[str] = (),
        limit: int = 8,
        channel: tuple[str, str] | None = None,
        sources: Collection[str] = (),
    ) -> Briefing:
        """The window's stories, best first, each linked to the articles of the ``thread_days``
        before it that it continues; with ``channel``, stories it already saw are left out
        unless they gained articles; with ``sources``, only their articles count."""
        articles, meaning = self._embedded(
            self.store.published_between(window.start, window.end, sources=sources)
        )
        topics = tuple(t.strip() for t in topics if t.strip())
        if not articles:
            return Briefing(window=window, topics=topics, sources=tuple(sources))
        before = window.start - timedelta(days=self.thread_days)
        earlier, earlier_meaning = self._embedded(
            self.store.published_between(before, window.start, sources=sources)
        )
        everyone = articles + earlier
        rarity = self._rarity()
        found = signals(
            everyone,
            np.vstack([meaning, earlier_meaning]),
            rarity=rarity,
            embed=self.embedder.embed,
        )
        similarity = found.similarity()
        links = found.links(similarity, self.story_threshold)
        count = len(articles)
        mentions = found.name_forms[:count]
        topic_vectors = self.embedder.embed(list(topics)) if topics else None
        ranked: list[tuple[Importance, Story]] = []
        for group in cluster(links[:count, :count]):
            members = [articles[i] for i in group]
            history = [everyone[i] for i in thread(links, group, range(count, len(everyone)))]
            topic = matching_topic(
                members,
                _centroid(meaning[group]),
                topics,
                topic_vectors,
                threshold=self.topic_threshold,
            )
            if topics and topic is None:
                continue
            seen: set[int] = set()
            if channel is not None:
                seen = self.deliveries.delivered(*channel, [a.id or 0 for a in members])
                if len(seen) == len(members):
                    continue
            forms = [found.name_forms[i] for i in group]
            names = shared_names(forms, rarity=rarity)
            central = similarity[np.ix_(group, group)].mean(axis=1)
            ordered = [members[i] for i in np.argsort(-central, kind="stable")]
            story = self._story(
                ordered,
                window=window,
                topic=topic,
                history=history,
                names=names,
                update=bool(history or seen),
            )
            rank = importance(
                members,
                days=story.day,
                salience=salience(forms, mentions, rarity=rarity),
                window=window,
            )
            ranked.append((rank, story))
        ranked.sort(key=lambda pair: pair[0], reverse=True)
        return Briefing(
            window=window,
            stories=[s for _, s in ranked[:limit]],
            topics=topics,
            sources=tuple(sources),
        )

    def timeline(
        self, words: str, *, limit: int = 20, sources: Collection[str] = ()
    ) -> Briefing | None:
        """One story's articles in the order they were published, across days, each with its one
        most telling sentence: the largest story of the few articles that best match ``words``,
        grouped by the same rule as a briefing's stories (each link within a month), among the
        articles (from ``sources``, when given) that match them (None when none does).

        Each article is an entry (a one-source story) so every platform renders it as it
        renders a briefing."""
        if not self.lexical.search(words, 1):
            return None  # a story is named by its words: no article holds any of them
        hits = self.searcher.search(words, k=_TIMELINE_CANDIDATES, sources=sources)
        candidates, meaning = self._embedded(list({h.article.id: h.article for h in hits}.values()))
        if not candidates:
            return None
        found = signals(candidates, meaning, rarity=self._rarity(), embed=self.embedder.embed)
        links = found.links(found.similarity(), self.story_threshold)
        links &= within(candidates, _TIMELINE_STEP_DAYS)
        # Stories come largest first; indexes are in order of match.
        story = next(g for g in cluster(links) if g[0] < _TIMELINE_SEEDS)[:limit]
        members = sorted((candidates[i] for i in story), key=attrgetter("when"))
        entries = []
        for article in members:
            chosen = key_sentences(
                [article.text], k=1, embedder=self.embedder, headline=article.title
            )
            quotes = [KeyQuote(text=c.text, article=article) for c in chosen]
            day = article.when.date().isoformat()
            entries.append(
                Story(headline=f"{day} · {article.title}", quotes=quotes, sources=[article])
            )
        first, last = members[0].when, members[-1].when
        span = (
            f"{first.date()} to {last.date()}" if first.date() != last.date() else str(first.date())
        )
        label = f"{candidates[story[0]].title} ({len(members)} articles, {span})"
        return Briefing(window=Window(first, last, label), stories=entries, title="Story timeline")

    def _embedded(self, articles: Sequence[Article]) -> tuple[list[Article], Vectors]:
        """The articles that have passages with a vector of the current model (after a model
        change, some have none until the next start embeds them), and their unit mean vectors."""
        found = self.store.passage_ids_of(a.id for a in articles if a.id is not None)
        known = self.vectors.indexed([p for ids in found.values() for p in ids])
        passages = {a: [p for p in ids if p in known] for a, ids in found.items()}
        kept = [a for a in articles if a.id is not None and passages.get(a.id)]
        if not kept:
            return [], np.zeros((0, self.embedder.dim), dtype=np.float32)
        return kept, article_vectors([self.vectors.vectors(passages[a.id or 0]) for a in kept])

    def _rarity(self) -> Rarity:
        terms, documents = self.lexical.vocabulary()
        return Rarity(dict(zip(terms, documents, strict=True)), len(self.lexical))

    def _story(
        self,
        ordered: list[Article],
        *,
        window: Window,
        topic: str | None,
        history: list[Article],
        names: list[str],
        update: bool,
    ) -> Story:
        """A story told by ``ordered`` (most central first), continuing ``history``."""
        chosen = key_sentences(
            [a.text for a in ordered],
            k=self.key_sentences_per_story,
            embedder=self.embedder,
            headline=ordered[0].title,
        )
        quotes = [KeyQuote(text=c.text, article=ordered[c.article_index]) for c in chosen]
        sources = sorted(ordered, key=attrgetter("when"))
        zone = window.start.tzinfo
        first = min(a.when for a in [*history, *sources]).astimezone(zone).date()
        last = sources[-1].when.astimezone(zone).date()
        return Story(
            headline=ordered[0].title,
            quotes=quotes,
            sources=sources,
            topic=topic,
            update=update,
            earlier=sorted(history, key=attrgetter("when")),
            day=(last - first).days + 1,
            shared=tuple(names),
        )


# Articles matching a timeline's words among which its story is looked for.
_TIMELINE_CANDIDATES = 50
# A timeline goes from article to article, each within a month of one it is linked to. Unbounded,
# links between articles months apart chained different stories that share a place or a cause
# ("Hurricane Katrina" began with a July terror alert; a German election timeline with the EU
# constitution votes). On the 44 labelled stories of 3+ articles, each asked for by its name
# (benchmarks/story_eval.py), timeline P/R/F1: unbounded 0.66/0.91/0.77, a month 0.85/0.81/0.83
# (two weeks 0.85/0.68/0.75, six weeks 0.83/0.85/0.84, two months 0.77/0.88/0.82).
_TIMELINE_STEP_DAYS = 30.0
# The story asked for is the largest of those of the three best-matching articles: the very best
# match is often a side article ("Film about Travis County DA's investigation" for "Tom DeLay
# indictment"). Timeline F1 on the labelled stories 0.828 -> 0.886 (two: 0.881, five: 0.824).
_TIMELINE_SEEDS = 3


def _centroid(vectors: Vectors) -> Vectors:
    mean = vectors.mean(axis=0)
    result: Vectors = mean / (float(np.linalg.norm(mean)) or 1.0)
    return result
