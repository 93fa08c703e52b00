"""Loaders: turn files and raw records (txt, md, html, json, jsonl, pdf) into articles.

Every loader reports per-item failures instead of raising, so one broken file or line
never costs the rest of a batch.
"""

from __future__ import annotations

import codecs
import io
import json
import logging
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
import yaml
from pypdf import PdfReader
from pypdf.errors import PdfReadError
from trafilatura.settings import Document

from corpus.errors import BriefbotError
from corpus.model import Article, as_aware, normalise_text

log = logging.getLogger(__name__)

# A fetched page whose main text has fewer words than this is a menu, a cookie wall or a teaser
# that trafilatura took for the article, not news. The shortest real articles in the tests and
# samples have about 25 words; a nav bar has a handful. Files given on purpose keep a bar of 1.
MIN_PAGE_WORDS = 20
_WORD = re.compile(r"\w+")
NO_PAGE_TEXT = "no article text found on that page"


class LoadError(BriefbotError, ValueError):
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


def article_from_html(
    html: str | bytes, *, url: str | None = None, min_words: int = MIN_PAGE_WORDS
) -> Article:
    """Extract the main text and metadata of a page, leaving menus, ads and comments behind.

    A main text of fewer than ``min_words`` words is refused: it is not an article.
    """
    doc = trafilatura.bare_extraction(
        html, url=url, with_metadata=True, include_comments=False, include_tables=False
    )
    if not isinstance(doc, Document) or not (doc.text or "").strip():
        raise LoadError(NO_PAGE_TEXT)
    text = str(doc.text)
    if len(_WORD.findall(text)) < min_words:
        raise LoadError(NO_PAGE_TEXT)
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


def decode_text(data: bytes) -> str:
    """A text file's content: UTF-8 (a byte-order mark skipped), UTF-16 with its mark, or else
    Windows-1252, which is what most older non-UTF-8 files are (a superset of printable Latin-1).

    Raises LoadError for a binary file and UnicodeDecodeError for bytes none of these fit.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    if b"\x00" in data:
        raise LoadError("the file is binary, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252")


def _front_matter_error(exc: yaml.YAMLError) -> LoadError:
    problem = getattr(exc, "problem", None) or str(exc).split("\n", 1)[0]
    mark = getattr(exc, "problem_mark", None)
    # The YAML text starts right after the opening "---", newline included, so the mark's
    # line (counted from 0) is the file's line counted from 0.
    where = f" (line {mark.line + 1})" if mark is not None else ""
    return LoadError(f"broken front matter: {problem}{where}")


def _load_text_like(origin: str, data: bytes) -> Loaded:
    raw = decode_text(data)
    try:
        post = frontmatter.loads(raw)
    except yaml.YAMLError as exc:
        raise _front_matter_error(exc) from None
    if post.metadata:
        record = {**post.metadata, "text": post.content}
        return Loaded(articles=[(origin, article_from_record(record))])
    return Loaded(articles=[(origin, article_from_text(raw))])


def _load_html(origin: str, data: bytes) -> Loaded:
    # A file was chosen on purpose, so any main text counts; the word floor is for fetched pages.
    return Loaded(articles=[(origin, article_from_html(data, min_words=1))])


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


_TOO_DEEP = "the JSON is nested too deeply"


def _parse_json(text: str) -> object:
    try:
        return json.loads(text)
    except RecursionError:
        # json recurses once per nesting level: "[[[[…" thousands deep exhausts the stack.
        raise LoadError(_TOO_DEEP) from None


def _collect(items: Iterable[tuple[str, Any]], parse: Callable[[Any], object]) -> Loaded:
    """Turn (origin, raw record) pairs into articles, keeping each failure to its own item."""
    loaded = Loaded()
    for origin, raw in items:
        try:
            loaded.articles.append((origin, article_from_record(parse(raw))))
        except (LoadError, json.JSONDecodeError) as exc:
            loaded.failures.append(LoadFailure(origin, _reason(exc)))
        except Exception as exc:  # one odd record must not cost the rest of the file
            loaded.failures.append(_unexpected(origin, exc))
    return loaded


def _load_json(origin: str, data: bytes) -> Loaded:
    parsed = _parse_json(decode_text(data))
    records = parsed if isinstance(parsed, list) else [parsed]
    return _collect(((f"{origin}#{i}", r) for i, r in enumerate(records, start=1)), lambda r: r)


def _load_jsonl(origin: str, data: bytes) -> Loaded:
    lines = decode_text(data).splitlines()
    numbered = ((f"{origin}:{n}", line) for n, line in enumerate(lines, start=1) if line.strip())
    return _collect(numbered, _parse_json)


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


def _reason(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "the file is not text (neither UTF-8 nor Windows-1252)"
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON ({exc.msg}, line {exc.lineno})"
    if isinstance(exc, FileNotFoundError):
        return "no such file or directory"
    if isinstance(exc, OSError):
        return f"cannot read the file ({exc.strerror or exc})"
    if isinstance(exc, RecursionError):
        return "the file is nested too deeply to read"
    return str(exc)


def _unexpected(origin: str, exc: Exception) -> LoadFailure:
    """The last resort for a failure no loader anticipated: one log line, one reason."""
    log.warning("%s could not be read: %s: %s", origin, type(exc).__name__, exc)
    return LoadFailure(origin, f"could not be read: {type(exc).__name__}")


def load_bytes(name: str, data: bytes, *, origin: str | None = None) -> Loaded:
    """Load an uploaded or read file; its type comes from the extension of ``name``.

    Never raises: whatever goes wrong with this file is reported as its failure.
    """
    origin = origin or name
    loader = LOADERS.get(Path(name).suffix.lower())
    if loader is None:
        return Loaded(failures=[LoadFailure(origin, f"unsupported file type (use {SUPPORTED})")])
    try:
        return loader(origin, data)
    except (LoadError, ValueError, RecursionError) as exc:
        # ValueError covers UnicodeDecodeError and json.JSONDecodeError.
        return Loaded(failures=[LoadFailure(origin, _reason(exc))])
    except Exception as exc:  # a library's own error type (pypdf, lxml, …): this file only
        return Loaded(failures=[_unexpected(origin, exc)])


def load_file(path: Path, *, max_bytes: int) -> Loaded:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            reason = f"the file is larger than {max_bytes / 1_000_000:g} MB"
            return Loaded(failures=[LoadFailure(str(path), reason)])
        data = path.read_bytes()
    except (OSError, ValueError) as exc:  # ValueError: a name with a NUL byte in it
        return Loaded(failures=[LoadFailure(str(path), _reason(exc))])
    return load_bytes(path.name, data, origin=str(path))


def iter_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Expand directories recursively into the supported files they hold, in a stable order.

    A path that can't be listed is yielded as it is, for ``load_file`` to report.
    """
    for path in paths:
        try:
            found = (
                sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in LOADERS)
                if path.is_dir()
                else [path]
            )
        except (OSError, ValueError):
            found = [path]
        yield from found


def load_paths(paths: Iterable[Path], *, max_bytes: int) -> Loaded:
    """Load files and directories; each file that fails is reported, the others still load."""
    loaded = Loaded()
    for path in iter_files(paths):
        loaded.extend(load_file(path, max_bytes=max_bytes))
    return loaded
