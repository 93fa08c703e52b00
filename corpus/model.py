"""The article model and the identity rules (canonical URL, content hash) that spot duplicates."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

# Query parameters that only track the reader; two URLs differing only in these are one article.
_TRACKING_PARAMS = re.compile(
    r"^(utm_\w+|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|igshid|yclid|_ga|ref_src|cmpid|ocid)$",
    re.IGNORECASE,
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_SPACE = re.compile(r"\s+")
# Characters no valid URL holds raw, and that chat markup would read as syntax ("<url|title>").
_UNSAFE_IN_URL = re.compile(r'[\s<>|"\\^`{}]')
# Whole terminal escape sequences (CSI such as "\x1b[31m", OSC such as "\x1b]0;title\x07", and
# two-character ones), removed as a unit so that no "[31m" residue is left in the text.
_ESCAPE_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c\n]{0,1000}(?:\x07|\x1b\\|\x9c)"
    r"|\x1b[@-Z\\-_]"
)
# Controls that separate words or pages (vertical tab, form feed, the information separators,
# next line) become whitespace instead of gluing words together.
_SPACE_CONTROL = re.compile(r"[\x0b\x0c\x1c-\x1f\x85]")
# Every other C0 and C1 control except tab and newline, DEL, and lone surrogates (which can't be
# encoded as UTF-8, so SQLite and the tokenizer refuse them).
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


Clock = Callable[[], datetime]
"""Where "now" comes from: ``utcnow`` in production, a fixed instant for a reference time."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def running_from(start: datetime) -> Clock:
    """A clock that reads ``start`` now and runs on in real time: a bot serving an old corpus
    as if it were then, or rehearsing its schedule on chosen days."""
    offset = start - utcnow()
    return lambda: utcnow() + offset


def parse_instant(value: str) -> datetime:
    """An ISO 8601 date-time given as a reference time; one without a timezone is taken as UTC.

    Raises ValueError with a message that can be shown as it is.
    """
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(
            f"{value!r} is not an ISO date-time (e.g. 2023-09-20T09:00+02:00)"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def canonical_url(url: str) -> str:
    """Normalise a URL so that trivially different links to one page compare equal.

    Raises ValueError for a malformed URL ("http://[::1", a port out of range).
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    netloc = host if port is None or _DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    query = [(k, v) for k, v in query if not _TRACKING_PARAMS.match(k)]
    path = parts.path or "/"
    return urlunsplit((scheme, netloc, path, urlencode(query), ""))


def safe_url(url: str | None) -> str | None:
    """An http(s) URL with a host, its unsafe characters percent-encoded; ``None`` otherwise.

    Article links come from feeds, pages and uploads, i.e. from anyone: one that is not a web
    address, or that smuggles markup into a chat message, must never be rendered as given.
    """
    if not url:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
        # Reading the port raises ValueError when it is out of range or not a number.
        no_port = parts.port == 0
    except ValueError:
        return None
    if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname or no_port:
        return None
    return _UNSAFE_IN_URL.sub(lambda match: quote(match.group()), url)


def clean_text(text: str) -> str:
    """Text from outside with terminal escape sequences and control characters taken out.

    Tab and newline stay (a carriage return becomes a newline); lone surrogates become U+FFFD.
    Articles, titles and questions are shown in terminals and chats, where an escape sequence
    would recolour the screen, retitle the window or hide text.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _ESCAPE_SEQUENCE.sub("", text)
    text = _SPACE_CONTROL.sub(" ", text)
    text = _CONTROL.sub("", text)
    return _SURROGATE.sub("\ufffd", text)


def _clean_optional(text: str | None) -> str | None:
    return clean_text(text) if text is not None else None


def normalise_text(text: str) -> str:
    """Collapse whitespace so that re-wrapped copies of one text hash alike."""
    return _SPACE.sub(" ", text).strip()


def content_hash(text: str) -> str:
    return hashlib.sha256(normalise_text(text).casefold().encode("utf-8")).hexdigest()


def as_aware(value: datetime | date) -> datetime:
    """Give every published date a timezone.

    A bare date becomes noon UTC: that instant falls on the same calendar day in every
    timezone from UTC-11 to UTC+11, so day filters in the reader's timezone still match it.
    """
    if not isinstance(value, datetime):
        return datetime.combine(value, time(12, 0), tzinfo=UTC)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


@dataclass(frozen=True, kw_only=True)
class Article:
    """One news article. ``id`` is assigned by the store; ``None`` means not stored yet."""

    title: str
    text: str
    url: str | None = None
    source: str | None = None
    author: str | None = None
    published_at: datetime | None = None
    added_at: datetime = field(default_factory=utcnow)
    id: int | None = None

    def __post_init__(self) -> None:
        # Every article passes through here, from loaders, feeds and the store alike, so stored
        # text is clean whichever way it came in.
        object.__setattr__(self, "title", clean_text(self.title))
        object.__setattr__(self, "text", clean_text(self.text))
        object.__setattr__(self, "source", _clean_optional(self.source))
        object.__setattr__(self, "author", _clean_optional(self.author))
        object.__setattr__(self, "url", safe_url(self.url))

    @property
    def content_hash(self) -> str:
        return content_hash(self.text)

    @property
    def when(self) -> datetime:
        """When it was published, or else added: where it stands in time."""
        return self.published_at or self.added_at

    @property
    def canonical_url(self) -> str | None:
        return canonical_url(self.url) if self.url else None

    def listing(self) -> dict[str, object]:
        """What a list of stored articles shows of one (its text left out), JSON-ready."""
        return {
            "id": self.id,
            "title": self.title,
            "source": self.source,
            "published_at": self.published_at.isoformat() if self.published_at else None,
            "added_at": self.added_at.isoformat(),
            "url": self.url,
        }
