from __future__ import annotations

import codecs
import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from corpus.loaders import (
    LOADERS,
    NO_PAGE_TEXT,
    Loaded,
    LoadError,
    article_from_html,
    load_bytes,
    load_paths,
)
from corpus.model import Article, canonical_url, content_hash, safe_url

# The default BRIEFBOT_INGEST__MAX_FILE_MB.
LIMIT = 20_000_000
ARTICLE_HTML = """<!doctype html><html><head><title>Harbour reopens after storm | Coast News</title>
<meta name="author" content="Ana Lima">
<meta property="article:published_time" content="2024-03-02T08:00:00Z">
</head><body><nav><a href="/">Home</a> <a href="/sport">Sport</a> Subscribe now</nav>
<article><h1>Harbour reopens after storm</h1>
<p>The harbour of Porto Novo reopened on Saturday after a week of repairs to the storm-damaged
quay.</p>
<p>Fishing boats returned at dawn, and the harbour master said cargo traffic would resume on
Monday.</p>
<p>Repairs cost the town about two million euros, according to the mayor's office.</p>
</article><div class="comments"><p>Comment: first!!!</p></div>
<footer>Copyright Coast News. Cookie settings.</footer></body></html>"""


def test_every_format_loads_with_its_metadata(tmp_path: Path) -> None:
    (tmp_path / "plain.txt").write_text("River floods town\n\nThe river rose overnight.\n")
    (tmp_path / "front.md").write_text(
        "---\ntitle: Budget passes\nsource: Daily\nauthor: Jo\npublished_at: 2024-05-01\n"
        "url: https://example.org/budget?utm_source=x\n---\n\nThe budget passed on Tuesday.\n"
    )
    (tmp_path / "page.html").write_text(ARTICLE_HTML)
    (tmp_path / "one.json").write_text(json.dumps({"title": "J", "text": "Json body."}))
    (tmp_path / "many.jsonl").write_text(
        json.dumps({"title": "A", "text": "First.", "published": "2024-01-02T10:00:00+02:00"})
        + "\n\n"
        + json.dumps({"title": "B", "text": "Second.", "source": "Wire"})
        + "\n"
    )
    loaded = load_paths([tmp_path], max_bytes=LIMIT)
    assert loaded.failures == []
    by_title = {article.title: article for _, article in loaded.articles}
    assert set(by_title) == {
        "River floods town",
        "Budget passes",
        "Harbour reopens after storm",
        "J",
        "A",
        "B",
    }
    assert by_title["River floods town"].text == "The river rose overnight."
    budget = by_title["Budget passes"]
    assert (budget.source, budget.author) == ("Daily", "Jo")
    assert (
        budget.published_at is not None and budget.published_at.date().isoformat() == "2024-05-01"
    )
    assert budget.canonical_url == "https://example.org/budget"
    html = by_title["Harbour reopens after storm"]
    assert "Fishing boats returned at dawn" in html.text
    assert "Subscribe now" not in html.text and "first!!!" not in html.text
    assert html.author == "Ana Lima"
    assert html.published_at is not None and html.published_at.date().isoformat() == "2024-03-02"
    assert by_title["A"].published_at == datetime(2024, 1, 2, 8, 0, tzinfo=UTC)


def test_broken_inputs_are_reported_and_the_rest_still_loads(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("Good title\nGood body.")
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02 not text")
    (tmp_path / "lines.jsonl").write_text(
        json.dumps({"title": "Kept", "text": "Kept body."})
        + "\n{oops\n"
        + json.dumps({"title": "No text"})
        + "\n"
    )
    (tmp_path / "empty.txt").write_text("Only a title\n")
    loaded = load_paths([tmp_path, tmp_path / "missing.txt"], max_bytes=LIMIT)
    titles = sorted(article.title for _, article in loaded.articles)
    assert titles == ["Good title", "Kept"]
    reasons = {Path(f.origin.split(":")[0].split("#")[0]).name: f.reason for f in loaded.failures}
    assert "invalid JSON" in reasons["broken.json"]
    assert reasons["binary.txt"] == "the file is binary, not text"
    assert reasons["missing.txt"] == "no such file or directory"
    assert "no article text" in reasons["empty.txt"]
    assert len([f for f in loaded.failures if "lines.jsonl" in f.origin]) == 2


def test_identity_rules() -> None:
    assert (
        canonical_url("HTTPS://Example.org:443/a?utm_medium=x&id=3#top")
        == "https://example.org/a?id=3"
    )
    assert content_hash("Some  text\nhere") == content_hash("some text here")


def failure_reasons(loaded: Loaded) -> dict[str, str]:
    return {Path(f.origin).name: f.reason for f in loaded.failures}


def test_broken_front_matter_and_deep_json_fail_alone(tmp_path: Path) -> None:
    (tmp_path / "a-good.txt").write_text("Good title\nGood body.")
    (tmp_path / "broken.md").write_text("---\ntitle: x\n  bad: : [\n---\nThe body.\n")
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    deep_line = "[" * 100_000 + "]" * 100_000
    kept = json.dumps({"title": "Kept line", "text": "Kept body."})
    (tmp_path / "mixed.jsonl").write_text(f"{deep_line}\n{kept}\n")
    (tmp_path / "z-good.md").write_text("---\ntitle: Also good\n---\nAnother body.\n")
    loaded = load_paths([tmp_path], max_bytes=LIMIT)
    assert sorted(a.title for _, a in loaded.articles) == ["Also good", "Good title", "Kept line"]
    reasons = failure_reasons(loaded)
    assert reasons["broken.md"].startswith("broken front matter: ")
    assert "(line 3)" in reasons["broken.md"]
    assert reasons["deep.json"] == "the JSON is nested too deeply"
    assert reasons["mixed.jsonl:1"] == "the JSON is nested too deeply"


def test_a_failure_no_loader_anticipated_stays_with_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def crash(origin: str, data: bytes) -> Loaded:
        raise RuntimeError("a library bug")

    # Fault injection: a loader failing in a way nobody foresaw (a parser library's own error).
    monkeypatch.setitem(LOADERS, ".md", crash)
    (tmp_path / "crash.md").write_text("Anything")
    (tmp_path / "fine.txt").write_text("Fine title\nFine body.")
    with caplog.at_level(logging.WARNING, logger="corpus.loaders"):
        loaded = load_paths([tmp_path], max_bytes=LIMIT)
    assert [a.title for _, a in loaded.articles] == ["Fine title"]
    assert failure_reasons(loaded) == {"crash.md": "could not be read: RuntimeError"}
    assert len(caplog.records) == 1 and "\n" not in caplog.records[0].getMessage()


def test_text_files_in_other_encodings_are_decoded(tmp_path: Path) -> None:
    (tmp_path / "latin1.txt").write_bytes("Prix réduit\nPrice £5, café “noir”.".encode("cp1252"))
    (tmp_path / "bom.txt").write_bytes(codecs.BOM_UTF8 + "Bom title\nBody é.".encode())
    (tmp_path / "bom.md").write_bytes(
        codecs.BOM_UTF8 + b"---\ntitle: Front matter after a BOM\n---\nThe body.\n"
    )
    (tmp_path / "wide.txt").write_bytes("Wide title\nUTF-16 body.".encode("utf-16"))
    record = json.dumps({"title": "Json with BOM", "text": "Body ü."}, ensure_ascii=False)
    (tmp_path / "bom.json").write_bytes(codecs.BOM_UTF8 + record.encode())
    (tmp_path / "bom.jsonl").write_bytes(codecs.BOM_UTF8 + record.replace("Json", "Line").encode())
    loaded = load_paths([tmp_path], max_bytes=LIMIT)
    assert loaded.failures == []
    by_title = {a.title: a for _, a in loaded.articles}
    assert by_title["Prix réduit"].text == "Price £5, café “noir”."
    assert by_title["Bom title"].text == "Body é."
    assert by_title["Wide title"].text == "UTF-16 body."
    assert by_title["Front matter after a BOM"].text == "The body."
    assert by_title["Json with BOM"].text == "Body ü."
    assert "Line with BOM" in by_title


def test_a_page_that_is_only_navigation_is_not_an_article() -> None:
    nav = "<html><body><nav><a href='/'>Home</a> | <a href='/about'>About</a></nav></body></html>"
    with pytest.raises(LoadError, match=f"^{NO_PAGE_TEXT}$"):
        article_from_html(nav, url="https://example.org/")
    assert article_from_html(ARTICLE_HTML).title == "Harbour reopens after storm"


def test_control_characters_never_reach_a_stored_article() -> None:
    article = Article(
        title="\x1b]0;pwned\x07Breaking\x1b[31m news\x1b[0m",
        text="Line one\r\nLine\ttwo\x00\x07 \x9b31mred\x0cpage\udcff.",
        source="Wire\x1b[2J",
        author="Ann\x08e",
    )
    assert article.title == "Breaking news"
    assert article.text == "Line one\nLine\ttwo red page\ufffd."
    assert (article.source, article.author) == ("Wire", "Anne")
    # A lone surrogate in a JSON record can't be stored as UTF-8; it becomes U+FFFD.
    line = '{"title": "T\\ud800", "text": "Body \\udcff text."}'
    [(_, loaded)] = load_bytes("a.jsonl", line.encode()).articles
    assert loaded.text == "Body \ufffd text."
    loaded.text.encode("utf-8")


@pytest.mark.parametrize("url", ["http://[::1", "http://example.org:99999/a"])
def test_malformed_urls_are_dropped_not_kept(url: str) -> None:
    assert safe_url(url) is None
    article = Article(title="t", text="x", url=url)
    assert (article.url, article.canonical_url) == (None, None)
    with pytest.raises(ValueError):
        canonical_url(url)
