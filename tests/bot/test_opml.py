"""OPML import and export of followed feeds, and following the feed a web page advertises,
against a real HTTP server on loopback."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from bot.services.feeds import AlreadyFollowingError, FeedService, FollowError
from bot.wiring import Briefbot
from corpus.opml import OPMLError, OutlineFeed, read_opml, write_opml
from tests.cli_harness import briefbot, one_line_error
from tests.conftest import MakeBot
from tests.http_server import LoopbackServer, Reply, make_fetcher

RSS = {"Content-Type": "application/rss+xml"}
HTML = {"Content-Type": "text/html; charset=utf-8"}
NO_FEED = "That link points to a web page, not a feed, and the page advertises no feed."

STORIES = [
    ("Ferry service resumes", "The island ferry resumed service after storm repairs to its pier."),
    ("New school opens", "A new primary school with room for 400 pupils opened in the north."),
    ("Bridge closed for repairs", "The old stone bridge will close for six weeks for repairs."),
    ("Market hall renovated", "The market hall reopened after a year of work on its roof."),
    ("Tram line extended", "The tram line now runs to the new hospital, the city said."),
]


@pytest.fixture
def bot(make_bot: MakeBot) -> Briefbot:
    bot = make_bot(ingest={"allow_private_networks": True, "timeout_seconds": 2.0})
    bot.prepare()
    return bot


class RecordingProgress:
    def __init__(self) -> None:
        self.total: int | None = None
        self.advanced = 0

    def start(self, total: int, description: str) -> None:
        self.total = total

    def advance(self, amount: int = 1) -> None:
        self.advanced += amount


def rss(title: str, stories: list[tuple[str, str]]) -> bytes:
    """A tiny RSS feed whose items carry their text, so no entry page is fetched."""
    items = "".join(
        f'<item><title>{headline}</title><guid isPermaLink="false">{headline}</guid>'
        f"<description>{text}</description></item>"
        for headline, text in stories
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>'
        f"{items}</channel></rss>"
    ).encode()


def outline(title: str, url: str) -> str:
    return f'<outline type="rss" text="{title}" title="{title}" xmlUrl="{url}"/>'


def opml(outlines: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><opml version="2.0">'
        f"<head><title>My feeds</title></head><body>{outlines}</body></opml>"
    ).encode()


def test_fifty_feeds_survive_an_import_and_export_round_trip(
    bot: Briefbot, http_server: LoopbackServer
) -> None:
    feeds = {http_server.url(f"/feeds/{i}.xml"): f"Wire {i:02d}" for i in range(50)}
    for i, title in enumerate(feeds.values()):
        # One feed in ten has an entry: enough to see entries ingested, few enough to be fast.
        stories = [STORIES[i // 10]] if i % 10 == 0 else []
        http_server.routes[f"/feeds/{i}.xml"] = Reply(headers=RSS, body=rss(title, stories))
    progress = RecordingProgress()

    report = bot.feed_service.import_opml(
        opml("".join(outline(title, url) for url, title in feeds.items())), progress=progress
    )

    assert report.summary() == "50 followed, 0 already followed, 0 failed"
    assert [result.feed.url for result in report.followed] == list(feeds)
    assert all(result.error is None for result in report.followed)
    assert (progress.total, progress.advanced) == (50, 50)
    assert bot.store.count_articles() == 5
    exported = read_opml(bot.feed_service.export_opml())
    assert [(feed.url, feed.title) for feed in exported] == list(feeds.items())
    # Importing the export again changes nothing: every feed is already followed.
    again = bot.feed_service.import_opml(write_opml(exported))
    assert again.summary() == "0 followed, 50 already followed, 0 failed"
    assert again.already_followed == list(feeds)
    assert len(bot.feed_service.followed()) == 50


def test_nested_categories_are_flattened_and_each_feed_imported_on_its_own(
    bot: Briefbot, http_server: LoopbackServer
) -> None:
    valley, ridge, lake = (http_server.url(f"/{name}.xml") for name in ("valley", "ridge", "lake"))
    http_server.routes["/valley.xml"] = Reply(headers=RSS, body=rss("Valley Wire", STORIES[:1]))
    http_server.routes["/lake.xml"] = Reply(headers=RSS, body=rss("Lake News", []))
    # /ridge.xml is not served: that feed fails and the others are still followed.
    bot.feed_service.follow(lake)
    document = opml(
        '<outline text="News"><outline text="Local">'
        + outline("Valley", valley)
        + "</outline>"
        + outline("Ridge", ridge)
        + '</outline><outline text="More">'
        + outline("Valley again", f"{valley}?utm_source=reader")  # the same feed
        + '<outline text="A site" type="link" url="https://example.org/"/>'
        + outline("Lake", lake)
        + '</outline><outline text="Empty category"/>'
    )

    assert read_opml(document) == [
        OutlineFeed(url=valley, title="Valley"),
        OutlineFeed(url=ridge, title="Ridge"),
        OutlineFeed(url=lake, title="Lake"),
    ]
    report = bot.feed_service.import_opml(document)
    assert report.summary() == "1 followed, 1 already followed, 1 failed"
    [followed] = report.followed
    assert (followed.feed.url, followed.feed.title) == (valley, "Valley Wire")
    assert [a.title for a in followed.report.added] == [STORIES[0][0]]
    assert report.already_followed == [lake]
    [failure] = report.failures
    assert failure.origin == ridge
    assert failure.reason == "The site answered 404 Not Found."
    assert [feed.url for feed in bot.feed_service.followed()] == [lake, valley]


def test_an_outline_without_a_title_of_its_own_takes_the_feeds_or_the_opml_name(
    bot: Briefbot, http_server: LoopbackServer
) -> None:
    named, untitled = http_server.url("/named.xml"), http_server.url("/untitled.xml")
    http_server.routes["/named.xml"] = Reply(headers=RSS, body=rss("Named by itself", []))
    http_server.routes["/untitled.xml"] = Reply(headers=RSS, body=rss("", STORIES[:1]))
    bot.feed_service.import_opml(opml(outline("Mine", named) + outline("Reader's name", untitled)))
    titles = {feed.url: feed.title for feed in bot.feed_service.followed()}
    assert titles == {named: "Named by itself", untitled: "Reader's name"}


def broken_documents(server: LoopbackServer) -> dict[str, bytes]:
    listed = opml(outline("Valley", server.url("/valley.xml")))
    return {
        "truncated": listed[:-20],
        "csv": f"Valley Wire,{server.url('/valley.xml')}\n".encode(),
        "a feed": rss("Valley Wire", []),
        "html": b"<html><head><title>Feeds</title></head><body><p>Hi</body></html>",
        "binary": b"\x89PNG\r\n\x1a\n\x00\x00",
        "empty": b"  \n",
    }


@pytest.mark.parametrize("kind", ["truncated", "csv", "a feed", "html", "binary", "empty"])
def test_a_broken_opml_file_is_refused_in_one_sentence_and_follows_nothing(
    bot: Briefbot, http_server: LoopbackServer, kind: str
) -> None:
    http_server.routes["/valley.xml"] = Reply(headers=RSS, body=rss("Valley Wire", []))
    with pytest.raises(OPMLError) as refused:
        bot.feed_service.import_opml(broken_documents(http_server)[kind])
    assert re.fullmatch(r"That file [^.\n]+\.", str(refused.value)), str(refused.value)
    # Even the truncated file's first outline, read before the break, is not followed.
    assert bot.feed_service.followed() == []
    assert http_server.requests == []


def test_opml_errors_name_what_is_wrong() -> None:
    with pytest.raises(OPMLError, match=r"^That file is XML but not OPML \(its root element is"):
        read_opml(rss("Valley Wire", []))
    with pytest.raises(OPMLError, match=r"^That file is not valid OPML: .* line 1 "):
        read_opml(b"<opml><body><outline text='a' xmlUrl='http://a.example/'></body></opml>")
    with pytest.raises(OPMLError, match=r"^That file is empty"):
        read_opml(b"")


def test_an_outline_whose_address_has_control_characters_is_skipped() -> None:
    document = opml(
        outline("Sneaky", "http://a.example/\u009b31m.xml") + outline("Fine", "http://b.example/")
    )
    assert read_opml(document) == [OutlineFeed(url="http://b.example/", title="Fine")]


LAUGHS = "".join(f'<!ENTITY lol{level} "{f"&lol{level - 1};" * 10}">' for level in range(1, 10))
BILLION_LAUGHS = (
    f'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY lol0 "lol">{LAUGHS}]>'
    '<opml version="2.0"><body><outline text="&lol9;" xmlUrl="http://a.example/"/></body></opml>'
).encode()
QUADRATIC = (
    f'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY big "{"x" * 100_000}">]>'
    f'<opml version="2.0"><body><outline text="{"&big;" * 10_000}" xmlUrl="http://a.example/"/>'
    "</body></opml>"
).encode()


def external_entity(server: LoopbackServer) -> bytes:
    return (
        f'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY secret SYSTEM "{server.url("/secret")}">]>'
        '<opml version="2.0"><body><outline text="&secret;" xmlUrl="http://a.example/"/>'
        "</body></opml>"
    ).encode()


@pytest.mark.parametrize("attack", ["billion laughs", "quadratic blowup", "external entity"])
def test_entity_expansion_attacks_are_refused(
    bot: Briefbot, http_server: LoopbackServer, attack: str
) -> None:
    document = {
        "billion laughs": BILLION_LAUGHS,
        "quadratic blowup": QUADRATIC,
        "external entity": external_entity(http_server),
    }[attack]
    with pytest.raises(OPMLError, match=r"^That file declares XML entities, .*\.$"):
        bot.feed_service.import_opml(document)
    assert bot.feed_service.followed() == []
    assert http_server.requests == []


def test_an_export_is_opml_2_with_one_rss_outline_per_feed() -> None:
    feeds = [
        OutlineFeed(url="https://example.org/rss?lang=en&section=news", title='Tom & "Jerry" <3>'),
        OutlineFeed(url="https://example.net/atom.xml", title=None),
    ]
    root = ET.fromstring(write_opml(feeds))
    assert (root.tag, root.get("version")) == ("opml", "2.0")
    assert root.findtext("head/title") == "Feeds followed by briefbot"
    assert [outline.attrib for outline in root.iterfind("body/outline")] == [
        {
            "type": "rss",
            "text": 'Tom & "Jerry" <3>',
            "title": 'Tom & "Jerry" <3>',
            "xmlUrl": "https://example.org/rss?lang=en&section=news",
        },
        # ``text`` is required, so a feed without a title is named by its address.
        {
            "type": "rss",
            "text": "https://example.net/atom.xml",
            "title": "https://example.net/atom.xml",
            "xmlUrl": "https://example.net/atom.xml",
        },
    ]


def home_page(*links: str) -> bytes:
    head = "".join(f'<link rel="alternate" {link}>' for link in links)
    return (
        f"<!doctype html><html><head><title>Valley</title>{head}</head>"
        "<body><p>Welcome to the valley's news site.</p></body></html>"
    ).encode()


def test_a_page_that_advertises_a_feed_is_followed_as_that_feed(
    bot: Briefbot, http_server: LoopbackServer
) -> None:
    http_server.routes["/news/"] = Reply(
        headers=HTML,
        body=home_page(
            'type="application/feed+json" href="/feed.json"',  # JSON Feed: not read
            'type="text/html" hreflang="fr" href="/fr/"',
            'type="application/rss+xml" title="All news" href="feed.xml"',  # relative
            'type="application/atom+xml" href="/atom.xml"',
        ),
    )
    http_server.routes["/news/feed.xml"] = Reply(headers=RSS, body=rss("Valley Wire", STORIES[:2]))
    page, feed = http_server.url("/news/"), http_server.url("/news/feed.xml")

    result = bot.feed_service.follow(page)

    assert result.found_on == page
    assert (result.feed.url, result.feed.title) == (feed, "Valley Wire")
    assert [a.title for a in result.report.added] == [title for title, _ in STORIES[:2]]
    # Only the first advertised RSS/Atom feed is fetched, and only once.
    assert [r.path for r in http_server.requests] == ["/news/", "/news/feed.xml"]
    assert [f.url for f in bot.feed_service.followed()] == [feed]
    for again in (page, feed):
        with pytest.raises(AlreadyFollowingError, match=r"^I already follow that feed\.$"):
            bot.feed_service.follow(again)
    # The feed itself, given directly, is followed without a page to name.
    bot.feed_service.unfollow(feed)
    assert bot.feed_service.follow(feed).found_on is None


@pytest.mark.parametrize(
    "links",
    [
        (),
        ('type="application/feed+json" href="/feed.json"',),
        ('type="text/html" hreflang="fr" href="/fr/"',),
    ],
    ids=["no links", "only a JSON feed", "only a translation"],
)
def test_a_page_that_advertises_no_feed_is_refused_politely(
    bot: Briefbot, http_server: LoopbackServer, links: tuple[str, ...]
) -> None:
    http_server.routes["/"] = Reply(headers=HTML, body=home_page(*links))
    with pytest.raises(FollowError, match=rf"^{re.escape(NO_FEED)}$"):
        bot.feed_service.follow(http_server.url("/"))
    assert bot.feed_service.followed() == []
    assert [r.path for r in http_server.requests] == ["/"]


@pytest.mark.parametrize(
    ("href", "reason"),
    [
        ("http://10.0.0.7/feed.xml", "That address points to a private network"),
        ("http://169.254.169.254/latest/meta-data", "That address points to a private network"),
        ("/missing.xml", "The site answered 404 Not Found."),
        ("/", "That link points to a file of type text/html, not a feed."),
    ],
)
def test_an_advertised_feed_is_vetted_like_any_address(
    bot: Briefbot, http_server: LoopbackServer, href: str, reason: str
) -> None:
    # Only the test server counts as public here, as on a bot that refuses private networks.
    service = FeedService(
        bot.feeds,
        ingest=bot.ingest_service,
        fetcher=make_fetcher(),
        max_entries=50,
        poll_budget=10,
        clock=bot.clock,
    )
    http_server.routes["/"] = Reply(
        headers=HTML, body=home_page(f'type="application/rss+xml" href="{href}"')
    )
    with pytest.raises(FollowError) as refused:
        service.follow(http_server.url("/"))
    advertised = href if "://" in href else http_server.url(href)
    assert str(refused.value).startswith(
        f"That page advertises the feed {advertised}, which failed: {reason}"
    )
    assert service.followed() == []


def test_the_cli_imports_exports_and_follows_a_site_by_its_page(
    http_server: LoopbackServer, tmp_path: Path
) -> None:
    for i in range(3):
        http_server.routes[f"/f{i}.xml"] = Reply(
            headers=RSS, body=rss(f"Wire {i}", STORIES[i : i + 1])
        )
    http_server.routes["/site/"] = Reply(
        headers=HTML, body=home_page('type="application/rss+xml" href="/f2.xml"')
    )
    listed = tmp_path / "mine.opml"
    listed.write_bytes(
        opml("".join(outline(f"Wire {i}", http_server.url(f"/f{i}.xml")) for i in range(2)))
    )
    env = {"BRIEFBOT_INGEST__ALLOW_PRIVATE_NETWORKS": "true"}
    data_dir = ["--data-dir", str(tmp_path / "data")]

    imported = briefbot("feeds", "import", str(listed), *data_dir, env=env)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.splitlines()[-1] == "2 followed, 0 already followed, 0 failed"
    assert "Wire 0: 1 new, 0 duplicates, 0 failed" in imported.stdout

    added = briefbot("feeds", "add", http_server.url("/site/"), *data_dir, env=env)
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith(f"Now following Wire 2 (found on {http_server.url('/site/')}).")

    exported = tmp_path / "out.opml"
    assert briefbot("feeds", "export", str(exported), *data_dir).returncode == 0
    assert [(f.url, f.title) for f in read_opml(exported.read_bytes())] == [
        (http_server.url(f"/f{i}.xml"), f"Wire {i}") for i in range(3)
    ]
    printed = briefbot("feeds", "export", *data_dir)
    assert printed.stdout.encode() == exported.read_bytes()

    broken = tmp_path / "broken.opml"
    broken.write_text("<opml><body><outline", encoding="utf-8")
    line = one_line_error(briefbot("feeds", "import", str(broken), *data_dir, env=env))
    assert line.startswith("error: That file is not valid OPML")
