from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from corpus.loaders import load_paths
from corpus.model import canonical_url, content_hash

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
    loaded = load_paths([tmp_path])
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
    (tmp_path / "latin1.txt").write_bytes("Title\nPrice \xa3 5".encode("latin-1"))
    (tmp_path / "lines.jsonl").write_text(
        json.dumps({"title": "Kept", "text": "Kept body."})
        + "\n{oops\n"
        + json.dumps({"title": "No text"})
        + "\n"
    )
    (tmp_path / "empty.txt").write_text("Only a title\n")
    loaded = load_paths([tmp_path, tmp_path / "missing.txt"])
    titles = sorted(article.title for _, article in loaded.articles)
    assert titles == ["Good title", "Kept"]
    reasons = {Path(f.origin.split(":")[0].split("#")[0]).name: f.reason for f in loaded.failures}
    assert "invalid JSON" in reasons["broken.json"]
    assert reasons["latin1.txt"] == "the file is not UTF-8 text"
    assert reasons["missing.txt"] == "no such file or directory"
    assert "no article text" in reasons["empty.txt"]
    assert len([f for f in loaded.failures if "lines.jsonl" in f.origin]) == 2


def test_identity_rules() -> None:
    assert (
        canonical_url("HTTPS://Example.org:443/a?utm_medium=x&id=3#top")
        == "https://example.org/a?id=3"
    )
    assert content_hash("Some  text\nhere") == content_hash("some text here")
