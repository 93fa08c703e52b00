"""The stores on both backends — a SQLite file and a real PostgreSQL — with the same tests:
articles and vectors, migrations, and the claims that let several processes share one store
(a feed polled by one at a time, a briefing posted once, a retried event answered once)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pytest

from bot.events import SeenEvents
from bot.subscriptions import Subscription, SubscriptionStore
from bot.wiring import Briefbot
from corpus.database import StoreError
from corpus.feeds import FeedStore
from corpus.model import Article
from corpus.store import SQLStore
from retrieval.lexical import FTS5Index
from retrieval.pg_indexes import PgLexicalIndex
from tests.conftest import Where

Backend = Callable[[], Where]
NOON = datetime(2005, 7, 7, 12, tzinfo=UTC)


def article(title: str, *, day: int = 7) -> Article:
    text = f"{title}. The first sentence of it. And a second one, a little longer than that."
    return Article(
        title=title,
        text=text,
        url=f"https://news.example/{title.lower().replace(' ', '-')}",
        source="Example News",
        published_at=datetime(2005, 7, day, 12, tzinfo=UTC),
    )


def test_articles_passages_and_vectors_round_trip(backend: Backend) -> None:
    store = SQLStore(backend())
    first = article("Harbour reopens")
    with store.transaction():
        stored, passages = store.add(first, [(0, 16), (17, 42)])
        model = store.model_id("test-model", 4)
        store.put_vectors(model, [p.id for p in passages], np.eye(4, dtype=np.float32)[:2])
    later, _ = store.add(article("Bridge closes", day=9), [(0, 14)])

    assert store.find_duplicate(first) == stored
    assert store.articles([stored.id or 0]) == {stored.id: stored}
    assert [p.text for p in store.passages([p.id for p in passages]).values()] == [
        "Harbour reopens.",
        "The first sentence of it.",
    ]
    assert store.passage_ids_of([stored.id or 0]) == {stored.id: [p.id for p in passages]}
    assert store.vectors(model, [passages[1].id])[passages[1].id].tolist() == [0, 1, 0, 0]
    [(ids, matrix)] = list(store.iter_vectors(model))
    assert ids == [p.id for p in passages] and matrix.shape == (2, 4)
    assert store.vector_counts() == {"test-model": 2}
    assert store.count_without_vectors(model) == 1
    assert store.published_between(NOON - timedelta(hours=1), NOON + timedelta(days=1)) == [stored]
    assert store.latest_published() == later.published_at
    assert store.latest_published(before=NOON + timedelta(days=1)) == NOON
    window = store.passage_ids_published(after=NOON, before=NOON + timedelta(hours=1))
    assert window == [p.id for p in passages]
    with pytest.raises(StoreError, match="4-dimensional vectors, but now gives 8"):
        store.model_id("test-model", 8)


def test_a_failed_transaction_keeps_nothing_and_nested_calls_join_it(backend: Backend) -> None:
    store = SQLStore(backend())
    with pytest.raises(RuntimeError), store.transaction():
        store.add(article("Harbour reopens"), [(0, 16)])
        with store.transaction():  # joins: rolled back with the outer one
            store.model_id("test-model", 4)
        raise RuntimeError("boom")
    assert store.count_articles() == 0 and store.vector_counts() == {}


def test_migrations_run_once_however_often_the_store_is_opened(backend: Backend) -> None:
    stores = [SQLStore(backend()) for _ in range(3)]
    stores[0].add(article("Harbour reopens"), [(0, 16)])
    with stores[2].reading() as conn:
        rows = conn.execute(
            "SELECT version FROM schema_migrations WHERE component = 'articles'"
        ).fetchall()
    versions = len(SQLStore.MIGRATIONS[stores[0].db.dialect])
    assert [row[0] for row in rows] == list(range(1, versions + 1))
    assert stores[1].count_articles() == 1  # another connection sees the commit at once


def test_one_process_at_a_time_polls_a_feed(backend: Backend) -> None:
    first, second = FeedStore(backend()), FeedStore(backend())
    feed, _ = first.add("https://news.example/rss.xml")
    claimed = first.claim(feed.id, lease=timedelta(minutes=3))
    assert claimed is not None and claimed.url == feed.url
    assert second.claim(feed.id, lease=timedelta(minutes=3)) is None
    first.release(feed.id)
    assert second.claim(feed.id, lease=timedelta(minutes=3)) is not None
    # A claim lapses, so a replica that died mid-poll doesn't stop the feed for good.
    later = FeedStore(backend(), clock=lambda: datetime.now(UTC) + timedelta(minutes=4))
    assert later.claim(feed.id, lease=timedelta(minutes=3)) is not None


def test_seen_entries_are_kept_per_feed(backend: Backend) -> None:
    feeds = FeedStore(backend())
    one, _ = feeds.add("https://news.example/one.xml")
    two, _ = feeds.add("https://news.example/two.xml")
    feeds.mark_seen(one.id, ["id:a", "id:b"])
    feeds.mark_seen(one.id, ["id:b"])
    assert feeds.unseen(one.id, ["id:a", "id:c", "id:c"]) == ["id:c"]
    assert feeds.unseen(two.id, ["id:a"]) == ["id:a"]
    assert feeds.remove("https://news.example/one.xml") and feeds.unseen(one.id, ["id:a"]) == [
        "id:a"
    ]


def test_a_days_briefing_is_claimed_by_one_process(backend: Backend) -> None:
    stores = [SubscriptionStore(backend()) for _ in range(2)]
    stores[0].subscribe(
        Subscription(
            platform="slack",
            channel="C1",
            time=time(8),
            timezone="UTC",
            days=frozenset(range(7)),
            topics=(),
        )
    )
    day, now = date(2005, 7, 7), NOON
    lease = timedelta(minutes=10)
    assert stores[0].claim("slack", "C1", day=day, now=now, lease=lease)
    assert not stores[1].claim("slack", "C1", day=day, now=now, lease=lease)
    stores[0].release("slack", "C1")  # the post failed: anyone may retry
    assert stores[1].claim("slack", "C1", day=day, now=now, lease=lease)
    stores[1].record_delivery("slack", "C1", day=day, at=now)
    later = now + timedelta(hours=1)
    assert not stores[0].claim("slack", "C1", day=day, now=later, lease=lease)  # delivered
    assert stores[0].claim("slack", "C1", day=day + timedelta(days=1), now=later, lease=lease)


def test_a_retried_event_is_new_to_exactly_one_process(backend: Backend) -> None:
    replicas = [SeenEvents(backend()) for _ in range(4)]
    answers: list[bool] = []
    start = threading.Barrier(len(replicas))

    def receive(seen: SeenEvents) -> None:
        start.wait()
        answers.append(seen.first_time("C1/1700000000.000001"))

    threads = [threading.Thread(target=receive, args=(seen,)) for seen in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [False, False, False, True]
    assert replicas[0].first_time("C1/1700000000.000002")


def test_the_runs_backend_is_the_one_every_bot_of_a_test_opens(
    make_bot: Callable[..., Briefbot], sample_bot: Briefbot, pytestconfig: pytest.Config
) -> None:
    """``pytest --backend postgresql`` really moves the suite's bots to PostgreSQL."""
    expected = "postgresql" if pytestconfig.getoption("backend") == "postgresql" else "sqlite"
    for bot in (make_bot(), sample_bot):
        assert bot.store.db.dialect == expected
        assert isinstance(bot.lexical, PgLexicalIndex if expected == "postgresql" else FTS5Index)
    assert sample_bot.store.count_articles() > 100
