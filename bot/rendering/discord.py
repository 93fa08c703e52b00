"""Discord rendering: embed payloads (pure data), split to stay inside Discord's limits."""

from __future__ import annotations

import re
from typing import Any

import discord
from discord.utils import escape_markdown, escape_mentions

from bot.rendering.limits import fit, take_whole
from bot.rendering.markup import quoted
from bot.rendering.terminal import byline
from bot.replies import Help, Notice, Reply, format_date
from bot.services.ask import Answer, Quote
from bot.services.briefing import Briefing, Story
from corpus.model import Article, safe_url

MAX_CONTENT = 2000
MAX_TITLE = 256
MAX_DESCRIPTION = 4096
MAX_FOOTER = 2048
MAX_EMBEDS = 10
MAX_TOTAL = 6000
MAX_QUOTE_FOOTER = 256
MIN_PASSAGE = 300

Embed = dict[str, Any]
Message = dict[str, Any]

# discord.py's escape_markdown escapes a masked link "[text](url)" only whole, only when both
# halves reach it together (plain() splits the link off, quotes split at their bold), and leaves
# the markdown inside it live; angle brackets make channel, timestamp and emoji tags (<#…>,
# <t:…>, <:…:…>) that escape_mentions leaves alone. These four are escaped here, one by one.
_BRACKET = re.compile(r"([\[\]<>])")
# A link ends before trailing punctuation, so "(see https://x.org/a)." keeps its ")."
_URL = re.compile(r"(?<!<)(https?://[^\s<>]*[^\s<>.,;:!?)\]}'\"”’»])")


def escape(text: str) -> str:
    """Article text is quoted as written: Discord markdown and mentions in it take no effect."""
    return "\n".join(_escape_line(line) for line in text.split("\n"))


def _escape_line(line: str) -> str:
    parts = _BRACKET.split(line)  # the brackets land at the odd indexes
    return "".join("\\" + part if i % 2 else _escape_run(part) for i, part in enumerate(parts))


def _escape_run(text: str) -> str:
    """discord.py's escapes, given one line at a time with its indent kept out: over several
    lines its list rule escapes the blank line before "- item" instead of the dash, and an
    indented dash gets its backslash before the indent, where Discord shows it."""
    body = text.lstrip()
    return text[: len(text) - len(body)] + escape_mentions(escape_markdown(body))


def no_previews(text: str) -> str:
    """Links wrapped in <> get no preview card in plain-text messages."""
    return _URL.sub(r"<\1>", text)


def plain(text: str) -> str:
    """Text from outside (titles, questions, reasons) shown as written: markdown escaped, links
    kept intact but wrapped in <> so they get no preview."""
    parts = _URL.split(text)  # the captured links land at the odd indexes
    return "".join(f"<{part}>" if i % 2 else escape(part) for i, part in enumerate(parts))


def _block_quote(text: str) -> str:
    return "\n".join("> " + escape(line) for line in text.split("\n"))


def quote_description(quote: Quote, limit: int) -> str:
    return quoted(quote, limit, escape=escape, marker="**", prefix="> ")


def _quote_frame(quote: Quote) -> Embed:
    """Everything of a quote's embed but the passage: title, link and footer."""
    footer = byline(quote) + (" · outside the period asked about" if quote.outside_window else "")
    embed: Embed = {
        "title": fit(quote.title, MAX_TITLE),
        "footer": {"text": fit(footer, MAX_QUOTE_FOOTER)},
    }
    if url := safe_url(quote.url):
        embed["url"] = url
    return embed


def answer_message(answer: Answer, *, restate: bool = False) -> Message:
    """One embed per quote, all in one message inside Discord's per-message limits."""
    lines = [f"**Q:** {plain(answer.question)}"] if restate else []
    if answer.note:
        lines.append(f"*{plain(answer.note)}*" if answer.found else plain(answer.note))
    content = fit("\n".join(lines), MAX_CONTENT)
    frames = [_quote_frame(q) for q in answer.quotes[:MAX_EMBEDS]]
    # The 6,000 characters are shared out evenly; past a point, fewer quotes read better than
    # many stubs, so the weakest go.
    while len(frames) > 1 and _share(frames) < MIN_PASSAGE:
        frames.pop()
    if not frames:
        return {"content": content, "embeds": []}
    limit = max(min(MAX_DESCRIPTION, _share(frames)), 1)
    embeds = [
        frame | {"description": quote_description(quote, limit)}
        for frame, quote in zip(frames, answer.quotes, strict=False)
    ]
    return {"content": content, "embeds": embeds}


def _share(frames: list[Embed]) -> int:
    return (MAX_TOTAL - sum(_embed_size(frame) for frame in frames)) // len(frames)


def notice_message(notice: Notice) -> Message:
    text = ("⚠️ " if notice.problem else "") + notice.text
    return {"content": fit(plain(text), MAX_CONTENT), "embeds": []}


def help_message(help_: Help) -> Message:
    lines = [f"**{help_.intro}** Here is what I can do:"] if help_.intro else []
    for usage in help_.usages:
        call = f"/{usage.name} {usage.args}".strip()
        example = f" — e.g. `/{usage.name} {usage.example}`" if usage.example else ""
        lines.append(f"`{call}` {usage.summary}{example}")
    lines.append("Or mention me with a question.")
    return {"content": fit(no_previews("\n".join(lines)), MAX_CONTENT), "embeds": []}


def reply_messages(reply: Reply, *, restate: bool = False) -> list[Message]:
    """Any command's reply as message payloads (``content`` and ``embeds``)."""
    if isinstance(reply, Answer):
        return [answer_message(reply, restate=restate)]
    if isinstance(reply, Briefing):
        return briefing_messages(reply)
    if isinstance(reply, Help):
        return [help_message(reply)]
    return [notice_message(reply)]


def _source_line(article: Article) -> str:
    title = article.title.replace("]", ")").replace("[", "(")
    url = safe_url(article.url)
    named = f"[{escape(title)}](<{url}>)" if url else escape(title)
    source = escape(article.source or "unknown source")
    return f"{named} — {source} · {format_date(article.published_at)}"


def _embed_size(embed: Embed) -> int:
    """The characters Discord counts against a message's 6,000, as discord.py counts them."""
    return len(discord.Embed.from_dict(embed))


def _story_embed(number: int, story: Story) -> Embed:
    quotes = [_block_quote(q.text) for q in story.quotes]
    sources = [_source_line(a) for a in story.sources]
    # Sources first in the budget: a story without its links is worse than one with fewer quotes.
    source_text = "\n".join(take_whole(sources, MAX_DESCRIPTION // 2))
    quote_text = "\n".join(take_whole(quotes, MAX_DESCRIPTION - len(source_text) - 2))
    embed: Embed = {
        "title": fit(f"{number}. {story.headline}", MAX_TITLE),
        "description": f"{quote_text}\n\n{source_text}",
    }
    if story.sources and (url := safe_url(story.sources[0].url)):
        embed["url"] = url
    tags = [*story.tags, story.why or ""]
    if any(tags):
        embed["footer"] = {"text": fit(" · ".join(t for t in tags if t), MAX_FOOTER)}
    return embed


def briefing_messages(briefing: Briefing) -> list[Message]:
    """One or more message payloads of up to 10 embeds and 6,000 characters each."""
    heading = fit(f"**{briefing.title} — {briefing.window.label}**", MAX_CONTENT)
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
