"""OPML: the outline files feed readers import and export their followed feeds as."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from xml.parsers import expat

from corpus.errors import BriefbotError
from corpus.model import canonical_url, clean_text, normalise_text

_HEAD_TITLE = "Feeds followed by briefbot"


class OPMLError(BriefbotError):
    """A file that is not usable OPML; the message is one sentence for the person who gave it."""


@dataclass(frozen=True, kw_only=True)
class OutlineFeed:
    """One feed of an outline: its address, and the name a reader shows it under, if any."""

    url: str
    title: str | None


def read_opml(data: bytes) -> list[OutlineFeed]:
    """The feeds an OPML file lists, in the file's order, each address once.

    Categories (outlines inside outlines) are flattened, and outlines without a usable
    ``xmlUrl`` (a category, a plain link) are skipped. Raises OPMLError for anything that is
    not OPML.
    """
    if not data.strip():
        raise OPMLError("That file is empty, so it lists no feeds.")
    feeds: dict[str, OutlineFeed] = {}
    root: list[str] = []  # the root element's name, once the parser reaches it

    def start(name: str, attributes: dict[str, str]) -> None:
        if not root:
            root.append(name)
            if name != "opml":
                raise OPMLError(f"That file is XML but not OPML (its root element is <{name}>).")
        if name != "outline":
            return
        # Readers disagree on the capitals ("xmlUrl", "xmlurl"); OPML's own names are camelCase.
        named = {key.lower(): value for key, value in attributes.items()}
        url = named.get("xmlurl", "").strip()
        # XML 1.0 lets C1 controls through: an address with one (half a terminal escape
        # sequence) is no feed's, and would be printed as it is.
        if url and url.isprintable():
            feeds.setdefault(_identity(url), OutlineFeed(url=url, title=_title(named)))

    def refuse_entities(*_: object) -> None:
        # OPML never needs entity declarations, and refusing them stops "billion laughs",
        # quadratic blow-up and external entities whichever expat Python was built with.
        raise OPMLError(
            "That file declares XML entities, which OPML never needs, so I won't read it."
        )

    parser = expat.ParserCreate()
    parser.StartElementHandler = start
    parser.EntityDeclHandler = refuse_entities
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        reason = expat.ErrorString(exc.code)
        raise OPMLError(
            f"That file is not valid OPML: its XML breaks at line {exc.lineno} ({reason})."
        ) from None
    return list(feeds.values())


def write_opml(feeds: Iterable[OutlineFeed]) -> bytes:
    """An OPML 2.0 document listing ``feeds`` in order, as feed readers import it."""
    opml = ET.Element("opml", {"version": "2.0"})
    ET.SubElement(ET.SubElement(opml, "head"), "title").text = _HEAD_TITLE
    body = ET.SubElement(opml, "body")
    for feed in feeds:
        # ``text`` is required; a feed that names itself nothing is shown by its address.
        name = _clean(feed.title) or feed.url
        attributes = {"type": "rss", "text": name, "title": name, "xmlUrl": feed.url}
        ET.SubElement(body, "outline", attributes)
    ET.indent(opml)
    document: bytes = ET.tostring(opml, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


def _identity(url: str) -> str:
    """What makes two outlines one feed: the canonical address, when the address parses."""
    try:
        return canonical_url(url)
    except ValueError:
        return url


def _title(attributes: dict[str, str]) -> str | None:
    # ``text`` is what the reader showed (possibly renamed by its user); ``title`` the feed's own.
    return _clean(attributes.get("text")) or _clean(attributes.get("title"))


def _clean(title: str | None) -> str | None:
    """A title as it is printed: no control characters (which XML 1.0 can't hold either)."""
    return normalise_text(clean_text(title or "")) or None
