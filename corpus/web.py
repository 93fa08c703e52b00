"""Web fetching: getting articles and feeds by URL without letting a link reach private networks."""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass

import httpx

from corpus.errors import BriefbotError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
AddressPolicy = Callable[[IPAddress], bool]

ARTICLE_TYPES = frozenset({"text/html", "application/xhtml+xml", "text/plain"})
FEED_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/xml",
        "text/xml",
    }
)

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NOT_A_URL = "That doesn't look like a web address (http or https)."
_PRIVATE = "That address points to a private network, which briefbot is not allowed to reach."
_TOO_SLOW = "The site took too long to answer."


class FetchError(BriefbotError):
    """A URL that could not be fetched; the message is one sentence for the person who gave it."""


@dataclass(frozen=True, kw_only=True)
class Fetched:
    """One response. ``url`` is where the redirects ended; a 304 has an empty body."""

    url: str
    status: int
    content_type: str
    charset: str | None
    body: bytes
    etag: str | None
    last_modified: str | None

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    def text(self) -> str:
        """The body decoded with its declared charset; see ``decode``."""
        return decode(self.body, self.charset)


def decode(body: bytes, charset: str | None) -> str:
    """Bytes as text in ``charset``, falling back to UTF-8; undecodable bytes become U+FFFD.

    The charset comes from the site, so it may name no codec Python knows ("x-user-defined",
    a typo) or one that is not a text encoding ("base64"); neither may fail the download.
    """
    if charset:
        try:
            return body.decode(charset, errors="replace")
        except (LookupError, ValueError):
            pass
    return body.decode("utf-8", errors="replace")


def any_address(ip: IPAddress) -> bool:
    """Every address may be fetched: for intranet feeds and tests, when the settings say so."""
    return True


def is_public_address(ip: IPAddress) -> bool:
    """Only globally routable unicast addresses may be fetched.

    IPv6 forms that carry an IPv4 address (mapped, 6to4, NAT64) route to it, so they are
    judged by it: ``::ffff:169.254.169.254`` is as private as ``169.254.169.254``.
    """
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF)
        if embedded is not None:
            return is_public_address(embedded)
    return ip.is_global and not (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


class Fetcher:
    """Fetches URLs, following redirects itself so that every hop's address is vetted."""

    def __init__(
        self,
        *,
        timeout: float,
        max_bytes: int,
        max_redirects: int,
        user_agent: str,
        address_allowed: AddressPolicy,
    ) -> None:
        self._address_allowed = address_allowed
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._max_redirects = max_redirects
        self._user_agent = user_agent

    def fetch(
        self,
        url: str,
        *,
        accept: Collection[str],
        etag: str | None = None,
        last_modified: str | None = None,
        timeout: float | None = None,
    ) -> Fetched:
        """GET ``url`` within ``timeout`` seconds in all (at most the fetcher's own limit); it
        blocks, so async code uses a thread."""
        accepted = ", ".join([*sorted(accept), "*/*;q=0.1"])
        headers = {"User-Agent": self._user_agent, "Accept": accepted}
        # Validators are the server's own header values, sent back as given; one that is not
        # plain ASCII can't be sent (httpx would raise), so that poll is simply unconditional.
        if etag and _sendable(etag):
            headers["If-None-Match"] = etag
        if last_modified and _sendable(last_modified):
            headers["If-Modified-Since"] = last_modified
        limit = self._timeout if timeout is None else min(timeout, self._timeout)
        deadline = time.monotonic() + limit
        current = _parse(url)
        try:
            # A client per fetch: no cookies or connections carry over from one site to another.
            with httpx.Client(follow_redirects=False, trust_env=False) as client:
                for _ in range(self._max_redirects + 1):
                    address = self._vet(current)
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise FetchError(_TOO_SLOW)
                    # Connect to the address just vetted instead of letting httpx ask DNS again
                    # (a rebinding DNS server could answer differently); Host and SNI keep the name.
                    with client.stream(
                        "GET",
                        current.copy_with(host=address),
                        headers={**headers, "Host": current.netloc.decode("ascii")},
                        timeout=remaining,
                        extensions={"sni_hostname": current.raw_host.decode("ascii")},
                    ) as response:
                        if not response.has_redirect_location:
                            return self._read(response, current, accept, deadline)
                        current = _parse(response.headers["Location"], base=current)
        except httpx.TimeoutException as exc:
            raise FetchError(_TOO_SLOW) from exc
        except httpx.ConnectError as exc:
            raise FetchError("I couldn't connect to the site.") from exc
        except httpx.HTTPError as exc:
            raise FetchError("The site's answer was cut off or garbled.") from exc
        except httpx.InvalidURL as exc:
            # A URL that parsed but that httpx can't request (odd characters in a redirect, …).
            raise FetchError(_NOT_A_URL) from exc
        except ValueError as exc:
            raise FetchError("I couldn't make sense of the site's address or answer.") from exc
        raise FetchError(
            f"The site redirected more than {self._max_redirects} times, so I gave up."
        )

    def _vet(self, url: httpx.URL) -> str:
        """Resolve the host and return an address to connect to, if every address is allowed."""
        try:
            infos = socket.getaddrinfo(url.raw_host.decode("ascii"), None, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            raise FetchError("I couldn't find the site at that address.") from None
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
        if not addresses or not all(self._address_allowed(ip) for ip in addresses):
            raise FetchError(_PRIVATE)
        return str(addresses[0])

    def _read(
        self, response: httpx.Response, url: httpx.URL, accept: Collection[str], deadline: float
    ) -> Fetched:
        status, headers = response.status_code, response.headers
        content_type, charset = _media_type(headers.get("Content-Type", ""))
        etag, last_modified = headers.get("ETag"), headers.get("Last-Modified")
        body = bytearray()
        if status == 304:
            # A 304 need not repeat the validators; keep the ones sent so callers don't lose them.
            etag = etag or response.request.headers.get("If-None-Match")
            last_modified = last_modified or response.request.headers.get("If-Modified-Since")
        elif not response.is_success:
            phrase = httpx.codes.get_reason_phrase(status)
            raise FetchError(f"The site answered {status} {phrase}".rstrip() + ".")
        elif not {content_type, f"{content_type.partition('/')[0]}/*", "*/*"} & set(accept):
            raise FetchError(_wrong_type(content_type, accept))
        else:
            too_big = FetchError(
                f"That page is larger than {self._max_bytes / 1_000_000:g} MB, "
                "which is more than briefbot will download."
            )
            length = headers.get("Content-Length", "")
            if length.isdigit() and int(length) > self._max_bytes:
                raise too_big
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > self._max_bytes:
                    raise too_big
                if time.monotonic() > deadline:
                    raise FetchError(_TOO_SLOW)
        return Fetched(
            url=str(url),
            status=status,
            content_type=content_type,
            charset=charset,
            body=bytes(body),
            etag=etag,
            last_modified=last_modified,
        )


def _parse(url: str, *, base: httpx.URL | None = None) -> httpx.URL:
    try:
        parsed = base.join(url) if base is not None else httpx.URL(url.strip())
        # Reading the port and the host validates them (a malformed "xn--" label raises here).
        port, host = parsed.port, parsed.host
    except (httpx.InvalidURL, ValueError):
        raise FetchError(_NOT_A_URL) from None
    if parsed.scheme not in ("http", "https") or not host or not 0 < (port or 80) < 65536:
        raise FetchError(_NOT_A_URL)
    if parsed.userinfo:
        raise FetchError(
            "That address contains a user name or password, which briefbot won't send."
        )
    return parsed


def _sendable(value: str) -> bool:
    return value.isascii() and value.isprintable()


def _media_type(header: str) -> tuple[str, str | None]:
    media_type, *params = header.split(";")
    charset = None
    for param in params:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip("\"'").lower() or None
    return media_type.strip().lower(), charset


def _wrong_type(content_type: str, accept: Collection[str]) -> str:
    wanted = set(accept)
    if wanted <= FEED_TYPES:
        noun = "a feed"
    elif wanted <= ARTICLE_TYPES:
        noun = "an article"
    else:
        noun = "a web page or feed"
    if content_type.startswith("image/"):
        return f"That link points to an image ({content_type}), not {noun}."
    return f"That link points to a file of type {content_type or 'unknown'}, not {noun}."
