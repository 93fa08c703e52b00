"""Terminal rendering with rich: the answering sentence emphasised, sources underneath.

Everything shown here came from outside (pages, feeds, files), so it goes through ``safe``:
rich's ``Text`` never reads markup, but it passes escape sequences to the terminal as they are.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from bot.replies import format_date
from bot.services.ask import Answer, Quote
from bot.services.briefing import Briefing
from bot.services.ingest import IngestReport
from corpus.model import clean_text


def safe(text: str) -> str:
    """Text without escape sequences or control characters other than newline and tab.

    Stored articles are cleaned when they are made; this also covers what is not stored
    (file names, failure reasons, feed titles) and anything stored before that rule.
    """
    return clean_text(text)


def byline(quote: Quote) -> str:
    parts = [quote.source or "unknown source", format_date(quote.published_at)]
    return " · ".join(parts)


def _quote(quote: Quote, number: int) -> Text:
    text = Text()
    text.append(f"{number}. {safe(quote.title)}\n", style="bold")
    text.append(f"   {safe(byline(quote))}", style="dim")
    if quote.outside_window:
        text.append(" · outside the period asked about", style="dim italic")
    if quote.url:
        text.append(f" · {safe(quote.url)}", style="dim underline")
    text.append("\n   “")
    cursor = 0
    # Sliced first and cleaned after, so the highlight offsets still point into quote.text.
    for start, end in quote.highlights:
        text.append(safe(quote.text[cursor:start]))
        text.append(safe(quote.text[start:end]), style="bold yellow")
        cursor = end
    text.append(safe(quote.text[cursor:]))
    text.append("”\n")
    return text


def render_answer(answer: Answer) -> RenderableType:
    if not answer.found:
        return Text(safe(answer.note or "Nothing found."), style="italic")
    parts: list[RenderableType] = []
    if answer.note:
        parts.append(Text(safe(answer.note), style="italic"))
    parts.extend(_quote(quote, i) for i, quote in enumerate(answer.quotes, start=1))
    return Group(*parts)


def render_ingest_report(report: IngestReport, *, list_added: int = 20) -> RenderableType:
    """Every duplicate and failure with its reason; added articles listed while there are few.

    A single item is reported in one line, without the summary.
    """
    lines = Text()
    for article in report.added if len(report.added) <= list_added else []:
        lines.append("added  ", style="green")
        lines.append(safe(f"{article.title} ({article.source or 'unknown source'}, "))
        lines.append(f"{format_date(article.published_at)})\n")
    for dup in report.duplicates:
        lines.append("skipped ", style="yellow")
        lines.append(safe(f"{dup.origin}: duplicate of “{dup.of.title}”") + "\n")
    for failure in report.failures:
        lines.append("failed ", style="red")
        lines.append(safe(f"{failure.origin}: {failure.reason}") + "\n")
    if report.items == 1:
        lines.rstrip()
    else:
        lines.append(report.summary(), style="bold")
    return lines


def render_briefing(briefing: Briefing) -> RenderableType:
    if not briefing.stories:
        return Text(briefing.empty_note, style="italic")
    text = Text()
    text.append(f"{briefing.title} — {briefing.window.label}\n", style="bold underline")
    for number, story in enumerate(briefing.stories, start=1):
        text.append(f"\n{number}. {safe(story.headline)}", style="bold")
        if story.tags:
            text.append(f"  [{safe(' · '.join(story.tags))}]", style="cyan")
        text.append("\n")
        for quote in story.quotes:
            text.append(f"   “{safe(quote.text)}”\n")
        for article in story.sources:
            text.append(f"   — {safe(article.source or 'unknown source')} · ", style="dim")
            text.append(f"{format_date(article.published_at)} · {safe(article.title)}", style="dim")
            if article.url:
                text.append(f" · {safe(article.url)}", style="dim underline")
            text.append("\n")
        if story.why:
            text.append(f"   {safe(story.why)}\n", style="dim italic")
    return text
