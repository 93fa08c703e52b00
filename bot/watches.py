"""Watches: what a channel asked to be told as articles arrive. An alert ("tell me when there is
news about X") fires on each new article that answers its words, judged as an answer is; a feed
followed in a channel posts each new entry there, optionally only those matching its words.

Every article a watch matches is posted to its channel once: the post is claimed in the store
(a primary key) before it is sent, so neither a restart nor a second replica repeats it, and a
watch's cursor only moves past articles it has dealt with. At most ``per_cycle`` posts go out
per watch and cycle; the rest follow in the next cycles, so a busy feed never floods a channel.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from bot.replies import Notice, Reply, format_date
from bot.services.ask import AskService, QuestionError, validate_question
from corpus.database import IDENTITY, Row, Tables
from corpus.errors import BriefbotError
from corpus.feeds import FeedStore
from corpus.model import Article
from corpus.store import ArticleStore
from retrieval.chunking import is_prose, sentence_spans

log = logging.getLogger(__name__)

Poster = Callable[[str, Reply], None]
"""Posts a reply (an alert, a briefing) to a channel of one platform."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS watches (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    platform TEXT NOT NULL,
    channel TEXT NOT NULL,
    words TEXT NOT NULL,
    feed_id BIGINT REFERENCES feeds(id) ON DELETE CASCADE,
    after_article BIGINT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS watch_posts (
    watch_id BIGINT NOT NULL REFERENCES watches(id) ON DELETE CASCADE,
    article_id BIGINT NOT NULL,
    posted_at TEXT NOT NULL,
    PRIMARY KEY (watch_id, article_id)
)
"""
# New articles a watch reads per cycle: enough for a busy hour of feeds in one pass.
_BATCH = 200


class WatchError(BriefbotError):
    """A watch that cannot be set up; the message is one sentence for the person who asked."""


@dataclass(frozen=True)
class Watch:
    id: int
    platform: str
    channel: str
    words: str
    feed_id: int | None
    feed: str | None
    """The followed feed's title or address, for a feed's live posts."""
    after: int
    """The newest article this watch has dealt with."""

    @property
    def label(self) -> str:
        if self.feed_id is None:
            return f"alert {self.id}: news about “{self.words}”"
        only = f", only about “{self.words}”" if self.words else ""
        return f"feed {self.id}: new entries of {self.feed}{only}"


class WatchStore(Tables):
    COMPONENT = "watches"
    MIGRATIONS: ClassVar[Mapping[str, Sequence[str]]] = {
        "sqlite": [_SCHEMA],
        "postgresql": [_SCHEMA.replace("INTEGER PRIMARY KEY", IDENTITY)],
    }
    _SELECT = (
        "SELECT w.*, COALESCE(f.title, f.url) AS feed FROM watches w"
        " LEFT JOIN feeds f ON f.id = w.feed_id"
    )

    def add(
        self, platform: str, channel: str, *, words: str, feed_id: int | None, after: int
    ) -> tuple[Watch, bool]:
        """Start a watch whose first article is the one after ``after``; the flag says whether
        it is new (the same watch asked for again is kept as it was)."""
        key = f"{platform}/{channel}/{feed_id or ''}/{' '.join(words.lower().split())}"
        with self.transaction() as conn:
            created = conn.execute(
                "INSERT INTO watches (key, platform, channel, words, feed_id, after_article,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING"
                " RETURNING id",
                (key, platform, channel, words, feed_id, after, self.clock().isoformat()),
            ).fetchone()
            row = conn.execute(self._SELECT + " WHERE w.key = ?", (key,)).fetchone()
        return _watch(row), created is not None

    def remove(self, platform: str, channel: str, watch_id: int) -> bool:
        with self.transaction() as conn:
            cursor = conn.execute(
                "DELETE FROM watches WHERE id = ? AND platform = ? AND channel = ?",
                (watch_id, platform, channel),
            )
            return cursor.rowcount > 0

    def of_channel(self, platform: str, channel: str) -> list[Watch]:
        with self.reading() as conn:
            rows = conn.execute(
                self._SELECT + " WHERE w.platform = ? AND w.channel = ? ORDER BY w.id",
                (platform, channel),
            ).fetchall()
        return [_watch(row) for row in rows]

    def all(self) -> list[Watch]:
        with self.reading() as conn:
            rows = conn.execute(self._SELECT + " ORDER BY w.id").fetchall()
        return [_watch(row) for row in rows]

    def claim(self, watch_id: int, article_id: int) -> bool:
        """Take the posting of an article for a watch: true for one caller, ever."""
        with self.transaction() as conn:
            row = conn.execute(
                "INSERT INTO watch_posts (watch_id, article_id, posted_at) VALUES (?, ?, ?)"
                " ON CONFLICT DO NOTHING RETURNING article_id",
                (watch_id, article_id, self.clock().isoformat()),
            ).fetchone()
        return row is not None

    def release(self, watch_id: int, article_id: int) -> None:
        """Give a claimed post back (sending failed), so a later cycle tries again."""
        with self.transaction() as conn:
            conn.execute(
                "DELETE FROM watch_posts WHERE watch_id = ? AND article_id = ?",
                (watch_id, article_id),
            )

    def advance(self, watch_id: int, after: int) -> None:
        """Move a watch's cursor forward (never back: another replica may be ahead)."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE watches SET after_article = ? WHERE id = ? AND after_article < ?",
                (after, watch_id, after),
            )


def _watch(row: Row) -> Watch:
    return Watch(
        id=int(row["id"]),
        platform=row["platform"],
        channel=row["channel"],
        words=row["words"],
        feed_id=int(row["feed_id"]) if row["feed_id"] is not None else None,
        feed=row["feed"],
        after=int(row["after_article"]),
    )


def lead_sentence(text: str) -> str:
    """An article's first sentence that carries news (not a heading or a byline)."""
    sentences = [text[s.start : s.end] for s in sentence_spans(text)]
    return next((s for s in sentences if is_prose(s)), sentences[0] if sentences else text[:300])


def alert_notice(watch: Watch, article: Article, sentence: str) -> Notice:
    """What a channel is sent for one article: which watch, the article, one verbatim
    sentence, and the link."""
    kind = "🔔" if watch.feed_id is None else "📰"
    about = f"news about “{watch.words}”" if watch.feed_id is None else f"{watch.feed}"
    source = article.source or "unknown source"
    lines = [
        f"{kind} {about}: {article.title} — {source}, {format_date(article.published_at)}",
        f"“{sentence}”",
    ]
    if article.url:
        lines.append(article.url)
    return Notice(tuple(lines), private=False)


class WatchService:
    """Sets watches up and, every cycle, posts what they match."""

    def __init__(
        self,
        store: WatchStore,
        *,
        feeds: FeedStore,
        articles: ArticleStore,
        ask: AskService,
        per_cycle: int,
    ) -> None:
        self.store = store
        self.feeds = feeds
        self.articles = articles
        self.ask = ask
        self.per_cycle = per_cycle

    def alert(self, platform: str, channel: str, words: str) -> tuple[Watch, bool]:
        """Watch every article stored from now on for ``words``."""
        if not words.strip():
            raise WatchError("Say what to watch for, e.g. alert floods in Valencia")
        try:
            words = validate_question(words, max_chars=self.ask.max_question_chars)
        except QuestionError as exc:
            raise WatchError(str(exc)) from None
        return self.store.add(
            platform,
            channel,
            words=" ".join(words.split()),
            feed_id=None,
            after=self.articles.latest_id(),
        )

    def feed(
        self, platform: str, channel: str, feed_id: int, words: str = ""
    ) -> tuple[Watch, bool]:
        """Post a followed feed's entries stored from now on (those matching ``words``)."""
        words = " ".join(words.split())
        return self.store.add(
            platform, channel, words=words, feed_id=feed_id, after=self.articles.latest_id()
        )

    def run_once(self, posters: Mapping[str, Poster]) -> int:
        """Post every watch's new matches (up to ``per_cycle`` each); returns how many."""
        posted = 0
        for watch in self.store.all():
            post = posters.get(watch.platform)
            if post is None:
                continue
            try:
                posted += self._run(watch, post)
            except Exception:  # one watch's failure must not hold up the others
                log.exception("%s in %s failed", watch.label, watch.channel)
        return posted

    def _run(self, watch: Watch, post: Poster) -> int:
        if watch.feed_id is None:
            new = self.articles.ids_after(watch.after, limit=_BATCH)
        else:
            new = self.feeds.articles_after(watch.feed_id, watch.after, limit=_BATCH)
        if not new:
            return 0
        sentences = self._matches(watch, new)
        stored = self.articles.articles(sentences)
        posted, done = 0, watch.after
        for article_id in new:
            if article_id in sentences and article_id in stored:
                if posted == self.per_cycle:
                    break  # the rest in the next cycle
                if self.store.claim(watch.id, article_id):
                    try:
                        post(
                            watch.channel,
                            alert_notice(watch, stored[article_id], sentences[article_id]),
                        )
                    except Exception:
                        self.store.release(watch.id, article_id)
                        log.exception("posting %s to %s failed", watch.label, watch.channel)
                        break
                    posted += 1
            done = article_id
        self.store.advance(watch.id, done)
        return posted

    def _matches(self, watch: Watch, article_ids: Sequence[int]) -> dict[int, str]:
        """The articles a watch posts, each with the sentence to quote."""
        if watch.words:
            answer = self.ask.match(watch.words, article_ids)
            return {q.article_id: q.highlight or q.text for q in answer.quotes}
        stored = self.articles.articles(article_ids)
        return {i: lead_sentence(a.text) for i, a in stored.items()}
