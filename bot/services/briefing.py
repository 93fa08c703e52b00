"""The briefing service: the day's stories, clustered, ranked, each with key quotes and sources."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from corpus.model import Article
from corpus.store import ArticleStore, SQLiteTables
from retrieval.embedding import Embedder, Vectors, article_vectors
from retrieval.key_sentences import key_sentences
from retrieval.stories import centrality, cluster, continues, importance, matching_topic
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

    @property
    def article_ids(self) -> list[int]:
        return [a.id for a in self.sources if a.id is not None]


@dataclass(frozen=True, kw_only=True)
class Briefing:
    window: Window
    stories: list[Story] = field(default_factory=list)
    topics: tuple[str, ...] = ()
    latest: datetime | None = None
    """For an empty window: when the newest article before it (or after it, when there is none
    before) was published, in the window's timezone, to suggest a day that has articles."""
    retry: str = "briefing"
    """How the person asks for one day's briefing, in that suggestion ("--date" in the CLI)."""

    @property
    def empty_note(self) -> str:
        about = f" about {', '.join(self.topics)}" if self.topics else ""
        if self.window.label.startswith("since"):
            return f"No new articles{about} {self.window.label}."
        note = f"No articles{about} from {self.window.label}."
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
                    "key_sentences": [q.text for q in s.quotes],
                    "sources": [
                        {
                            "title": a.title,
                            "source": a.source,
                            "published_at": a.published_at.isoformat() if a.published_at else None,
                            "url": a.url,
                        }
                        for a in s.sources
                    ],
                }
                for s in self.stories
            ],
        }


# How far back a story counts as already told, for marking new articles on it as an update.
_UPDATE_LOOKBACK = timedelta(days=7)


class DeliveryLog(SQLiteTables):
    """Which articles each channel has already been briefed on, so stories are not repeated."""

    SCHEMA = (
        "CREATE TABLE IF NOT EXISTS delivered_articles (platform TEXT NOT NULL,"
        " channel TEXT NOT NULL, article_id INTEGER NOT NULL, delivered_at TEXT NOT NULL,"
        " PRIMARY KEY (platform, channel, article_id));"
    )

    def delivered(self, platform: str, channel: str, article_ids: Sequence[int]) -> set[int]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT article_id FROM delivered_articles WHERE platform = ? AND channel = ?"
                " AND article_id IN (SELECT value FROM json_each(?))",
                (platform, channel, "[" + ",".join(map(str, article_ids)) + "]"),
            ).fetchall()
        return {row[0] for row in rows}

    def recent(self, platform: str, channel: str, *, since: datetime) -> list[int]:
        """Articles the channel was briefed on since ``since``."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT article_id FROM delivered_articles WHERE platform = ? AND channel = ?"
                " AND delivered_at >= ?",
                (platform, channel, since.astimezone(UTC).isoformat()),
            ).fetchall()
        return [row[0] for row in rows]

    def record(
        self, platform: str, channel: str, briefing: Briefing, *, at: datetime | None = None
    ) -> None:
        when = (at or self.clock()).astimezone(UTC).isoformat()
        with self.transaction() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO delivered_articles VALUES (?, ?, ?, ?)",
                [(platform, channel, i, when) for s in briefing.stories for i in s.article_ids],
            )


class BriefingService:
    def __init__(
        self,
        store: ArticleStore,
        *,
        vectors: VectorIndex,
        embedder: Embedder,
        deliveries: DeliveryLog,
        story_threshold: float,
        topic_threshold: float,
        key_sentences_per_story: int = 3,
    ) -> None:
        self.store = store
        self.vectors = vectors
        self.embedder = embedder
        self.deliveries = deliveries
        self.story_threshold = story_threshold
        self.topic_threshold = topic_threshold
        self.key_sentences_per_story = key_sentences_per_story

    def brief(
        self,
        window: Window,
        *,
        topics: Sequence[str] = (),
        limit: int = 8,
        channel: tuple[str, str] | None = None,
    ) -> Briefing:
        """The window's stories, best first; with ``channel``, stories it already saw are left
        out unless they gained articles (then they come back marked as an update)."""
        articles = [a for a in self.store.published_between(window.start, window.end) if a.id]
        topics = tuple(t.strip() for t in topics if t.strip())
        if not articles:
            return Briefing(window=window, topics=topics)
        passage_ids = self._passages(a.id for a in articles if a.id is not None)
        articles = [a for a in articles if a.id is not None and passage_ids[a.id]]
        vectors = article_vectors([self.vectors.vectors(passage_ids[a.id or 0]) for a in articles])
        groups = cluster(vectors, threshold=self.story_threshold)
        topic_vectors = self.embedder.embed(list(topics)) if topics else None
        earlier = self._earlier_vectors(channel, window, {a.id or 0 for a in articles})
        ranked: list[tuple[float, Story]] = []
        for group in groups:
            members = [articles[i] for i in group]
            member_vectors = vectors[group]
            topic = matching_topic(
                member_vectors, topics, topic_vectors, threshold=self.topic_threshold
            )
            if topics and topic is None:
                continue
            update = False
            if channel is not None:
                seen = self.deliveries.delivered(*channel, [a.id or 0 for a in members])
                if len(seen) == len(members):
                    continue
                # New articles on a story the channel heard about, in this window or before it.
                update = bool(seen) or continues(
                    member_vectors, earlier, threshold=self.story_threshold
                )
            story = self._story(members, member_vectors, topic=topic, update=update)
            ranked.append((importance(members, member_vectors, window), story))
        ranked.sort(key=lambda pair: -pair[0])
        return Briefing(window=window, stories=[s for _, s in ranked[:limit]], topics=topics)

    def _passages(self, article_ids: Iterable[int]) -> dict[int, list[int]]:
        """Each article's passages that have a vector of the current model (after a model
        change, some have none until the next start embeds them)."""
        found = self.store.passage_ids_of(article_ids)
        known = self.vectors.indexed([p for ids in found.values() for p in ids])
        return {article: [p for p in ids if p in known] for article, ids in found.items()}

    def _earlier_vectors(
        self, channel: tuple[str, str] | None, window: Window, current: set[int]
    ) -> Vectors | None:
        """Vectors of articles briefed to ``channel`` in the week before, outside this window."""
        if channel is None:
            return None
        since = window.start - _UPDATE_LOOKBACK
        ids = [i for i in self.deliveries.recent(*channel, since=since) if i not in current]
        passages = {k: v for k, v in self._passages(ids).items() if v}
        if not passages:
            return None
        return article_vectors([self.vectors.vectors(p) for p in passages.values()])

    def _story(
        self, members: list[Article], vectors: Vectors, *, topic: str | None, update: bool
    ) -> Story:
        order = np.argsort(-centrality(vectors))
        ordered = [members[i] for i in order]
        chosen = key_sentences(
            [a.text for a in ordered], k=self.key_sentences_per_story, embedder=self.embedder
        )
        quotes = [KeyQuote(text=c.text, article=ordered[c.article_index]) for c in chosen]
        sources = sorted(members, key=lambda a: a.published_at or a.added_at)
        return Story(
            headline=ordered[0].title, quotes=quotes, sources=sources, topic=topic, update=update
        )
