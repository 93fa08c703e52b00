"""Adding articles by URL, text, upload and feed, against a real HTTP server on loopback."""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import pytest

from bot.replies import poll_summary
from bot.services.feeds import FeedService, FollowError
from bot.services.ingest import IngestService
from bot.wiring import Briefbot
from corpus.loaders import NO_PAGE_TEXT
from corpus.web import Fetched, Fetcher
from tests.articles import ARTICLE_PAGE
from tests.conftest import MakeBot
from tests.http_server import (
    LoopbackServer,
    Received,
    Reply,
    chunks,
    fetcher_settings,
    make_fetcher,
)

ARTICLE = ARTICLE_PAGE.read_bytes()
HTML = {"Content-Type": "text/html; charset=utf-8"}
BOILERPLATE = ["Subscribe", "ADVERTISEMENT", "HikerFan99", "Cookie settings", "alpine huts"]


@pytest.fixture
def bot(make_bot: MakeBot) -> Briefbot:
    bot = make_bot(ingest={"allow_private_networks": True, "timeout_seconds": 2.0})
    bot.prepare()
    return bot


def strict_service(bot: Briefbot, **fetcher: object) -> IngestService:
    """Like the bot's own service, but only the test server counts as a public address."""
    return IngestService(
        bot.indexer,
        fetcher=make_fetcher(**fetcher),
        max_file_bytes=bot.ingest_service.max_file_bytes,
    )


def test_a_news_page_is_stored_without_its_boilerplate(
    bot: Briefbot, http_server: LoopbackServer
) -> None:
    http_server.routes["/news/glacier"] = Reply(headers=HTML, body=ARTICLE)
    report = bot.ingest_service.ingest_url(http_server.url("/news/glacier?utm_source=rss#top"))
    assert report.failures == []
    [article] = report.added
    assert article.title == "Glacier retreat speeds up in the Alps"
    assert (
        article.published_at is not None and article.published_at.date().isoformat() == "2024-08-14"
    )
    assert article.author == "Lena Brunner"
    assert "four percent of their remaining ice volume" in article.text
    assert "new reservoirs to replace the meltwater" in article.text
    for junk in BOILERPLATE:
        assert junk not in article.text
    assert article.canonical_url == http_server.url("/news/glacier")
    answer = bot.ask_service.ask(
        "How much ice did Swiss glaciers lose?", now=datetime(2024, 9, 1, tzinfo=UTC)
    )
    assert answer.quotes[0].title == "Glacier retreat speeds up in the Alps"
    # The same page behind another tracking link is a duplicate, not a second article.
    again = bot.ingest_service.ingest_url(http_server.url("/news/glacier?utm_medium=email"))
    assert again.added == [] and again.duplicates[0].of.id == article.id


def test_redirects_are_followed_and_the_final_url_kept(
    bot: Briefbot, http_server: LoopbackServer
) -> None:
    http_server.routes["/short"] = Reply(status=301, headers={"Location": "/hop"})
    http_server.routes["/hop"] = Reply(status=302, headers={"Location": http_server.url("/story")})
    http_server.routes["/story"] = Reply(headers=HTML, body=ARTICLE)
    [article] = bot.ingest_service.ingest_url(http_server.url("/short")).added
    assert article.url == http_server.url("/story")


@pytest.mark.parametrize(
    ("route", "message"),
    [
        (
            Reply(status=302, headers={"Location": "http://169.254.169.254/latest/meta-data"}),
            "private network",
        ),
        (Reply(status=302, headers={"Location": "http://10.0.0.7/admin"}), "private network"),
        (Reply(headers={"Content-Type": "text/html"}, body=chunks(20_000_000)), "larger than 5 MB"),
        (
            Reply(headers={"Content-Type": "image/png"}, body=b"\x89PNG\r\n\x1a\n" + b"0" * 100),
            "image",
        ),
        (Reply(headers=HTML, body=b"<html><body></body></html>"), NO_PAGE_TEXT),
        (
            Reply(
                headers=HTML,
                body=b"<html><head><title>Site</title></head><body><nav><a href='/'>Home</a>"
                b" | <a href='/about'>About</a></nav></body></html>",
            ),
            NO_PAGE_TEXT,
        ),
        (Reply(headers=HTML, body=ARTICLE, delay=3.0), "took too long"),
        (Reply(status=404), "404"),
    ],
)
def test_refusals_explain_themselves_and_store_nothing(
    bot: Briefbot, http_server: LoopbackServer, route: Reply, message: str
) -> None:
    http_server.routes["/page"] = route
    service = strict_service(bot, max_bytes=5_000_000, timeout=1.0)
    report = service.ingest_url(http_server.url("/page"))
    assert report.added == []
    [failure] = report.failures
    assert message in failure.reason
    assert bot.store.count_articles() == 0


def test_loopback_is_refused_unless_private_networks_are_allowed(
    make_bot: MakeBot, http_server: LoopbackServer
) -> None:
    http_server.routes["/story"] = Reply(headers=HTML, body=ARTICLE)
    strict = make_bot()
    [failure] = strict.ingest_service.ingest_url(http_server.url("/story")).failures
    assert "private network" in failure.reason
    assert http_server.requests == []
    for bad in ["ftp://example.org/file", "not a url at all", "http://"]:
        [failure] = strict.ingest_service.ingest_url(bad).failures
        assert "web address" in failure.reason


def test_a_republished_copy_is_a_near_duplicate(bot: Briefbot, http_server: LoopbackServer) -> None:
    http_server.routes["/a"] = Reply(headers=HTML, body=ARTICLE)
    copy = ARTICLE.replace(
        b"the glacier monitoring network said on Wednesday",
        b"the monitoring network said Wednesday",
    )
    copy = copy.replace(b"Mountain Herald", b"Valley Times")
    http_server.routes["/b"] = Reply(headers=HTML, body=copy)
    [original] = bot.ingest_service.ingest_url(http_server.url("/a")).added
    report = bot.ingest_service.ingest_url(http_server.url("/b"))
    assert report.added == []
    assert report.duplicates[0].of.id == original.id
    # A different story on the same topic is not a duplicate.
    other = b"<html><body><article><h1>Alpine reservoirs planned</h1><p>" + (
        b"Valais will build three reservoirs to store water for farms as the glaciers melt. "
        b"The canton's parliament approved the money on Tuesday after a long debate.</p>"
        b"</article></body></html>"
    )
    http_server.routes["/c"] = Reply(headers=HTML, body=other)
    assert len(bot.ingest_service.ingest_url(http_server.url("/c")).added) == 1


def test_a_batch_with_a_broken_item_stores_the_rest(
    bot: Briefbot, http_server: LoopbackServer, tmp_path: Path
) -> None:
    http_server.routes["/good"] = Reply(headers=HTML, body=ARTICLE)
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 this is not really a pdf")
    note = tmp_path / "note.md"
    note.write_text("---\ntitle: Council meets\nsource: Town Hall\n---\nThe council met on Monday.")
    report = bot.ingest_service.ingest_sources(
        [http_server.url("/good"), http_server.url("/missing"), str(broken), str(note)]
    )
    assert sorted(a.title for a in report.added) == [
        "Council meets",
        "Glacier retreat speeds up in the Alps",
    ]
    reasons = {Path(f.origin).name: f.reason for f in report.failures}
    assert "404" in reasons["missing"]
    assert "PDF could not be read" in reasons["broken.pdf"]


def test_pasted_text_and_uploads(bot: Briefbot) -> None:
    [pasted] = bot.ingest_service.ingest_text(
        "Port strike ends\nDock workers returned to work on Friday."
    ).added
    assert (pasted.title, pasted.text) == (
        "Port strike ends",
        "Dock workers returned to work on Friday.",
    )
    [failure] = bot.ingest_service.ingest_text("   ").failures
    assert "no article text" in failure.reason
    [upload] = bot.ingest_service.ingest_upload(
        "brief.txt", b"Mayor resigns\nThe mayor resigned."
    ).added
    assert upload.title == "Mayor resigns"
    [refused] = bot.ingest_service.ingest_upload("photo.jpg", b"\xff\xd8\xff").failures
    assert "unsupported file type" in refused.reason


RSS = """<?xml version="1.0"?><rss version="2.0"><channel><title>Valley Wire</title>
<link>{base}/</link><description>News</description>{items}</channel></rss>"""
RSS_ITEM = """<item><title>{title}</title><link>{base}/items/{slug}</link><guid>{slug}</guid>
<pubDate>{date}</pubDate><description>{text}</description></item>"""
ATOM = """<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">
<title>Atom Wire</title><id>urn:atom-wire</id><updated>2024-08-15T10:00:00Z</updated>
{entries}</feed>"""
ATOM_ENTRY = """<entry><title>{title}</title><id>urn:{slug}</id><link href="/items/{slug}"/>
<updated>2024-08-15T10:00:00Z</updated>
<content type="html">&lt;p&gt;{text}&lt;/p&gt;</content></entry>"""

STORIES = {
    "ferry": (
        "Ferry service resumes",
        "The island ferry resumed service after storm repairs to its pier were finished.",
    ),
    "school": (
        "New school opens",
        "A new primary school with room for 400 pupils opened in the north of the town.",
    ),
    "bridge": (
        "Bridge closed for repairs",
        "The old stone bridge will close for six weeks while engineers repair cracks.",
    ),
}


def article_page(title: str, text: str) -> bytes:
    more = "Officials said more details would follow next week."
    return (
        f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
        f"<p>{text}</p><p>{text} {more}</p></article></body></html>"
    ).encode()


def serve_feed(server: LoopbackServer, path: str, body: str, content_type: str) -> None:
    """Serve a feed with an ETag, answering 304 when the client already has this version."""
    etag = f'"{hash(body) & 0xFFFFFFFF:x}"'
    modified = format_datetime(datetime(2024, 8, 15, 10, tzinfo=UTC), usegmt=True)

    def route(request: Received) -> Reply:
        if request.headers.get("if-none-match") == etag:
            return Reply(status=304, headers={"ETag": etag})
        return Reply(
            headers={"Content-Type": content_type, "ETag": etag, "Last-Modified": modified},
            body=body.encode(),
        )

    server.routes[path] = route


@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_a_feed_ingests_new_entries_once(
    bot: Briefbot, http_server: LoopbackServer, kind: str
) -> None:
    base = http_server.url("").rstrip("/")
    for slug, (title, text) in STORIES.items():
        http_server.routes[f"/items/{slug}"] = Reply(headers=HTML, body=article_page(title, text))

    def feed(slugs: list[str]) -> str:
        if kind == "rss":
            items = "".join(
                RSS_ITEM.format(
                    base=base,
                    slug=s,
                    title=STORIES[s][0],
                    text=STORIES[s][1],
                    date="Thu, 15 Aug 2024 08:00:00 GMT",
                )
                for s in slugs
            )
            return RSS.format(base=base, items=items)
        entries = "".join(
            ATOM_ENTRY.format(slug=s, title=STORIES[s][0], text=STORIES[s][1]) for s in slugs
        )
        return ATOM.format(entries=entries)

    content_type = "application/rss+xml" if kind == "rss" else "application/atom+xml"
    # The first version repeats one entry, as real feeds sometimes do.
    serve_feed(http_server, "/feed", feed(["ferry", "school", "ferry"]), content_type)
    service: FeedService = bot.feed_service
    first = service.follow(http_server.url("/feed"))
    assert not first.announce
    assert sorted(a.title for a in first.report.added) == [
        "Ferry service resumes",
        "New school opens",
    ]

    unchanged = service.poll_all()
    assert [r.not_modified for r in unchanged] == [True]
    assert http_server.requests[-1].headers.get("if-none-match")

    serve_feed(http_server, "/feed", feed(["bridge", "ferry", "school"]), content_type)
    [second] = service.poll_all()
    assert second.announce
    assert [a.title for a in second.report.added] == ["Bridge closed for repairs"]
    assert bot.store.count_articles() == 3
    bridge = second.report.added[0]
    assert "engineers repair cracks" in bridge.text
    assert [f.url for f in service.followed()] == [http_server.url("/feed")]
    assert service.unfollow(http_server.url("/feed"))
    assert service.followed() == []


def test_an_entry_whose_page_fails_falls_back_to_the_feed_content(
    bot: Briefbot, http_server: LoopbackServer
) -> None:
    base = http_server.url("").rstrip("/")
    items = RSS_ITEM.format(
        base=base,
        slug="gone",
        title="Harbour reopens",
        text="The harbour reopened to cargo ships on Thursday morning after dredging.",
        date="Thu, 15 Aug 2024 08:00:00 GMT",
    )
    serve_feed(http_server, "/feed", RSS.format(base=base, items=items), "application/rss+xml")
    result = bot.feed_service.follow(http_server.url("/feed"))
    [article] = result.report.added
    assert article.title == "Harbour reopens"
    assert "reopened to cargo ships" in article.text
    assert article.source == "Valley Wire"


def test_following_something_that_is_not_a_feed_is_refused(
    bot: Briefbot, http_server: LoopbackServer
) -> None:
    from bot.services.feeds import FollowError

    http_server.routes["/page"] = Reply(headers=HTML, body=ARTICLE)
    with pytest.raises(FollowError, match="not a feed"):
        bot.feed_service.follow(http_server.url("/page"))
    assert bot.feed_service.followed() == []


class FaultyFetcher(Fetcher):
    """Fault injection: fetching a URL containing one of ``faults`` raises an error nobody
    anticipated, like the unknown-charset LookupError that once escaped a poll."""

    def __init__(self, faults: Collection[str]) -> None:
        super().__init__(**fetcher_settings())
        self.faults = faults

    def fetch(self, url: str, **kwargs: object) -> Fetched:
        if any(fault in url for fault in self.faults):
            raise LookupError("unknown encoding: x-bogus")
        return super().fetch(url, **kwargs)  # type: ignore[arg-type]


BOGUS_TEXT = {"Content-Type": "text/plain; charset=x-bogus"}
PLAIN_STORY = "Tram line extended\n\nThe tram line now runs to the new hospital, the city said."


def test_a_page_with_an_unknown_charset_is_ingested(
    bot: Briefbot, http_server: LoopbackServer
) -> None:
    http_server.routes["/note"] = Reply(headers=BOGUS_TEXT, body=PLAIN_STORY.encode())
    report = bot.ingest_service.ingest_url(http_server.url("/note"))
    assert report.failures == []
    assert [a.title for a in report.added] == ["Tram line extended"]


def test_an_unexpected_error_on_one_url_fails_only_that_url(
    bot: Briefbot, http_server: LoopbackServer
) -> None:
    http_server.routes["/good"] = Reply(headers=HTML, body=ARTICLE)
    service = IngestService(
        bot.indexer,
        fetcher=FaultyFetcher(["/poison"]),
        max_file_bytes=bot.ingest_service.max_file_bytes,
    )
    report = service.ingest_sources([http_server.url("/poison"), http_server.url("/good")])
    assert [a.title for a in report.added] == ["Glacier retreat speeds up in the Alps"]
    [failure] = report.failures
    assert failure.reason == "could not be read: LookupError"


def rss_feed(base: str, items: list[tuple[str, str, str | None]]) -> str:
    """An RSS document; each item is (slug, title, description or None)."""
    body = "".join(
        f"<item><title>{title}</title><link>{base}/items/{slug}</link><guid>{slug}</guid>"
        + (f"<description>{text}</description>" if text else "")
        + "</item>"
        for slug, title, text in items
    )
    return RSS.format(base=base, items=body)


def test_each_feed_entry_fails_alone(bot: Briefbot, http_server: LoopbackServer) -> None:
    base = http_server.url("").rstrip("/")
    # An unknown charset (this once aborted the whole poll), a page that is only a menu (the
    # entry's own text is used instead) and an ordinary page.
    http_server.routes["/items/tram"] = Reply(headers=BOGUS_TEXT, body=PLAIN_STORY.encode())
    http_server.routes["/items/menu"] = Reply(
        headers=HTML, body=b"<html><body><nav><a>Home</a> | <a>About</a></nav></body></html>"
    )
    title, text = STORIES["school"]
    http_server.routes["/items/school"] = Reply(headers=HTML, body=article_page(title, text))
    items = [
        ("tram", "Tram line extended", None),
        ("menu", "Market hall renovated", "The market hall reopened after a year of work."),
        ("school", title, None),
    ]
    serve_feed(http_server, "/feed", rss_feed(base, items), "application/rss+xml")
    result = bot.feed_service.follow(http_server.url("/feed"))
    assert result.error is None and result.report.failures == []
    by_title = {a.title: a for a in result.report.added}
    assert set(by_title) == {"Tram line extended", "Market hall renovated", title}
    assert "new hospital" in by_title["Tram line extended"].text
    assert by_title["Market hall renovated"].text == (
        "The market hall reopened after a year of work."
    )


def test_one_feed_failing_unexpectedly_does_not_stop_the_others(
    bot: Briefbot, http_server: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    base = http_server.url("").rstrip("/")
    for slug, (title, text) in STORIES.items():
        http_server.routes[f"/items/{slug}"] = Reply(headers=HTML, body=article_page(title, text))
    feed = rss_feed(base, [(slug, title, text) for slug, (title, text) in STORIES.items()])
    serve_feed(http_server, "/poisoned", feed, "application/rss+xml")
    serve_feed(http_server, "/healthy", feed, "application/rss+xml")
    # Entry pages of the healthy feed fail too (bridge): the entry falls back to its own text.
    fetcher = FaultyFetcher(["/poisoned", "/items/bridge"])
    ingest = IngestService(
        bot.indexer, fetcher=fetcher, max_file_bytes=bot.ingest_service.max_file_bytes
    )
    service = FeedService(
        bot.feeds, ingest=ingest, fetcher=fetcher, max_entries=50, poll_budget=90, clock=bot.clock
    )
    bot.feeds.add(http_server.url("/poisoned"))
    bot.feeds.add(http_server.url("/healthy"))
    with caplog.at_level(logging.WARNING, logger="bot.services.feeds"):
        poisoned, healthy = service.poll_all()
    assert poisoned.error is not None and "LookupError" in poisoned.error
    assert healthy.error is None and healthy.report.failures == []
    assert sorted(a.title for a in healthy.report.added) == sorted(t for t, _ in STORIES.values())
    failures = [r.getMessage() for r in caplog.records if "poisoned" in r.getMessage()]
    assert len(failures) == 1 and "\n" not in failures[0]
    # The poisoned feed is not counted as polled, so it is simply tried again next time.
    poisoned_feed = bot.feeds.get(http_server.url("/poisoned"))
    assert poisoned_feed is not None and poisoned_feed.polls == 0


@pytest.mark.parametrize("url", ["http://[::1", "http://[::1]:99999/feed"])
def test_a_malformed_feed_address_is_refused_in_one_sentence(bot: Briefbot, url: str) -> None:
    with pytest.raises(FollowError, match=r"^That doesn't look like a web address"):
        bot.feed_service.follow(url)
    assert bot.feed_service.unfollow(url) is False


def test_a_slow_feed_poll_stops_at_its_budget_and_leaves_the_rest_for_later(
    bot: Briefbot, http_server: LoopbackServer
) -> None:
    base = http_server.url("").rstrip("/")
    slugs = list(STORIES)
    for slug in slugs:
        page = article_page(*STORIES[slug])
        http_server.routes[f"/items/{slug}"] = Reply(headers=HTML, body=page, delay=1.5)
    # No description: an entry whose page isn't fetched has nothing else to fall back on.
    feed = rss_feed(base, [(slug, STORIES[slug][0], None) for slug in slugs])
    serve_feed(http_server, "/feed", feed, "application/rss+xml")
    service = FeedService(
        bot.feeds,
        ingest=bot.ingest_service,
        fetcher=bot.fetcher,
        max_entries=50,
        poll_budget=2.0,
        clock=bot.clock,
    )
    first = service.follow(http_server.url("/feed"))
    # The budget (2 s) ran out during the second 1.5 s page: one entry in, two left over.
    assert first.report.failures == []
    assert [a.title for a in first.report.added] == [STORIES[slugs[0]][0]]
    assert first.deferred == 2
    assert poll_summary(first).endswith(", 2 left for the next poll")

    for slug in slugs:
        page = article_page(*STORIES[slug])
        http_server.routes[f"/items/{slug}"] = Reply(headers=HTML, body=page)
    [second] = service.poll_all()
    # The feed itself is unchanged, yet it is read again: the deferred entries are in it.
    assert not second.not_modified and second.deferred == 0
    assert sorted(a.title for a in second.report.added) == sorted(
        STORIES[slug][0] for slug in slugs[1:]
    )
    assert bot.store.count_articles() == 3


def test_an_address_that_is_not_http_fails_alone(bot: Briefbot, tmp_path: Path) -> None:
    good = tmp_path / "good.txt"
    good.write_text("Ferry resumes\nThe island ferry resumed its winter timetable on Monday.")
    report = bot.ingest_service.ingest_sources(["ftp://example.org/story", str(good)])
    assert [a.title for a in report.added] == ["Ferry resumes"]
    [failure] = report.failures
    assert failure.origin == "ftp://example.org/story"
    assert failure.reason == "only http:// and https:// addresses can be fetched"
