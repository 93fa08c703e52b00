from __future__ import annotations

import socket
import time
from ipaddress import ip_address

import pytest

from corpus.web import (
    ARTICLE_TYPES,
    FEED_TYPES,
    Fetcher,
    FetchError,
    any_address,
    decode,
    is_public_address,
)
from tests.http_server import LoopbackServer, Received, Reply, chunks, make_fetcher

PRIVATE = "private network"
HTML = {"Content-Type": "text/html; charset=ISO-8859-1"}


@pytest.fixture
def fetcher() -> Fetcher:
    return make_fetcher(timeout=5.0)


def test_html_page_is_fetched_with_type_charset_and_user_agent(
    http_server: LoopbackServer, fetcher: Fetcher
) -> None:
    http_server.routes["/story"] = Reply(headers=HTML, body=b"<p>Caf\xe9 opens</p>")
    fetched = fetcher.fetch(http_server.url("/story?id=1"), accept=ARTICLE_TYPES)
    assert fetched.url == http_server.url("/story?id=1")
    assert (fetched.status, fetched.content_type, fetched.charset) == (
        200,
        "text/html",
        "iso-8859-1",
    )
    assert fetched.body == b"<p>Caf\xe9 opens</p>"
    assert not fetched.not_modified
    [request] = http_server.requests
    assert request.path == "/story?id=1"
    assert request.headers["user-agent"].startswith("briefbot/")
    assert "text/html" in request.headers["accept"]
    assert request.headers["host"] == f"127.0.0.1:{http_server.port}"


def test_redirect_chain_is_followed_to_the_final_url(
    http_server: LoopbackServer, fetcher: Fetcher
) -> None:
    http_server.routes["/old"] = Reply(status=301, headers={"Location": http_server.url("/moved")})
    http_server.routes["/moved"] = Reply(status=302, headers={"Location": "final"})
    http_server.routes["/final"] = Reply(headers=HTML, body=b"<p>here</p>")
    fetched = fetcher.fetch(http_server.url("/old"), accept=ARTICLE_TYPES)
    assert fetched.url == http_server.url("/final")
    assert fetched.body == b"<p>here</p>"
    assert [r.path for r in http_server.requests] == ["/old", "/moved", "/final"]


def test_too_many_redirects_are_refused(http_server: LoopbackServer) -> None:
    http_server.routes["/loop"] = Reply(status=302, headers={"Location": "/loop"})
    fetcher = make_fetcher(max_redirects=2)
    with pytest.raises(FetchError, match="redirected more than 2 times"):
        fetcher.fetch(http_server.url("/loop"), accept=ARTICLE_TYPES)
    assert len(http_server.requests) == 3


def test_loopback_is_refused_by_default_without_a_request(http_server: LoopbackServer) -> None:
    http_server.routes["/"] = Reply(headers=HTML, body=b"secret")
    for url in (http_server.url("/"), f"http://localhost:{http_server.port}/"):
        with pytest.raises(FetchError, match=PRIVATE):
            make_fetcher(address_allowed=is_public_address).fetch(url, accept=ARTICLE_TYPES)
    assert http_server.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.1/",
        "http://[::1]/",
        "http://[::ffff:169.254.169.254]/",
        "http://0.0.0.0/",
        "http://2130706433/",  # 127.0.0.1 written as one number
    ],
)
def test_private_addresses_are_refused(url: str) -> None:
    with pytest.raises(FetchError, match=PRIVATE):
        make_fetcher(address_allowed=is_public_address, timeout=0.5).fetch(
            url, accept=ARTICLE_TYPES
        )


@pytest.mark.parametrize("target", ["http://10.0.0.1/", "http://169.254.169.254/latest/meta-data"])
def test_every_redirect_hop_is_vetted_before_connecting(
    http_server: LoopbackServer, fetcher: Fetcher, target: str
) -> None:
    # The first hop (127.0.0.1) is allowed; the second must fail on the address check, which
    # comes before any connection: connecting to these addresses would time out instead.
    http_server.routes["/go"] = Reply(status=302, headers={"Location": target})
    started = time.monotonic()
    with pytest.raises(FetchError, match=PRIVATE):
        fetcher.fetch(http_server.url("/go"), accept=ARTICLE_TYPES)
    assert time.monotonic() - started < 1
    assert [r.path for r in http_server.requests] == ["/go"]


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fd00::1", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:169.254.169.254", False),
        ("2002:a00:1::1", False),  # 6to4 wrapping 10.0.0.1
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 wrapping 169.254.169.254
        ("93.184.215.14", True),
        ("::ffff:93.184.215.14", True),
        ("64:ff9b::5db8:d70e", True),
        ("2606:4700::1111", True),
    ],
)
def test_address_policy(address: str, public: bool) -> None:
    assert is_public_address(ip_address(address)) is public


def test_streamed_body_over_the_limit_is_refused(http_server: LoopbackServer) -> None:
    http_server.routes["/big"] = Reply(headers=HTML, body=chunks(20_000_000))
    fetcher = make_fetcher(max_bytes=5_000_000)
    with pytest.raises(FetchError, match="larger than 5 MB"):
        fetcher.fetch(http_server.url("/big"), accept=ARTICLE_TYPES)


def test_declared_length_over_the_limit_is_refused_before_reading(
    http_server: LoopbackServer,
) -> None:
    headers = {**HTML, "Content-Length": "20000000"}
    http_server.routes["/big"] = Reply(headers=headers, body=chunks(20_000_000))
    fetcher = make_fetcher(max_bytes=5_000_000)
    with pytest.raises(FetchError, match="larger than 5 MB"):
        fetcher.fetch(http_server.url("/big"), accept=ARTICLE_TYPES)


def test_wrong_content_types_are_refused(http_server: LoopbackServer, fetcher: Fetcher) -> None:
    http_server.routes["/logo.png"] = Reply(headers={"Content-Type": "image/png"}, body=b"\x89PNG")
    http_server.routes["/report.pdf"] = Reply(headers={"Content-Type": "application/pdf"})
    http_server.routes["/page"] = Reply(headers=HTML, body=b"<p>hi</p>")
    with pytest.raises(FetchError, match=r"an image \(image/png\), not an article\.$"):
        fetcher.fetch(http_server.url("/logo.png"), accept=ARTICLE_TYPES)
    with pytest.raises(FetchError, match=r"type application/pdf, not an article\.$"):
        fetcher.fetch(http_server.url("/report.pdf"), accept=ARTICLE_TYPES)
    with pytest.raises(FetchError, match=r"type text/html, not a feed\.$"):
        fetcher.fetch(http_server.url("/page"), accept=FEED_TYPES)


def test_empty_page_is_returned_as_is(http_server: LoopbackServer, fetcher: Fetcher) -> None:
    http_server.routes["/empty"] = Reply(headers={"Content-Type": "text/html"})
    fetched = fetcher.fetch(http_server.url("/empty"), accept=ARTICLE_TYPES)
    assert (fetched.status, fetched.body, fetched.charset) == (200, b"", None)


def test_slow_site_times_out(http_server: LoopbackServer) -> None:
    http_server.routes["/slow"] = Reply(headers=HTML, body=b"late", delay=3)
    fetcher = make_fetcher(timeout=0.5)
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"^The site took too long to answer\.$"):
        fetcher.fetch(http_server.url("/slow"), accept=ARTICLE_TYPES)
    assert time.monotonic() - started < 2


def test_http_errors_name_the_status(http_server: LoopbackServer, fetcher: Fetcher) -> None:
    http_server.routes["/down"] = Reply(status=503)
    with pytest.raises(FetchError, match=r"^The site answered 404 Not Found\.$"):
        fetcher.fetch(http_server.url("/missing"), accept=ARTICLE_TYPES)
    with pytest.raises(FetchError, match=r"^The site answered 503 Service Unavailable\.$"):
        fetcher.fetch(http_server.url("/down"), accept=ARTICLE_TYPES)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/file",
        "not a url",
        "http://",
        "javascript:alert(1)",
        "",
        "http://[::1",
        "http://[::1]:99999/",
        "http://xn--.example/",  # an IDNA label that doesn't decode
    ],
)
def test_non_web_addresses_are_refused(url: str) -> None:
    with pytest.raises(FetchError, match=r"^That doesn't look like a web address"):
        make_fetcher(address_allowed=is_public_address).fetch(url, accept=ARTICLE_TYPES)


def test_credentials_in_the_url_are_refused_without_echoing_them() -> None:
    with pytest.raises(FetchError) as raised:
        make_fetcher(address_allowed=is_public_address).fetch(
            "https://me:hunter2@example.org/", accept=ARTICLE_TYPES
        )
    assert "hunter2" not in str(raised.value)


def test_unknown_host_and_closed_port_are_explained() -> None:
    with pytest.raises(FetchError, match="couldn't find the site"):
        make_fetcher(address_allowed=is_public_address).fetch(
            "http://no-such-host.invalid/", accept=ARTICLE_TYPES
        )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(FetchError, match="couldn't connect"):
        make_fetcher(address_allowed=any_address).fetch(
            f"http://127.0.0.1:{port}/", accept=ARTICLE_TYPES
        )


def test_conditional_get_reports_not_modified(
    http_server: LoopbackServer, fetcher: Fetcher
) -> None:
    validators = {"ETag": '"v1"', "Last-Modified": "Sat, 02 Mar 2024 08:00:00 GMT"}

    def feed(request: Received) -> Reply:
        if request.headers.get("if-none-match") == '"v1"':
            return Reply(status=304, headers=validators)
        return Reply(headers={"Content-Type": "application/rss+xml", **validators}, body=b"<rss/>")

    http_server.routes["/feed.xml"] = feed
    first = fetcher.fetch(http_server.url("/feed.xml"), accept=FEED_TYPES)
    assert (first.status, first.body, first.etag) == (200, b"<rss/>", '"v1"')
    assert first.last_modified == validators["Last-Modified"]
    second = fetcher.fetch(
        http_server.url("/feed.xml"),
        accept=FEED_TYPES,
        etag=first.etag,
        last_modified=first.last_modified,
    )
    assert second.not_modified
    assert (second.body, second.etag) == (b"", '"v1"')
    sent = http_server.requests[1].headers
    assert sent["if-none-match"] == '"v1"'
    assert sent["if-modified-since"] == validators["Last-Modified"]


@pytest.mark.parametrize("charset", ["x-no-such-charset", "base64", "utf\x00-8", "", None])
def test_decoding_falls_back_to_utf8_when_the_charset_is_unusable(charset: str | None) -> None:
    assert decode("Café \xff".encode() + b"\xff", charset) == "Café \xff\ufffd"


def test_a_page_with_an_unknown_charset_is_still_read(
    http_server: LoopbackServer, fetcher: Fetcher
) -> None:
    http_server.routes["/note"] = Reply(
        headers={"Content-Type": "text/plain; charset=x-no-such-charset"}, body="Café".encode()
    )
    page = fetcher.fetch(http_server.url("/note"), accept=ARTICLE_TYPES)
    assert page.charset == "x-no-such-charset"
    assert page.text() == "Café"


def test_a_declared_charset_is_used(http_server: LoopbackServer, fetcher: Fetcher) -> None:
    http_server.routes["/story"] = Reply(headers=HTML, body=b"Caf\xe9 opens")
    assert fetcher.fetch(http_server.url("/story"), accept=ARTICLE_TYPES).text() == "Café opens"


def test_a_validator_that_is_not_ascii_is_not_sent_back(
    http_server: LoopbackServer, fetcher: Fetcher
) -> None:
    http_server.routes["/feed.xml"] = Reply(
        headers={"Content-Type": "application/rss+xml"}, body=b"<rss/>"
    )
    # A server's ETag, read as Latin-1, can't be re-sent by httpx; the poll goes unconditional.
    page = fetcher.fetch(http_server.url("/feed.xml"), accept=FEED_TYPES, etag='"caf\xe9"')
    assert page.body == b"<rss/>"
    assert "if-none-match" not in http_server.requests[0].headers


def test_a_call_can_ask_for_less_time_than_the_fetcher_allows(
    http_server: LoopbackServer,
) -> None:
    http_server.routes["/slow"] = Reply(headers=HTML, body=b"late", delay=3)
    fetcher = make_fetcher(timeout=10.0)
    started = time.monotonic()
    with pytest.raises(FetchError, match="took too long"):
        fetcher.fetch(http_server.url("/slow"), accept=ARTICLE_TYPES, timeout=0.3)
    assert time.monotonic() - started < 1.5
