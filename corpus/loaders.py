"""Loaders: turn files and raw records (txt, md, html, json, jsonl, pdf) into articles.

Every loader reports per-item failures instead of raising, so one broken file or line
never costs the rest of a batch.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import dateparser
import frontmatter
import lxml.etree
import lxml.html
import trafilatura
from pypdf import PdfReader
from pypdf.errors import PdfReadError
from trafilatura.settings import Document

from corpus.model import Article, as_aware, normalise_text


class LoadError(ValueError):
    """An input that cannot become an article; the message is shown to the person who gave it."""


@dataclass(frozen=True)
class LoadFailure:
    origin: str
    reason: str


@dataclass
class Loaded:
    articles: list[tuple[str, Article]] = field(default_factory=list)
    failures: list[LoadFailure] = field(default_factory=list)

    def extend(self, other: Loaded) -> None:
        self.articles.extend(other.articles)
        self.failures.extend(other.failures)


_DATE_KEYS = ("published_at", "published", "date", "pubdate")


def parse_datetime(value: object) -> datetime | None:
    """Read a publication date from ISO text, a date, or any common human format."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime | date):
        return as_aware(value)
    if not isinstance(value, str):
        raise LoadError(f"unreadable date {value!r}")
    text = value.strip()
    try:
        if len(text) == 10:
            return as_aware(date.fromisoformat(text))
        return as_aware(datetime.fromisoformat(text))
    except ValueError:
        parsed = dateparser.parse(text, settings={"RETURN_AS_TIMEZONE_AWARE": False})
        if parsed is None:
            raise LoadError(f"unreadable date {text!r}") from None
        return as_aware(parsed)


def _optional_str(record: Mapping[str, Any], key: str) -> str | None:
    value = record.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise LoadError(f"field {key!r} must be text")
    return value.strip() or None


def article_from_record(record: object) -> Article:
    """Build an article from a JSON object with ``title`` and ``text`` (other fields optional)."""
    if not isinstance(record, Mapping):
        raise LoadError("expected a JSON object with 'title' and 'text'")
    title = _optional_str(record, "title")
    text = _optional_str(record, "text")
    if not text:
        raise LoadError("the record has no 'text'")
    if not title:
        raise LoadError("the record has no 'title'")
    date_value = next((record[k] for k in _DATE_KEYS if record.get(k)), None)
    return Article(
        title=normalise_text(title),
        text=text,
        url=_optional_str(record, "url"),
        source=_optional_str(record, "source"),
        author=_optional_str(record, "author"),
        published_at=parse_datetime(date_value),
    )


def article_from_text(text: str, *, title: str | None = None, **fields: Any) -> Article:
    """Plain text: the first non-empty line is the title unless one is given."""
    body = text.strip()
    if title is None:
        first, _, rest = body.partition("\n")
        title, body = first.strip(), rest.strip()
    if not body:
        raise LoadError("there is no article text after the title line")
    return Article(title=normalise_text(title), text=body, **fields)


def article_from_html(html: str | bytes, *, url: str | None = None) -> Article:
    """Extract the main text and metadata of a page, leaving menus, ads and comments behind."""
    doc = trafilatura.bare_extraction(
        html, url=url, with_metadata=True, include_comments=False, include_tables=False
    )
    if not isinstance(doc, Document) or not (doc.text or "").strip():
        raise LoadError("this page has no article text")
    text = str(doc.text)
    title = (doc.title or "").strip() or text.split("\n", 1)[0][:120]
    published = None
    if doc.date:
        try:
            published = parse_datetime(doc.date)
        except LoadError:
            published = None
    return Article(
        title=normalise_text(title),
        text=text.strip(),
        url=url or doc.url or None,
        source=doc.sitename or doc.hostname or None,
        author=doc.author or None,
        published_at=published,
    )


_BLOCKS = ("p", "div", "br", "li", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6")
_BLANK_LINES = re.compile(r"\n\s*\n\s*")


def article_from_fragment(fragment: str, *, title: str, **fields: Any) -> Article:
    """A snippet of HTML from a feed entry: all of its text is the article, paragraphs kept.

    Unlike a whole page there is no boilerplate to strip, so no main-text extraction is needed.
    """
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (ValueError, lxml.etree.ParserError):
        raise LoadError("the entry has no readable text") from None
    for block in root.iter(*_BLOCKS):
        block.text = "\n\n" + (block.text or "")
        block.tail = "\n\n" + (block.tail or "")
    text = _BLANK_LINES.sub("\n\n", root.text_content()).strip()
    if not text:
        raise LoadError("the entry has no text")
    return Article(title=normalise_text(title), text=text, **fields)


def _load_text_like(origin: str, data: bytes) -> Loaded:
    raw = data.decode("utf-8")
    post = frontmatter.loads(raw)
    if post.metadata:
        record = {**post.metadata, "text": post.content}
        return Loaded(articles=[(origin, article_from_record(record))])
    return Loaded(articles=[(origin, article_from_text(raw))])


def _load_html(origin: str, data: bytes) -> Loaded:
    return Loaded(articles=[(origin, article_from_html(data))])


def _load_pdf(origin: str, data: bytes) -> Loaded:
    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
        title = (reader.metadata.title if reader.metadata else None) or None
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise LoadError("the PDF could not be read (it may be damaged or encrypted)") from exc
    text = "\n\n".join(page.strip() for page in pages if page.strip())
    if not text:
        raise LoadError("the PDF has no extractable text (is it a scan?)")
    return Loaded(articles=[(origin, article_from_text(text, title=title))])


def _collect(items: Iterable[tuple[str, Any]], parse: Callable[[Any], object]) -> Loaded:
    """Turn (origin, raw record) pairs into articles, keeping each failure to its own item."""
    loaded = Loaded()
    for origin, raw in items:
        try:
            loaded.articles.append((origin, article_from_record(parse(raw))))
        except (LoadError, json.JSONDecodeError) as exc:
            loaded.failures.append(LoadFailure(origin, _reason(exc)))
    return loaded


def _load_json(origin: str, data: bytes) -> Loaded:
    parsed = json.loads(data.decode("utf-8"))
    records = parsed if isinstance(parsed, list) else [parsed]
    return _collect(((f"{origin}#{i}", r) for i, r in enumerate(records, start=1)), lambda r: r)


def _load_jsonl(origin: str, data: bytes) -> Loaded:
    lines = data.decode("utf-8").splitlines()
    numbered = ((f"{origin}:{n}", line) for n, line in enumerate(lines, start=1) if line.strip())
    return _collect(numbered, json.loads)


LOADERS: dict[str, Callable[[str, bytes], Loaded]] = {
    ".txt": _load_text_like,
    ".md": _load_text_like,
    ".markdown": _load_text_like,
    ".html": _load_html,
    ".htm": _load_html,
    ".json": _load_json,
    ".jsonl": _load_jsonl,
    ".pdf": _load_pdf,
}
SUPPORTED = ", ".join(sorted(LOADERS))
MAX_FILE_BYTES = 20_000_000


def _reason(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "the file is not UTF-8 text"
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON ({exc.msg}, line {exc.lineno})"
    if isinstance(exc, OSError):
        return f"cannot read the file ({exc.strerror or exc})"
    return str(exc)


def load_bytes(name: str, data: bytes, *, origin: str | None = None) -> Loaded:
    """Load an uploaded or read file; its type comes from the extension of ``name``."""
    origin = origin or name
    loader = LOADERS.get(Path(name).suffix.lower())
    if loader is None:
        return Loaded(failures=[LoadFailure(origin, f"unsupported file type (use {SUPPORTED})")])
    try:
        return loader(origin, data)
    except (LoadError, UnicodeDecodeError, json.JSONDecodeError, ValueError) as exc:
        return Loaded(failures=[LoadFailure(origin, _reason(exc))])


def load_file(path: Path, *, max_bytes: int = MAX_FILE_BYTES) -> Loaded:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            reason = f"the file is larger than {max_bytes / 1_000_000:g} MB"
            return Loaded(failures=[LoadFailure(str(path), reason)])
        return load_bytes(path.name, path.read_bytes(), origin=str(path))
    except OSError as exc:
        return Loaded(failures=[LoadFailure(str(path), _reason(exc))])


def iter_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Expand directories recursively into the supported files they hold, in a stable order."""
    for path in paths:
        if path.is_dir():
            yield from sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in LOADERS
            )
        else:
            yield path


def load_paths(paths: Iterable[Path], *, max_bytes: int = MAX_FILE_BYTES) -> Loaded:
    loaded = Loaded()
    for path in iter_files(paths):
        if not path.exists():
            loaded.failures.append(LoadFailure(str(path), "no such file or directory"))
            continue
        loaded.extend(load_file(path, max_bytes=max_bytes))
    return loaded
