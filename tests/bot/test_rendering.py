"""Chat renderings of text that comes from outside: links, markup and sizes stay under control."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime

from rich.console import Console, RenderableType

from bot.rendering import discord, slack, terminal
from bot.rendering.limits import excerpt
from bot.replies import Notice, poll_summary
from bot.services.ask import Answer, Quote
from bot.services.briefing import Briefing, KeyQuote, Story
from bot.services.feeds import PollResult
from bot.services.ingest import Duplicate, IngestReport
from corpus.feeds import Feed
from corpus.loaders import LoadFailure
from corpus.model import Article, safe_url
from retrieval.window import Window

HOSTILE_URL = "https://a.example/x|y> <!channel> <https://b"
KEY = "The minister resigned on Friday."


def quote(
    *, url: str | None = "https://news.example/a", title: str = "Title", source: str = "Wire"
) -> Quote:
    text = "Filler about the harbour and its piers. " * 150 + KEY + " Tail sentence here."
    start = text.index(KEY)
    return Quote(
        text=text,
        highlights=((start, start + len(KEY)),),
        title=title,
        source=source,
        url=url,
        published_at=None,
        score=1.0,
        article_id=1,
        passage_id=1,
    )


def test_links_from_outside_are_made_safe() -> None:
    assert Article(title="t", text="x", url=HOSTILE_URL).url == (
        "https://a.example/x%7Cy%3E%20%3C!channel%3E%20%3Chttps://b"
    )
    assert Article(title="t", text="x", url="javascript:alert(1)").url is None
    assert safe_url("ftp://files.example/a") is None
    message = slack.answer_message(Answer(question="Who quit?", quotes=[quote(url=HOSTILE_URL)]))
    rendered = str(message)
    assert "<!channel>" not in rendered
    assert "<https://a.example/x%7Cy%3E%20%3C!channel%3E%20%3Chttps://b|Title>" in rendered
    embed = discord.answer_message(Answer(question="q", quotes=[quote(url=HOSTILE_URL)]))
    assert embed["embeds"][0]["url"] == safe_url(HOSTILE_URL)


def test_slack_fallback_text_is_escaped() -> None:
    message = slack.answer_message(
        Answer(question="<!here> & friends?", quotes=[quote()]), restate=True
    )
    assert message["text"].startswith("&lt;!here&gt; &amp; friends?")
    notice = slack.notice_message(Notice(("Added “A <b> & c”",)))
    assert notice["text"] == "Added “A &lt;b&gt; &amp; c”"


def test_discord_keeps_every_limit_with_long_titles_and_sources() -> None:
    quotes = [quote(title="T" * 400, source="S" * 600) for _ in range(10)]
    message = discord.answer_message(Answer(question="Q" * 3000, quotes=quotes), restate=True)
    embeds = message["embeds"]
    assert len(message["content"]) <= discord.MAX_CONTENT
    assert 1 <= len(embeds) <= discord.MAX_EMBEDS
    assert sum(discord._embed_size(e) for e in embeds) <= discord.MAX_TOTAL
    for embed in embeds:
        assert len(embed["description"]) <= discord.MAX_DESCRIPTION
        assert f"**{KEY}**" in embed["description"]


def test_discord_notices_show_outside_text_as_written() -> None:
    notice = Notice(("Added “[Verify](https://phish.example/a_b)” — see https://x.org/a_b.",))
    content = discord.notice_message(notice)["content"]
    assert content == (
        "Added “\\[Verify\\](<https://phish.example/a_b>)” — see <https://x.org/a_b>."
    )


def test_an_excerpt_keeps_context_when_highlights_are_far_apart() -> None:
    text = "First answer is here. " + "Filler words go here. " * 40 + "Second answer is here."
    second = text.index("Second")
    part = excerpt(text, [(0, 21), (second, second + 22)], 300)
    assert len(part.text) <= 300
    assert [part.text[s:e] for s, e in part.highlights] == ["First answer is here."]
    assert part.text.startswith("First answer is here. Filler words go here.")
    # A highlight starting mid-sentence is widened to the whole sentence.
    middle = text.index("words", 200)
    part = excerpt(text, [(middle, middle + 5)], 60)
    assert re.match(r"… Filler words go here\.", part.text)


# Escape sequences as they arrive in scraped titles and text: retitle the window, recolour,
# clear the screen, and a C1 CSI.
HOSTILE_TEXT = "\x1b]0;pwned\x07Red \x1b[31malert\x1b[2J\x9b1m now\x07\x08"


def printed(renderable: RenderableType | str) -> str:
    """What a terminal would receive; colours are off, so any escape byte came from the data."""
    out = io.StringIO()
    Console(file=out, color_system=None, width=200).print(renderable)
    return out.getvalue()


def assert_no_controls(output: str) -> None:
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", output), repr(output)


def test_escape_sequences_in_outside_text_never_reach_the_terminal() -> None:
    hostile = quote(title=HOSTILE_TEXT, source=HOSTILE_TEXT)
    hostile = Quote(**{**hostile.__dict__, "text": HOSTILE_TEXT + " " + KEY})
    start = hostile.text.index(KEY)
    hostile = Quote(**{**hostile.__dict__, "highlights": ((start, start + len(KEY)),)})
    answer = printed(terminal.render_answer(Answer(question="q", quotes=[hostile])))
    assert_no_controls(answer)
    assert "Red alert now" in answer and KEY in answer

    article = Article(title="Clean", text="Body.")
    report = IngestReport(
        added=[article],
        duplicates=[Duplicate(HOSTILE_TEXT, article, article)],
        failures=[LoadFailure(f"{HOSTILE_TEXT}.txt", HOSTILE_TEXT)],
    )
    assert_no_controls(printed(terminal.render_ingest_report(report)))

    window = Window.day(date(2024, 5, 1), UTC)
    story = Story(
        headline=HOSTILE_TEXT,
        quotes=[KeyQuote(text=HOSTILE_TEXT, article=article)],
        sources=[article],
        topic=HOSTILE_TEXT,
    )
    assert_no_controls(printed(terminal.render_briefing(Briefing(window=window, stories=[story]))))

    feed = Feed(
        id=1,
        url="https://example.org/feed",
        title=HOSTILE_TEXT,
        etag=None,
        last_modified=None,
        added_at=datetime(2024, 5, 1, tzinfo=UTC),
        last_polled_at=None,
        polls=1,
    )
    line = poll_summary(PollResult(feed=feed, error=HOSTILE_TEXT))
    assert_no_controls(line)
    assert line.startswith("Red alert now: ")
