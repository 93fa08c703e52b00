"""Terminal rendering with rich: the answering sentence emphasised, sources underneath."""

from __future__ import annotations

from datetime import datetime

from rich.console import Group, RenderableType
from rich.text import Text

from bot.services.ask import Answer, Quote
from bot.services.briefing import Briefing
from bot.services.feeds import PollResult
from bot.services.ingest import IngestReport


def format_date(value: datetime | None) -> str:
    return value.date().isoformat() if value else "undated"


def byline(quote: Quote) -> str:
    parts = [quote.source or "unknown source", format_date(quote.published_at)]
    return " · ".join(parts)


def _quote(quote: Quote, number: int) -> Text:
    text = Text()
    text.append(f"{number}. {quote.title}\n", style="bold")
    text.append(f"   {byline(quote)}", style="dim")
    if quote.outside_window:
        text.append(" · outside the period asked about", style="dim italic")
    if quote.url:
        text.append(f" · {quote.url}", style="dim underline")
    text.append("\n   “")
    cursor = 0
    for start, end in quote.highlights:
        text.append(quote.text[cursor:start])
        text.append(quote.text[start:end], style="bold yellow")
        cursor = end
    text.append(quote.text[cursor:])
    text.append("”\n")
    return text


def render_answer(answer: Answer) -> RenderableType:
    if not answer.found:
        return Text(answer.note or "Nothing found.", style="italic")
    parts: list[RenderableType] = []
    if answer.note:
        parts.append(Text(answer.note, style="italic"))
    parts.extend(_quote(quote, i) for i, quote in enumerate(answer.quotes, start=1))
    return Group(*parts)


def render_ingest_report(report: IngestReport, *, list_added: int = 20) -> RenderableType:
    """Every duplicate and failure with its reason; added articles listed while there are few.

    A single item is reported in one line, without the summary.
    """
    lines = Text()
    for article in report.added if len(report.added) <= list_added else []:
        lines.append("added  ", style="green")
        lines.append(f"{article.title} ({article.source or 'unknown source'}, ")
        lines.append(f"{format_date(article.published_at)})\n")
    for dup in report.duplicates:
        lines.append("skipped ", style="yellow")
        lines.append(f"{dup.origin}: duplicate of “{dup.of.title}”\n")
    for failure in report.failures:
        lines.append("failed ", style="red")
        lines.append(f"{failure.origin}: {failure.reason}\n")
    if report.items == 1:
        lines.rstrip()
    else:
        lines.append(report.summary(), style="bold")
    return lines


def render_poll(result: PollResult) -> str:
    feed = result.feed.title or result.feed.url
    if result.error:
        return f"{feed}: {result.error}"
    if result.not_modified:
        return f"{feed}: not modified since the last poll"
    report = result.report
    return f"{feed}: {len(report.added)} new, {len(report.duplicates)} duplicates, " + (
        f"{len(report.failures)} failed"
    )


def render_briefing(briefing: Briefing) -> RenderableType:
    if not briefing.stories:
        return Text(briefing.empty_note, style="italic")
    text = Text()
    text.append(f"Briefing — {briefing.window.label}\n", style="bold underline")
    for number, story in enumerate(briefing.stories, start=1):
        text.append(f"\n{number}. {story.headline}", style="bold")
        if story.update:
            text.append("  (update)", style="yellow")
        if story.topic:
            text.append(f"  [{story.topic}]", style="cyan")
        text.append("\n")
        for quote in story.quotes:
            text.append(f"   “{quote.text}”\n")
        for article in story.sources:
            text.append(f"   — {article.source or 'unknown source'} · ", style="dim")
            text.append(f"{format_date(article.published_at)} · {article.title}", style="dim")
            if article.url:
                text.append(f" · {article.url}", style="dim underline")
            text.append("\n")
    return text
