"""Discord rendering: embed payloads (pure data), split to stay inside Discord's limits."""

from __future__ import annotations

from typing import Any

from bot.rendering.limits import fit, take_whole
from bot.rendering.terminal import format_date
from bot.services.briefing import Briefing, Story
from corpus.model import Article

MAX_CONTENT = 2000
MAX_TITLE = 256
MAX_DESCRIPTION = 4096
MAX_FOOTER = 2048
MAX_EMBEDS = 10
MAX_TOTAL = 6000

Embed = dict[str, Any]
Message = dict[str, Any]


def _source_line(article: Article) -> str:
    title = article.title.replace("]", ")").replace("[", "(")
    named = f"[{title}](<{article.url}>)" if article.url else title
    return f"{named} — {article.source or 'unknown source'} · {format_date(article.published_at)}"


def _embed_size(embed: Embed) -> int:
    return (
        len(embed.get("title", ""))
        + len(embed.get("description", ""))
        + len(embed.get("footer", {}).get("text", ""))
    )


def _story_embed(number: int, story: Story) -> Embed:
    quotes = [f"> {q.text}" for q in story.quotes]
    sources = [_source_line(a) for a in story.sources]
    # Sources first in the budget: a story without its links is worse than one with fewer quotes.
    source_text = "\n".join(take_whole(sources, MAX_DESCRIPTION // 2))
    quote_text = "\n".join(take_whole(quotes, MAX_DESCRIPTION - len(source_text) - 2))
    embed: Embed = {
        "title": fit(f"{number}. {story.headline}", MAX_TITLE),
        "description": f"{quote_text}\n\n{source_text}",
    }
    if story.sources and story.sources[0].url:
        embed["url"] = story.sources[0].url
    tags = [t for t in ("update" if story.update else "", story.topic or "") if t]
    if tags:
        embed["footer"] = {"text": fit(" · ".join(tags), MAX_FOOTER)}
    return embed


def briefing_messages(briefing: Briefing) -> list[Message]:
    """One or more message payloads of up to 10 embeds and 6,000 characters each."""
    heading = fit(f"**News briefing — {briefing.window.label}**", MAX_CONTENT)
    if not briefing.stories:
        return [{"content": fit(briefing.empty_note, MAX_CONTENT), "embeds": []}]
    messages: list[Message] = []
    embeds: list[Embed] = []
    size = 0
    for number, story in enumerate(briefing.stories, start=1):
        embed = _story_embed(number, story)
        if embeds and (len(embeds) == MAX_EMBEDS or size + _embed_size(embed) > MAX_TOTAL):
            messages.append({"content": heading if not messages else "", "embeds": embeds})
            embeds, size = [], 0
        embeds.append(embed)
        size += _embed_size(embed)
    messages.append({"content": heading if not messages else "", "embeds": embeds})
    return messages
