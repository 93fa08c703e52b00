from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from corpus.feeds import FeedError, FeedStore, advertised_feeds, parse_feed
from corpus.model import Article
from corpus.store import SQLStore

FEED_URL = "https://example.com/blog/feed.xml"

RSS_REPEATING = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>
<title>Example News</title><link>https://example.com/</link>
<item><title>First telling</title><guid isPermaLink="false">story-1</guid>
  <link>https://example.com/story-1</link><dc:creator>Ada Reporter</dc:creator>
  <pubDate>Wed, 01 May 2024 10:00:00 +0200</pubDate><description>Short.</description></item>
<item><title>Second story</title><guid isPermaLink="false">story-2</guid></item>
<item><title>Retold</title><guid isPermaLink="false">story-1</guid></item>
</channel></rss>"""

ATOM_RELATIVE = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
<title>Blog</title><link href="/"/><id>urn:blog</id><updated>2024-05-02T12:00:00Z</updated>
<entry><title>Post</title><id>tag:example.com,2024:post</id><link href="posts/one"/>
  <updated>2024-05-02T09:30:00-04:00</updated>
  <summary>The summary.</summary>
  <content type="html"><![CDATA[<p>The whole post, <a href="two">continued</a>.</p>]]></content>
</entry></feed>"""

RSS_WITHOUT_GUIDS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
<item><title>Linked</title><link>/news/linked</link></item>
<item><title>Bare</title><pubDate>Thu, 02 May 2024 23:30:00 -0100</pubDate></item>
<item><title>Undated</title></item>
</channel></rss>"""


def test_repeated_rss_item_is_parsed_once_keeping_the_first() -> None:
    feed = parse_feed(RSS_REPEATING, url=FEED_URL)
    assert (feed.title, feed.link) == ("Example News", "https://example.com/")
    assert [(e.key, e.title) for e in feed.entries] == [
        ("id:story-1", "First telling"),
        ("id:story-2", "Second story"),
    ]
    first = feed.entries[0]
    assert first.link == "https://example.com/story-1"
    assert first.author == "Ada Reporter"
    assert first.content_html == "Short."


def test_atom_relative_links_are_resolved_against_the_feed_url() -> None:
    feed = parse_feed(ATOM_RELATIVE, url=FEED_URL)
    assert feed.link == "https://example.com/"
    [entry] = feed.entries
    assert entry.key == "id:tag:example.com,2024:post"
    assert entry.link == "https://example.com/blog/posts/one"
    assert entry.content_html is not None
    assert 'href="https://example.com/blog/two"' in entry.content_html


def test_content_is_preferred_over_summary() -> None:
    [entry] = parse_feed(ATOM_RELATIVE, url=FEED_URL).entries
    assert entry.content_html is not None
    assert entry.content_html.startswith("<p>The whole post")
    assert "summary" not in entry.content_html


def test_entries_without_guid_are_keyed_by_link_then_title_and_date() -> None:
    linked, bare, undated = parse_feed(RSS_WITHOUT_GUIDS, url=FEED_URL).entries
    assert linked.key == "link:https://example.com/news/linked"
    assert linked.link == "https://example.com/news/linked"
    assert bare.key == "title:Bare|2024-05-03T00:30:00+00:00"
    assert bare.link is None
    assert undated.key == "title:Undated|"
    assert undated.published_at is None


def test_published_dates_are_aware_utc_from_published_or_updated() -> None:
    [rss_entry, _] = parse_feed(RSS_REPEATING, url=FEED_URL).entries
    assert rss_entry.published_at == datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    assert rss_entry.published_at.utcoffset() == timedelta(0)
    [atom_entry] = parse_feed(ATOM_RELATIVE, url=FEED_URL).entries  # only <updated>
    assert atom_entry.published_at == datetime(2024, 5, 2, 13, 30, tzinfo=UTC)
    assert atom_entry.published_at.tzinfo is UTC


@pytest.mark.parametrize(
    "data",
    [
        b"<!doctype html><html><head><title>Home</title></head><body><p>Hi</p></body></html>",
        b"\x00\x01\x02 not a feed {",
        b'{"items": []}',
        b"",
    ],
    ids=["html", "garbage", "json", "empty"],
)
def test_documents_that_are_not_feeds_are_refused(data: bytes) -> None:
    with pytest.raises(FeedError, match=r"^That address doesn't serve an RSS or Atom feed\.$"):
        parse_feed(data, url=FEED_URL)


def test_a_valid_feed_with_no_entries_is_accepted() -> None:
    data = b"<?xml version='1.0'?><rss version='2.0'><channel><title>Quiet</title></channel></rss>"
    feed = parse_feed(data, url=FEED_URL)
    assert (feed.title, feed.entries) == ("Quiet", [])


def test_add_is_idempotent_on_the_url(tmp_path: Path) -> None:
    store = FeedStore(tmp_path / "briefbot.db")
    feed, added = store.add(FEED_URL, title="Blog")
    again, added_again = store.add(FEED_URL, title="Other title")
    assert (added, added_again) == (True, False)
    assert again == feed
    assert (feed.url, feed.title, feed.polls, feed.last_polled_at) == (FEED_URL, "Blog", 0, None)
    assert feed.added_at.tzinfo is not None
    other, _ = store.add("https://example.org/rss")
    assert [f.url for f in store.list()] == [FEED_URL, "https://example.org/rss"]
    assert other.id != feed.id
    assert store.get("https://example.net/none") is None


def test_seen_keys_survive_reopening_and_are_per_feed(tmp_path: Path) -> None:
    path = tmp_path / "briefbot.db"
    store = FeedStore(path)
    feed, _ = store.add(FEED_URL)
    other, _ = store.add("https://example.org/rss")
    assert store.unseen(feed.id, ["id:a", "id:b"]) == ["id:a", "id:b"]
    store.mark_seen(feed.id, ["id:a", "id:b"])
    store.mark_seen(feed.id, ["id:b"])  # marking twice is harmless
    store.close()

    reopened = FeedStore(path)
    assert reopened.unseen(feed.id, ["id:c", "id:a", "id:d", "id:b", "id:c"]) == ["id:c", "id:d"]
    assert reopened.unseen(other.id, ["id:a"]) == ["id:a"]
    assert reopened.unseen(feed.id, []) == []


def test_remove_drops_the_feed_and_its_seen_entries(tmp_path: Path) -> None:
    store = FeedStore(tmp_path / "briefbot.db")
    feed, _ = store.add(FEED_URL)
    store.mark_seen(feed.id, ["id:a"])
    assert store.remove(FEED_URL) is True
    assert store.remove(FEED_URL) is False
    assert store.get(FEED_URL) is None
    assert store.list() == []
    # A fresh row may reuse the id; it must not inherit the old feed's seen entries.
    assert store.unseen(feed.id, ["id:a"]) == ["id:a"]
    readded, added = store.add(FEED_URL)
    assert added
    assert store.unseen(readded.id, ["id:a"]) == ["id:a"]


def test_record_poll_counts_polls_and_keeps_validators(tmp_path: Path) -> None:
    store = FeedStore(tmp_path / "briefbot.db")
    feed, _ = store.add(FEED_URL, title="Blog")
    first = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    store.record_poll(feed.id, etag='"v1"', last_modified="Wed, 01 May 2024", title=None, at=first)
    polled = store.get(FEED_URL)
    assert polled is not None
    assert (polled.polls, polled.etag, polled.last_modified) == (1, '"v1"', "Wed, 01 May 2024")
    assert (polled.title, polled.last_polled_at) == ("Blog", first)

    second = first + timedelta(hours=1)
    store.record_poll(feed.id, etag='"v2"', last_modified=None, title="Renamed", at=second)
    store.close()
    repolled = FeedStore(tmp_path / "briefbot.db").get(FEED_URL)
    assert repolled is not None
    assert (repolled.polls, repolled.etag, repolled.last_modified) == (2, '"v2"', None)
    assert (repolled.title, repolled.last_polled_at) == ("Renamed", second)


def test_feed_store_shares_a_file_with_the_article_store(tmp_path: Path) -> None:
    path = tmp_path / "briefbot.db"
    articles = SQLStore(path)
    feeds = FeedStore(path)
    feeds.add(FEED_URL)
    articles.add(Article(title="T", text="Some text."), [(0, 10)])
    assert articles.count_articles() == 1
    assert [f.url for f in feeds.list()] == [FEED_URL]


def test_a_feed_title_loses_escape_sequences_and_control_characters() -> None:
    data = (
        b"<?xml version='1.0'?><rss version='2.0'><channel>"
        b"<title>\x1b]0;pwned\x07\x1b[31mWire\x1b[0m\r\n  News\x08</title></channel></rss>"
    )
    assert parse_feed(data, url=FEED_URL).title == "Wire News"


PAGE_URL = "https://example.com/news/today.html"


def test_advertised_feeds_are_rss_and_atom_links_made_absolute_in_page_order() -> None:
    page = b"""<!doctype html><html><head>
    <link rel="stylesheet" type="text/css" href="/style.css">
    <link rel="alternate" type="application/feed+json" href="/feed.json">
    <link rel="alternate" hreflang="fr" type="text/html" href="/fr/">
    <link rel="Alternate" type="application/RSS+xml; charset=utf-8" href="rss.xml">
    <link rel="alternate" type="application/atom+xml" href="//feeds.example.org/atom">
    <link rel="alternate" type="application/rss+xml" href="rss.xml">
    <link rel="alternate" type="application/rss+xml" href="  ">
    <link rel="feed" type="application/rss+xml" href="/other.xml">
    </head><body><link rel="alternate" type="application/rss+xml" href="/late.xml"></body></html>"""
    assert advertised_feeds(page, url=PAGE_URL) == [
        "https://example.com/news/rss.xml",
        "https://feeds.example.org/atom",
        "https://example.com/late.xml",
    ]


def test_advertised_feeds_resolve_against_the_pages_base() -> None:
    page = b"""<?xml version="1.0" encoding="utf-8"?>
    <html xmlns="http://www.w3.org/1999/xhtml"><head><base href="/blog/"/>
    <link rel="alternate" type="application/atom+xml" href="atom.xml"/></head><body/></html>"""
    assert advertised_feeds(page, url=PAGE_URL) == ["https://example.com/blog/atom.xml"]


def test_an_advertised_address_with_control_characters_is_passed_over() -> None:
    page = (
        b"<html><head>"
        b"<link rel=alternate type=application/rss+xml href='/f\x1b]0;pwned\x07.xml'>"
        b"<link rel=alternate type=application/rss+xml href='/f&#27;[31m.xml'>"
        b"<link rel=alternate type=application/rss+xml href='/plain.xml'></head></html>"
    )
    assert advertised_feeds(page, url=PAGE_URL) == ["https://example.com/plain.xml"]


@pytest.mark.parametrize(
    "page",
    [
        b"",
        b"\x00\x01\x02 not html {",
        b"<html><head><title>Home</title></head><body><p>Hi</p></body></html>",
        RSS_REPEATING,
    ],
    ids=["empty", "garbage", "no links", "a feed"],
)
def test_a_page_without_feed_links_advertises_none(page: bytes) -> None:
    assert advertised_feeds(page, url=PAGE_URL) == []
